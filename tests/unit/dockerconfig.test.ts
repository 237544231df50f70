import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CliError, UsageError } from '../../lib/errors';
import {
  buildDockerConfigJson,
  contentHash,
  decodeAuthField,
  defaultDockerConfigPath,
  goJsonStringify,
  inspectPullSecret,
  mergeAuths,
  normalizeRegistry,
  parsePullSecretData,
  readDockerConfigFile,
  redact,
  resolveCredentials,
  runCredentialHelper,
  serializeDockerConfig,
  type DockerConfigJson,
  type HelperRunner,
  type LocalDockerConfig,
} from '../../lib/dockerconfig';

const PASSWORD = 'S3cr3t-p@ss:word<&>';
const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');
const dockerconfigjson = (content: unknown) => ({ '.dockerconfigjson': b64(JSON.stringify(content)) });

/** Asserts that `fn` rejects/throws an error of `kind` whose message is one line without secrets. */
async function assertFails(
  fn: () => unknown,
  kind: typeof CliError,
  pattern: RegExp,
  secrets: string[] = [PASSWORD],
): Promise<Error> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof kind, `expected ${kind.name}, got ${String(caught)}`);
  const message = (caught as Error).message;
  assert.match(message, pattern);
  assert.doesNotMatch(message, /\n/, 'error messages are one line');
  for (const secret of secrets) assert.ok(!message.includes(secret), `message leaks a secret: ${message}`);
  return caught as Error;
}

function onPath(binary: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    try {
      accessSync(path.join(dir, binary), constants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}

let scratch: string;
before(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'pullsecret-dockerconfig-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('goJsonStringify', () => {
  test('escapes strings exactly like Go encoding/json', () => {
    assert.equal(goJsonStringify('<a>&"\\/'), '"\\u003ca\\u003e\\u0026\\"\\\\/"');
    assert.equal(goJsonStringify('\b\f\n\r\t\u0001\u001f\u007f'), '"\\b\\f\\n\\r\\t\\u0001\\u001f\u007f"');
    assert.equal(goJsonStringify('line\u2028para\u2029'), '"line\\u2028para\\u2029"');
    assert.equal(goJsonStringify('ü😀中'), '"ü😀中"');
    assert.equal(goJsonStringify('lone\ud800'), '"lone\ufffd"');
  });

  test('keeps key order, skips undefined members, and encodes nested values compactly', () => {
    assert.equal(
      goJsonStringify({ b: 1, a: [true, null, 'x'], skip: undefined, c: { '<k>': false } }),
      '{"b":1,"a":[true,null,"x"],"c":{"\\u003ck\\u003e":false}}',
    );
  });

  test('refuses values it cannot encode like Go', () => {
    assert.throws(() => goJsonStringify(1.5), TypeError);
    assert.throws(() => goJsonStringify(new Date()), TypeError);
    assert.throws(() => goJsonStringify(undefined), TypeError);
  });
});

describe('buildDockerConfigJson', () => {
  test('matches the documented kubectl output', () => {
    assert.equal(
      buildDockerConfigJson({ server: 'https://index.docker.io/v1/', username: 'u', password: 'p', email: 'e@x' }),
      '{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p","email":"e@x","auth":"dTpw"}}}',
    );
  });

  test('omits email when empty', () => {
    const expected = '{"auths":{"r.example":{"username":"u","password":"p","auth":"dTpw"}}}';
    assert.equal(buildDockerConfigJson({ server: 'r.example', username: 'u', password: 'p' }), expected);
    assert.equal(buildDockerConfigJson({ server: 'r.example', username: 'u', password: 'p', email: '' }), expected);
  });

  test('refuses empty server, username or password without echoing the password', async () => {
    await assertFails(() => buildDockerConfigJson({ server: '', username: 'u', password: PASSWORD }), UsageError, /server is empty/);
    await assertFails(() => buildDockerConfigJson({ server: 'r', username: '', password: PASSWORD }), UsageError, /username is empty/);
    await assertFails(() => buildDockerConfigJson({ server: 'r', username: 'u', password: '' }), UsageError, /password is empty/);
  });

  const kubectlMissing = !onPath('kubectl');
  test(
    'is byte-identical to `kubectl create secret docker-registry --dry-run=client`',
    { skip: kubectlMissing ? 'kubectl is not on PATH, cannot compare with the real kubectl' : false },
    async () => {
      const kubeconfig = path.join(scratch, 'empty-kubeconfig');
      await writeFile(kubeconfig, '');
      const cases = [
        { server: 'registry.example.com', username: 'alice', password: 'hunter2' },
        { server: 'registry.example.com:5000/team/a', username: 'bob', password: 'pa:ss:word', email: 'bob@example.com' },
        { server: 'https://index.docker.io/v1/', username: 'ünï©ødé-中文-😀', password: 'pässwörd-😀', email: 'é@例え.jp' },
        { server: 'r.example/<a>&b', username: '<script>&amp;', password: '<>&"\\\'`$(x)', email: 'a&b<c>@x' },
        { server: 'r.example', username: 'ctl\b\f\t\u0001\u007f', password: 'sep\u2028\u2029end', email: '' },
      ];
      for (const login of cases) {
        const args = ['create', 'secret', 'docker-registry', 'x', `--docker-server=${login.server}`,
          `--docker-username=${login.username}`, `--docker-password=${login.password}`, '--dry-run=client', '-o', 'json'];
        if (login.email) args.push(`--docker-email=${login.email}`);
        const run = spawnSync('kubectl', args, { env: { ...process.env, KUBECONFIG: kubeconfig }, encoding: 'utf8' });
        assert.equal(run.status, 0, `kubectl failed: ${run.stderr}`);
        const fromKubectl = Buffer.from(JSON.parse(run.stdout).data['.dockerconfigjson'], 'base64');
        const ours = Buffer.from(buildDockerConfigJson(login), 'utf8');
        assert.equal(ours.toString('utf8'), fromKubectl.toString('utf8'), `server ${login.server}`);
        assert.ok(ours.equals(fromKubectl), `bytes differ for server ${login.server}`);
      }
    },
  );
});

describe('serializeDockerConfig and contentHash', () => {
  test('sorts auths and header keys by UTF-8 bytes and omits empty fields', () => {
    const config: DockerConfigJson = {
      auths: {
        'z.example': { username: 'z', password: 'p', email: '' },
        '\uffff.example': { auth: 'YTpi' },
        '😀.example': { identitytoken: 't' },
        'a.example': { registrytoken: 'r', serveraddress: 'a.example' },
      },
      HttpHeaders: { 'X-B': '2', 'X-A': '1' },
    };
    assert.equal(
      serializeDockerConfig(config),
      '{"auths":{"a.example":{"serveraddress":"a.example","registrytoken":"r"},"z.example":{"username":"z","password":"p"},' +
        '"\uffff.example":{"auth":"YTpi"},"😀.example":{"identitytoken":"t"}},"HttpHeaders":{"X-A":"1","X-B":"2"}}',
    );
    assert.equal(serializeDockerConfig({ auths: {}, HttpHeaders: {} }), '{"auths":{}}');
  });

  test('contentHash is the sha256 of the exact bytes', () => {
    assert.equal(contentHash('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(contentHash(Buffer.from('abc')), contentHash('abc'));
    assert.notEqual(contentHash('{"auths":{}}'), contentHash('{"auths":{} }'));
  });
});

describe('parsePullSecretData', () => {
  test('reads a kubernetes.io/dockerconfigjson secret', () => {
    const content = buildDockerConfigJson({ server: 'r.example', username: 'u', password: PASSWORD });
    const parsed = parsePullSecretData('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': b64(content) });
    assert.deepEqual(parsed, {
      ok: true,
      config: { auths: { 'r.example': { username: 'u', password: PASSWORD, auth: b64(`u:${PASSWORD}`) } } },
      usesCredentialHelpers: false,
    });
  });

  test('reads a legacy kubernetes.io/dockercfg secret without the auths wrapper', () => {
    const parsed = parsePullSecretData('kubernetes.io/dockercfg', {
      '.dockercfg': b64(JSON.stringify({ 'https://old.example': { auth: b64('u:p'), email: 'e@x' } })),
    });
    assert.deepEqual(parsed, { ok: true, config: { auths: { 'https://old.example': { auth: b64('u:p'), email: 'e@x' } } }, usesCredentialHelpers: false });
  });

  test('keeps HttpHeaders, treats a missing auths as no entries, and handles a "__proto__" key', () => {
    const parsed = parsePullSecretData('kubernetes.io/dockerconfigjson', dockerconfigjson({ HttpHeaders: { 'X-A': '1' }, credsStore: 'desktop' }));
    assert.deepEqual(parsed, { ok: true, config: { auths: {}, HttpHeaders: { 'X-A': '1' } }, usesCredentialHelpers: true });
    const proto = parsePullSecretData('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': b64('{"auths":{"__proto__":{"username":"u","password":"p"}}}') });
    assert.ok(proto.ok);
    assert.deepEqual(Object.keys(proto.config.auths), ['__proto__']);
    assert.equal(Object.getPrototypeOf(proto.config.auths), Object.prototype);
  });

  const bad: Array<[string, string | undefined, Record<string, string> | undefined, RegExp]> = [
    ['wrong type', 'Opaque', { '.dockerconfigjson': b64('{}') }, /"Opaque" is not kubernetes.io\/dockerconfigjson/],
    ['missing key', 'kubernetes.io/dockerconfigjson', { '.dockercfg': b64('{}') }, /no \.dockerconfigjson key/],
    ['no data', 'kubernetes.io/dockercfg', undefined, /no \.dockercfg key/],
    ['bad base64', 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': 'not base64!' }, /not valid base64/],
    ['not UTF-8', 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': b64(Buffer.from([0x7b, 0xff, 0x7d])) }, /not UTF-8/],
    ['not JSON', 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': b64(`{"auths":{"r":{"password":"${PASSWORD}"}`) }, /not valid JSON/],
    ['not JSON (token)', 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': b64(`{"auths": ${PASSWORD}}`) }, /not valid JSON/],
    ['array', 'kubernetes.io/dockerconfigjson', dockerconfigjson([]), /an array, not a JSON object/],
    ['auths string', 'kubernetes.io/dockerconfigjson', dockerconfigjson({ auths: PASSWORD }), /auths is a string/],
    ['entry not object', 'kubernetes.io/dockerconfigjson', dockerconfigjson({ auths: { r: PASSWORD } }), /auths\["r"\] is a string, not an object/],
    ['field not string', 'kubernetes.io/dockerconfigjson', dockerconfigjson({ auths: { r: { password: 42 } } }), /auths\["r"\]\.password is a number/],
    ['auth without colon', 'kubernetes.io/dockerconfigjson', dockerconfigjson({ auths: { r: { auth: b64(PASSWORD.replace(/:/g, '')) } } }), /auths\["r"\]\.auth is not base64/],
    ['auth not base64', 'kubernetes.io/dockercfg', { '.dockercfg': b64(JSON.stringify({ r: { auth: PASSWORD } })) }, /\.dockercfg\["r"\]\.auth is not base64/],
    ['headers not strings', 'kubernetes.io/dockerconfigjson', dockerconfigjson({ auths: {}, HttpHeaders: { A: 1 } }), /HttpHeaders\["A"\] is a number/],
  ];
  for (const [name, type, data, reason] of bad) {
    test(`reports a problem for ${name} without secret values`, () => {
      const parsed = parsePullSecretData(type, data);
      assert.equal(parsed.ok, false);
      if (parsed.ok) return;
      assert.match(parsed.reason, reason);
      assert.ok(!parsed.reason.includes(PASSWORD) && !parsed.reason.includes('S3cr3t'), parsed.reason);
    });
  }
});

describe('inspectPullSecret', () => {
  const type = 'kubernetes.io/dockerconfigjson';

  test('ok: lists registries and usernames from username or decoded auth', () => {
    const result = inspectPullSecret(type, dockerconfigjson({
      auths: {
        'a.example': { username: 'alice', password: PASSWORD },
        'b.example': { auth: b64(`bob:${PASSWORD}`) },
        'c.example': { auth: b64(`alice:${PASSWORD}`) },
        'd.example': {},
      },
    }));
    assert.deepEqual(result, {
      status: 'ok',
      registries: ['a.example', 'b.example', 'c.example', 'd.example'],
      emptyRegistries: ['d.example'],
      usernames: ['alice', 'bob'],
    });
  });

  test('empty: an identity token or registry token alone (the kubelet reads neither)', () => {
    assert.equal(inspectPullSecret(type, dockerconfigjson({ auths: { r: { identitytoken: 't' } } })).status, 'empty');
    assert.equal(inspectPullSecret('kubernetes.io/dockercfg', { '.dockercfg': b64(JSON.stringify({ r: { registrytoken: 't' } })) }).status, 'empty');
  });

  test('empty: only credsStore (Docker Desktop), and entries without credentials', () => {
    const desktop = inspectPullSecret(type, dockerconfigjson({ auths: { 'https://index.docker.io/v1/': {} }, credsStore: 'desktop' }));
    assert.equal(desktop.status, 'empty');
    assert.deepEqual(desktop.registries, ['https://index.docker.io/v1/']);
    assert.deepEqual(desktop.emptyRegistries, ['https://index.docker.io/v1/']);
    assert.match(desktop.reason ?? '', /credsStore\/credHelpers are ignored by Kubernetes/);

    const noPassword = inspectPullSecret(type, dockerconfigjson({ auths: { r: { username: 'u', email: 'e@x' }, s: { auth: b64('u:') } } }));
    assert.equal(noPassword.status, 'empty');
    assert.deepEqual(noPassword.usernames, []);
    assert.match(noPassword.reason ?? '', /no registry entry has credentials/);

    const nothing = inspectPullSecret(type, dockerconfigjson({ credHelpers: { 'gcr.io': 'gcloud' } }));
    assert.equal(nothing.status, 'empty');
    assert.match(nothing.reason ?? '', /lists no registries/);
  });

  test('malformed: carries the reason and no secret', () => {
    const result = inspectPullSecret(type, dockerconfigjson({ auths: { r: { auth: b64(PASSWORD.replace(/:/g, '')) } } }));
    assert.equal(result.status, 'malformed');
    assert.deepEqual(result.registries, []);
    assert.ok(result.reason && !result.reason.includes(PASSWORD));
  });
});

describe('mergeAuths and redact', () => {
  test('added entries replace same keys, others are kept, inputs untouched, output deterministic', () => {
    const existing: DockerConfigJson = {
      auths: { 'b.example': { username: 'old', password: 'old' }, 'a.example': { username: 'a', password: 'a' } },
      HttpHeaders: { 'X-A': '1' },
    };
    const added: DockerConfigJson = { auths: { 'b.example': { username: 'new', password: 'new' }, 'c.example': { auth: 'YzpjCg==' } } };
    const snapshot = structuredClone(existing);
    const merged = mergeAuths(existing, added);
    assert.deepEqual(merged, {
      auths: {
        'b.example': { username: 'new', password: 'new' },
        'a.example': { username: 'a', password: 'a' },
        'c.example': { auth: 'YzpjCg==' },
      },
      HttpHeaders: { 'X-A': '1' },
    });
    assert.deepEqual(existing, snapshot);
    merged.auths['a.example']!.password = 'changed';
    assert.equal(existing.auths['a.example']!.password, 'a');
    assert.equal(
      serializeDockerConfig(mergeAuths(existing, added)),
      serializeDockerConfig(mergeAuths({ auths: { 'a.example': { username: 'a', password: 'a' } }, HttpHeaders: { 'X-A': '1' } },
        mergeAuths({ auths: { 'b.example': { username: 'old', password: 'old' } } }, added))),
    );
  });

  test('redact replaces every secret with REDACTED and keeps the rest', () => {
    const config = {
      auths: {
        r: { username: 'u', password: PASSWORD, auth: b64(`u:${PASSWORD}`), email: 'e@x', identitytoken: PASSWORD, registrytoken: PASSWORD, extra: PASSWORD },
        s: { username: 'v', password: '' },
      },
      HttpHeaders: { Authorization: `Bearer ${PASSWORD}` },
    } as DockerConfigJson;
    const redacted = redact(config);
    assert.deepEqual(redacted, {
      auths: {
        r: { username: 'u', password: 'REDACTED', auth: 'REDACTED', email: 'e@x', identitytoken: 'REDACTED', registrytoken: 'REDACTED' },
        s: { username: 'v', password: '' },
      },
      HttpHeaders: { Authorization: 'REDACTED' },
    });
    const printed = JSON.stringify(redacted);
    assert.ok(!printed.includes(PASSWORD) && !printed.includes(b64(`u:${PASSWORD}`)));
    assert.equal(config.auths.r!.password, PASSWORD, 'the input is not modified');
  });
});

describe('registry names', () => {
  test('normalizeRegistry folds schemes, /v1/ /v2/ prefixes and Docker Hub aliases', () => {
    for (const key of ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'DOCKER.IO', 'registry-1.docker.io', 'http://docker.io/v2']) {
      assert.equal(normalizeRegistry(key), 'docker.io', key);
    }
    assert.equal(normalizeRegistry('https://Registry.Example:5000/v2/team/'), 'registry.example:5000/team');
    assert.equal(normalizeRegistry('ghcr.io/Org'), 'ghcr.io/Org');
  });

  test('decodeAuthField splits at the first colon and rejects junk', () => {
    assert.deepEqual(decodeAuthField(b64('u:p:q')), { username: 'u', password: 'p:q' });
    assert.deepEqual(decodeAuthField(b64('u:p') + '\n'), { username: 'u', password: 'p' });
    assert.equal(decodeAuthField(b64('nocolon')), undefined);
    assert.equal(decodeAuthField('%%%'), undefined);
  });

  test('defaultDockerConfigPath honours DOCKER_CONFIG', () => {
    assert.equal(defaultDockerConfigPath({ DOCKER_CONFIG: '/etc/dc' }, '/home/u'), path.join('/etc/dc', 'config.json'));
    assert.equal(defaultDockerConfigPath({ DOCKER_CONFIG: '' }, '/home/u'), path.join('/home/u', '.docker', 'config.json'));
    assert.equal(defaultDockerConfigPath({}, '/home/u'), path.join('/home/u', '.docker', 'config.json'));
  });
});

describe('readDockerConfigFile', () => {
  const write = async (name: string, content: string | Buffer) => {
    const file = path.join(scratch, name);
    await writeFile(file, content);
    return file;
  };

  test('reads docker config.json and podman auth.json, keeping credsStore and credHelpers', async () => {
    const docker = await write('config.json', '\ufeff' + JSON.stringify({
      auths: { 'https://index.docker.io/v1/': {}, 'r.example': { auth: b64('u:p') } },
      credsStore: 'desktop',
      credHelpers: { 'gcr.io': 'gcloud' },
      currentContext: 'default',
      plugins: {},
    }));
    assert.deepEqual(await readDockerConfigFile(docker), {
      auths: { 'https://index.docker.io/v1/': {}, 'r.example': { auth: b64('u:p') } },
      credsStore: 'desktop',
      credHelpers: { 'gcr.io': 'gcloud' },
    });
    const podman = await write('auth.json', JSON.stringify({ auths: { 'quay.io': { auth: b64('q:p') } } }, null, '\t'));
    assert.deepEqual(await readDockerConfigFile(podman), { auths: { 'quay.io': { auth: b64('q:p') } } });
    assert.deepEqual(await readDockerConfigFile(await write('bare.json', '{}')), { auths: {} });
  });

  test('one-line usage errors for missing, directory, not JSON, wrong shape, too large and non-UTF-8', async () => {
    await assertFails(() => readDockerConfigFile(path.join(scratch, 'nope.json')), UsageError, /nope\.json does not exist; run `docker login/);
    await assertFails(() => readDockerConfigFile(path.join(scratch, 'config.json', 'x')), UsageError, /does not exist/);
    await mkdir(path.join(scratch, 'dir'), { recursive: true });
    await assertFails(() => readDockerConfigFile(path.join(scratch, 'dir')), UsageError, /is a directory/);

    const broken = await write('broken.json', `{\n  "auths": {"r": {"password": "${PASSWORD}"}\n`);
    await assertFails(() => readDockerConfigFile(broken), UsageError, /broken\.json is not valid JSON at line 3, column 1/);
    const token = await write('token.json', `{"auths": ${PASSWORD}}`);
    await assertFails(() => readDockerConfigFile(token), UsageError, /token\.json is not valid JSON; fix the file/);

    await assertFails(async () => readDockerConfigFile(await write('list.json', '[]')), UsageError, /wrong shape: the top level is an array/);
    await assertFails(async () => readDockerConfigFile(await write('store.json', '{"credsStore": 7}')), UsageError, /credsStore is a number/);
    await assertFails(
      async () => readDockerConfigFile(await write('entry.json', JSON.stringify({ auths: { r: { password: [PASSWORD] } } }))),
      UsageError,
      /auths\["r"\]\.password is an array, not a string/,
    );
    await assertFails(async () => readDockerConfigFile(await write('helpers.json', '{"credHelpers": {"gcr.io": true}}')), UsageError, /credHelpers\["gcr.io"\] is a boolean/);

    const big = await write('big.json', Buffer.alloc(1024 * 1024 + 1, 0x20));
    await assertFails(() => readDockerConfigFile(big), UsageError, /big\.json is larger than 1 MiB/);
    await assertFails(async () => readDockerConfigFile(await write('small.json', '{"auths":{}}'), { maxBytes: 5 }), UsageError, /larger than 5 bytes/);
    await assertFails(async () => readDockerConfigFile(await write('latin1.json', Buffer.from('{"auths":{"r":{"username":"\xe9"}}}', 'latin1'))), UsageError, /is not UTF-8 text/);
  });

  test('unreadable file', { skip: process.getuid?.() === 0 ? 'running as root, which can read any file' : false }, async () => {
    const file = await write('locked.json', '{}');
    await chmod(file, 0o000);
    await assertFails(() => readDockerConfigFile(file), UsageError, /permission denied/);
  });
});

describe('resolveCredentials (injected helper)', () => {
  const calls: Array<[string, string]> = [];
  const fakeHelper: HelperRunner = async (helper, serverUrl) => {
    calls.push([helper, serverUrl]);
    if (serverUrl === 'token.example') return { username: '<token>', secret: 'refresh' };
    return { username: `${helper}-user`, secret: `${helper}-secret` };
  };
  const config: LocalDockerConfig = {
    auths: {
      'https://index.docker.io/v1/': {},
      'inline.example': { auth: b64(`alice:${PASSWORD}`), email: 'a@x' },
      'fields.example': { username: 'bob', password: PASSWORD },
      'gcr.io': {},
      'token.example': {},
    },
    credsStore: 'desktop',
    credHelpers: { 'gcr.io': 'gcloud', 'us-docker.pkg.dev': 'gcloud', 'https://gcr.io': 'ignored-duplicate' },
  };

  test('a helper that holds an identity token is an error: the kubelet cannot use one', async () => {
    await assertFails(
      () => resolveCredentials(config, { registries: ['token.example'], runHelper: fakeHelper }),
      CliError,
      /token\.example.*identity token, which the kubelet cannot use/,
    );
  });

  test('all registries: inline first, credHelpers over credsStore, credHelpers-only keys', async () => {
    calls.length = 0;
    const withoutToken: LocalDockerConfig = { ...config, auths: { ...config.auths } };
    delete withoutToken.auths['token.example'];
    const resolved = await resolveCredentials(withoutToken, { runHelper: fakeHelper });
    assert.deepEqual(resolved, {
      auths: {
        'https://index.docker.io/v1/': { username: 'desktop-user', password: 'desktop-secret', auth: b64('desktop-user:desktop-secret') },
        'inline.example': { username: 'alice', password: PASSWORD, auth: b64(`alice:${PASSWORD}`), email: 'a@x' },
        'fields.example': { username: 'bob', password: PASSWORD, auth: b64(`bob:${PASSWORD}`) },
        'gcr.io': { username: 'gcloud-user', password: 'gcloud-secret', auth: b64('gcloud-user:gcloud-secret') },
        'us-docker.pkg.dev': { username: 'gcloud-user', password: 'gcloud-secret', auth: b64('gcloud-user:gcloud-secret') },
      },
    });
    assert.deepEqual(calls, [
      ['desktop', 'https://index.docker.io/v1/'],
      ['gcloud', 'gcr.io'],
      ['gcloud', 'us-docker.pkg.dev'],
    ]);
  });

  test('--registry selections match normalised hosts and paths', async () => {
    calls.length = 0;
    for (const selection of ['docker.io', 'index.docker.io', 'https://index.docker.io/v1/']) {
      const resolved = await resolveCredentials(config, { registries: [selection], runHelper: fakeHelper });
      assert.deepEqual(Object.keys(resolved.auths), ['https://index.docker.io/v1/'], selection);
    }
    const two = await resolveCredentials(config, { registries: ['https://FIELDS.example/', 'inline.example', 'fields.example'], runHelper: fakeHelper });
    assert.deepEqual(Object.keys(two.auths), ['fields.example', 'inline.example']);

    const scoped: LocalDockerConfig = { auths: { 'r.example/team-a': { auth: b64('a:1') }, 'r.example/team-b': { auth: b64('b:2') } } };
    assert.deepEqual(Object.keys((await resolveCredentials(scoped, { registries: ['r.example'] })).auths), ['r.example/team-a', 'r.example/team-b']);
    assert.deepEqual(Object.keys((await resolveCredentials(scoped, { registries: ['r.example/team-b/'] })).auths), ['r.example/team-b']);
  });

  test('errors: unknown registry lists what is there, no credentials, bad auth, empty config', async () => {
    await assertFails(
      () => resolveCredentials(config, { registries: ['quay.io'], runHelper: fakeHelper }),
      UsageError,
      /registry quay\.io is not in the docker config \(it has: https:\/\/index\.docker\.io\/v1\/, inline\.example, fields\.example, gcr\.io, token\.example, us-docker\.pkg\.dev\)/,
    );
    await assertFails(
      () => resolveCredentials({ auths: { 'r.example': { username: 'u' }, 'ok.example': { username: 'u', password: PASSWORD } } }),
      UsageError,
      /no credentials for registry r\.example .*run `docker login r\.example`/,
    );
    await assertFails(
      () => resolveCredentials({ auths: { 'r.example': { auth: b64(PASSWORD.replace(/:/g, '')) } }, credsStore: 'desktop' }, { runHelper: fakeHelper }),
      UsageError,
      /auth for registry r\.example is not base64/,
    );
    await assertFails(() => resolveCredentials({ auths: {} }), UsageError, /lists no registries/);
    await assertFails(() => resolveCredentials({ auths: {} }, { registries: ['r.example'] }), UsageError, /it has no registries/);
    await assertFails(
      () => resolveCredentials({ auths: { r: {} }, credsStore: 'x' }, { runHelper: async () => ({ username: '', secret: PASSWORD }) }),
      CliError,
      /returned no username/,
    );
  });
});

describe('runCredentialHelper (fake docker-credential-* on PATH)', () => {
  let binDir: string;
  let env: NodeJS.ProcessEnv;
  const HELPER_SCRIPT = `#!/bin/sh
[ "$1" = get ] || { echo "unexpected arguments: $*" >&2; exit 3; }
server=$(cat)
case "$server" in
  ok.example|other.example) printf '{"ServerURL":"%s","Username":"%s-user","Secret":"%s"}\\n' "$server" "$(basename "$0")" "$FAKE_SECRET" ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"<token>","Secret":"%s"}' "$server" "$FAKE_SECRET" ;;
  fail.example) printf 'keychain is locked\\nsecond line\\n' >&2; exit 4 ;;
  notfound.example) echo "credentials not found in native keychain"; exit 1 ;;
  hang.example) echo $$ > "$FAKE_PID_FILE"; exec sleep 30 ;;
  garbage.example) echo "this is not json $FAKE_SECRET" ;;
  empty.example) echo '{"ServerURL":"empty.example","Username":"u","Secret":""}' ;;
  big.example) head -c 200000 /dev/zero | tr '\\0' a ;;
  *) echo "unknown server $server" >&2; exit 5 ;;
esac
`;

  before(async () => {
    binDir = path.join(scratch, 'bin');
    await mkdir(binDir, { recursive: true });
    for (const name of ['docker-credential-fakestore', 'docker-credential-fakehelper']) {
      await writeFile(path.join(binDir, name), HELPER_SCRIPT, { mode: 0o755 });
    }
    await writeFile(path.join(binDir, 'docker-credential-noexec'), HELPER_SCRIPT, { mode: 0o644 });
    env = { ...process.env, PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ''}`, FAKE_SECRET: PASSWORD, FAKE_PID_FILE: path.join(scratch, 'hang.pid') };
  });

  const run = (helper: string, server: string, timeoutMs = 5000) => runCredentialHelper(helper, server, { env, timeoutMs });

  test('returns the helper credentials, reading the server from stdin', async () => {
    assert.deepEqual(await run('fakestore', 'ok.example'), { username: 'docker-credential-fakestore-user', secret: PASSWORD });
    assert.deepEqual(await run('fakestore', 'https://index.docker.io/v1/'), { username: '<token>', secret: PASSWORD });
  });

  test('resolveCredentials with the real runner: credHelpers wins over credsStore', async () => {
    const resolved = await resolveCredentials(
      { auths: { 'ok.example': {}, 'other.example': {} }, credsStore: 'fakestore', credHelpers: { 'ok.example': 'fakehelper' } },
      { runHelper: (helper, server) => runCredentialHelper(helper, server, { env }) },
    );
    assert.deepEqual(resolved, {
      auths: {
        'ok.example': { username: 'docker-credential-fakehelper-user', password: PASSWORD, auth: b64(`docker-credential-fakehelper-user:${PASSWORD}`) },
        'other.example': { username: 'docker-credential-fakestore-user', password: PASSWORD, auth: b64(`docker-credential-fakestore-user:${PASSWORD}`) },
      },
    });
  });

  test('helper not on PATH names the binary and the registry', async () => {
    await assertFails(() => run('pullsecret-test-absent', 'ok.example'), CliError, /docker-credential-pullsecret-test-absent \(for registry ok\.example\) was not found on PATH/);
    await assertFails(
      () => resolveCredentials({ auths: { 'ok.example': {} }, credsStore: 'pullsecret-test-absent' }, { runHelper: (h, s) => runCredentialHelper(h, s, { env }) }),
      CliError,
      /not found on PATH/,
    );
  });

  test('not executable, invalid helper names', async () => {
    await assertFails(() => run('noexec', 'ok.example'), CliError, /is not executable/);
    await assertFails(() => run('../../bin/sh', 'ok.example'), UsageError, /credential helper name "..\/..\/bin\/sh" .* is not valid/);
  });

  test('non-zero exit: code and first line of stderr, or of stdout for docker helpers', async () => {
    const error = await assertFails(() => run('fakestore', 'fail.example'), CliError, /exited with code 4: keychain is locked$/);
    assert.doesNotMatch(error.message, /second line/);
    await assertFails(() => run('fakestore', 'notfound.example'), CliError, /has no credentials for it; run `docker login notfound\.example`/);
  });

  test('garbage, empty secret and oversized output', async () => {
    const garbage = await assertFails(() => run('fakestore', 'garbage.example'), CliError, /printed output that is not \{"ServerURL","Username","Secret"\} JSON/);
    assert.doesNotMatch(garbage.message, /this is not json/);
    await assertFails(() => run('fakestore', 'empty.example'), CliError, /returned an empty secret/);
    await assertFails(() => run('fakestore', 'big.example'), CliError, /printed more than 65536 bytes/);
  });

  test('a hanging helper is killed after the timeout', async () => {
    const started = Date.now();
    await assertFails(() => run('fakestore', 'hang.example', 300), CliError, /did not answer within 300 ms/);
    assert.ok(Date.now() - started < 3000, 'the timeout was honoured');
    const pid = Number(await readFile(path.join(scratch, 'hang.pid'), 'utf8'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the helper process was killed');
  });
});
