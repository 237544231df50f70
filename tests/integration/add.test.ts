// `kubectl pullsecret add` against the real local control plane: every test in its own
// namespace, outcomes asserted by reading the objects back as the admin.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { loadYaml, type V1Secret, type V1ServiceAccount } from '@kubernetes/client-node';
import {
  admin,
  assertFailureReport,
  assertOneLineError,
  createDockerConfigSecret,
  createNamespace,
  createPod,
  createServiceAccount,
  dockerConfigJsonBytes,
  dockerConfigJsonOf,
  fakeCredentialHelper,
  grantRestricted,
  kubectlDockerConfigJson,
  pullSecretNames,
  readSecret,
  readServiceAccount,
  restrictedKubeconfig,
  run,
  setPullSecrets,
  tempDir,
  uniqueNamespaceName,
  waitFor,
  withBareNamespace,
  withNamespace,
  type KubectlLogin,
  holdTerminating,
  releaseTerminating,
  assertOk,
} from './harness';

const scratch = tempDir();
after(() => scratch.cleanup());

const MANAGED_BY = 'app.kubernetes.io/managed-by';
const HASH_ANNOTATION = 'kubectl-pullsecret/content-sha256';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** `add NAME` with a login: --server/--username/--email flags, the password on stdin. */
function addLogin(name: string, namespace: string | undefined, login: KubectlLogin, extra: string[] = [], env?: Record<string, string>) {
  const args = ['add', name, ...(namespace ? ['-n', namespace] : [])];
  if (login.server !== undefined) args.push('--server', login.server);
  args.push('--username', login.username);
  if (login.email !== undefined) args.push('--email', login.email);
  args.push('--password-stdin', ...extra);
  return run(args, { stdin: `${login.password}\n`, ...(env ? { env } : {}) });
}

/** Asserts that neither the password nor the `auth` value derived from it is anywhere in text. */
function assertNoCredential(text: string, login: { username: string; password: string }, what: string) {
  assert.ok(!text.includes(login.password), `${what} contains the password:\n${text}`);
  const auth = b64(`${login.username}:${login.password}`);
  assert.ok(!text.includes(auth), `${what} contains the auth value:\n${text}`);
  assert.ok(!text.includes(b64(login.password)), `${what} contains the base64 password:\n${text}`);
}


function outputLines(stdout: string): string[] {
  return stdout.trimEnd().split('\n').filter((line) => line !== '');
}

async function secretNames(namespace: string): Promise<string[]> {
  const list = await admin.core.listNamespacedSecret({ namespace });
  return list.items.map((s) => s.metadata!.name!).sort();
}

const parseAuths = (secret: V1Secret | undefined) =>
  (JSON.parse(dockerConfigJsonOf(secret)) as { auths: Record<string, Record<string, string>> }).auths;

describe('add', () => {
  test('the secret content is byte-identical to kubectl create secret docker-registry', async () => {
    const cases: (KubectlLogin & { label: string })[] = [
      { label: 'plain', server: 'registry.example', username: 'ci', password: 'FAKE-plain-pw-1' },
      { label: 'email', server: 'registry.example', username: 'ci', password: 'FAKE-pw-2', email: 'ci+bot@example.com' },
      { label: 'port-path', server: 'registry.example:5000/team-a/app', username: 'deployer', password: 'FAKE-pw-3' },
      { label: 'https-port-path', server: 'https://registry.example:5443/v2/', username: 'deployer', password: 'FAKE-pw-4' },
      { label: 'special', server: 'registry.example', username: 'ci-ümlaut', password: 'FAKE-ünï©ødé✓🔑<b>&amp;"q"\\:colon:' },
      { label: 'default-server', username: 'hubuser', password: 'FAKE-hub-pw-5', email: 'hub@example.com' },
    ];
    await withNamespace('add-bytes', async (namespace) => {
      for (const login of cases) {
        const name = `bytes-${login.label}`;
        const result = await addLogin(name, namespace, login, ['--no-attach']);
        assertOk(result, `${login.label}: add`);
        assertNoCredential(result.stdout + result.stderr, login, `${login.label}: output`);
        const expected = await kubectlDockerConfigJson(login);
        const actual = dockerConfigJsonBytes(await readSecret(namespace, name));
        assert.equal(actual.toString('utf8'), expected.toString('utf8'), `${login.label}: content differs from kubectl's`);
        assert.ok(actual.equals(expected), `${login.label}: bytes differ from kubectl's`);
      }
      // Without --server the entry is kubectl's default, Docker Hub's v1 index.
      const hub = parseAuths(await readSecret(namespace, 'bytes-default-server'));
      assert.deepEqual(Object.keys(hub), ['https://index.docker.io/v1/']);
    });
  });

  test('the secret is a dockerconfigjson secret marked as ours, with a content hash and no credential outside its data', async () => {
    const login = { server: 'registry.example', username: 'ci', password: 'FAKE-marked-pw' };
    await withNamespace('add-marks', async (namespace) => {
      const result = await addLogin('regcred', namespace, login);
      assertOk(result);
      assert.deepEqual(outputLines(result.stdout), [
        `secret/regcred created: registries registry.example (namespace ${namespace})`,
        `serviceaccount/default attached regcred (namespace ${namespace})`,
        'summary: 1 created, 1 attached',
      ]);
      assertNoCredential(result.stdout + result.stderr, login, 'output');
      const secret = (await readSecret(namespace, 'regcred'))!;
      assert.equal(secret.type, 'kubernetes.io/dockerconfigjson');
      assert.deepEqual(Object.keys(secret.data ?? {}), ['.dockerconfigjson']);
      assert.equal(secret.metadata?.labels?.[MANAGED_BY], 'kubectl-pullsecret');
      assert.equal(secret.metadata?.annotations?.[HASH_ANNOTATION], sha256(dockerConfigJsonBytes(secret)));
      const { managedFields: _managedFields, ...metadata } = secret.metadata!;
      assertNoCredential(JSON.stringify(metadata), login, 'secret metadata');
      assert.deepEqual(await pullSecretNames(namespace, 'default'), ['regcred']);
    });
  });

  test('the same add twice writes nothing the second time and says unchanged', async () => {
    const login = { server: 'registry.example', username: 'ci', password: 'FAKE-idem-pw' };
    await withNamespace('add-idem', async (namespace) => {
      assertOk(await addLogin('regcred', namespace, login), 'first add');
      const secretBefore = (await readSecret(namespace, 'regcred'))!;
      const saBefore = (await readServiceAccount(namespace, 'default'))!;
      const again = await addLogin('regcred', namespace, login);
      assertOk(again, 'second add');
      assert.match(again.stdout, new RegExp(`^secret/regcred unchanged.*\\(namespace ${namespace}\\)$`, 'm'));
      assert.match(again.stdout, new RegExp(`^serviceaccount/default unchanged: already references regcred \\(namespace ${namespace}\\)$`, 'm'));
      assert.match(again.stdout, /^summary: 2 unchanged$/m);
      assert.doesNotMatch(again.stdout, /created|updated|attached/);
      const secretAfter = (await readSecret(namespace, 'regcred'))!;
      const saAfter = (await readServiceAccount(namespace, 'default'))!;
      assert.equal(secretAfter.metadata?.resourceVersion, secretBefore.metadata?.resourceVersion, 'the secret was written again');
      assert.equal(saAfter.metadata?.resourceVersion, saBefore.metadata?.resourceVersion, 'the ServiceAccount was written again');
    });
  });

  test('pods created after add get the secret; pods that existed before are named in a warning', async () => {
    const login = { server: 'registry.example', username: 'ci', password: 'FAKE-pod-pw' };
    await withNamespace('add-pods', async (namespace) => {
      await createPod(namespace, 'before');
      const result = await addLogin('regcred', namespace, login);
      assertOk(result);
      assert.match(result.stderr, new RegExp(`^warning: .*${namespace}/before`, 'm'));
      assertNoCredential(result.stdout + result.stderr, login, 'output');
      assert.deepEqual(await pullSecretNames(namespace, 'default'), ['regcred']);
      // The ServiceAccount admission plugin reads ServiceAccounts from an informer cache, which
      // may lag the write by a moment: a pod created in that moment is retried with a new name.
      let created = '';
      await waitFor('a new pod to be admitted with the ServiceAccount\'s pull secrets', async () => {
        created = `after-${Date.now()}`;
        const pod = await createPod(namespace, created, { image: 'registry.example/app:1' });
        return (pod.spec?.imagePullSecrets ?? []).length > 0;
      }, 10_000);
      const readBack = await admin.core.readNamespacedPod({ name: created, namespace });
      assert.deepEqual(readBack.spec?.imagePullSecrets?.map((ref) => ref.name), ['regcred']);
      const before = await admin.core.readNamespacedPod({ name: 'before', namespace });
      assert.equal(before.spec?.imagePullSecrets, undefined, 'a pod never gets pull secrets after its creation');
    });
  });

  test('attaching keeps every other imagePullSecrets entry in order and adds no duplicate', async () => {
    const login = { server: 'registry.example', username: 'ci', password: 'FAKE-keep-pw' };
    await withNamespace('add-keep', async (namespace) => {
      await setPullSecrets(namespace, 'default', ['other', 'builder-dockercfg-abc']);
      await createServiceAccount(namespace, 'bare');
      assert.equal((await readServiceAccount(namespace, 'bare'))!.imagePullSecrets, undefined);
      assertOk(await addLogin('regcred', namespace, login, ['--service-account', 'default', '--service-account', 'bare']));
      assert.deepEqual(await pullSecretNames(namespace, 'default'), ['other', 'builder-dockercfg-abc', 'regcred']);
      assert.deepEqual(await pullSecretNames(namespace, 'bare'), ['regcred']);
      // Again, and with the default selection: still exactly once.
      assertOk(await addLogin('regcred', namespace, login, ['--service-account', 'default', '--service-account', 'bare']));
      assertOk(await addLogin('regcred', namespace, login));
      assert.deepEqual(await pullSecretNames(namespace, 'default'), ['other', 'builder-dockercfg-abc', 'regcred']);
      assert.deepEqual(await pullSecretNames(namespace, 'bare'), ['regcred']);
    });
  });

  test('--service-account (repeatable), --all-service-accounts and --no-attach choose what is attached', async () => {
    const login = { server: 'registry.example', username: 'ci', password: 'FAKE-select-pw' };
    await withNamespace('add-select', async (namespace) => {
      for (const sa of ['sa1', 'sa2', 'sa3']) await createServiceAccount(namespace, sa);
      const named = await addLogin('named', namespace, login, ['--service-account', 'sa1', '--service-account', 'sa2']);
      assertOk(named);
      assert.match(named.stdout, new RegExp(`^serviceaccount/sa1 attached named \\(namespace ${namespace}\\)$`, 'm'));
      assert.match(named.stdout, new RegExp(`^serviceaccount/sa2 attached named \\(namespace ${namespace}\\)$`, 'm'));
      assert.deepEqual(await pullSecretNames(namespace, 'sa1'), ['named']);
      assert.deepEqual(await pullSecretNames(namespace, 'sa2'), ['named']);
      assert.deepEqual(await pullSecretNames(namespace, 'sa3'), []);
      assert.deepEqual(await pullSecretNames(namespace, 'default'), []);

      assertOk(await addLogin('everywhere', namespace, login, ['--all-service-accounts']));
      for (const sa of ['default', 'sa1', 'sa2', 'sa3']) {
        assert.ok((await pullSecretNames(namespace, sa)).includes('everywhere'), `${sa} lacks everywhere`);
      }
      assert.deepEqual(await pullSecretNames(namespace, 'sa1'), ['named', 'everywhere']);

      const detached = await addLogin('secret-only', namespace, login, ['--no-attach']);
      assertOk(detached);
      assert.ok(await readSecret(namespace, 'secret-only'), 'the secret is written with --no-attach');
      assert.doesNotMatch(detached.stdout, /serviceaccount\//);
      for (const sa of ['default', 'sa1', 'sa2', 'sa3']) {
        assert.ok(!(await pullSecretNames(namespace, sa)).includes('secret-only'), `${sa} got secret-only despite --no-attach`);
      }
    });
  });

  test('20 concurrent adds of different secrets onto one ServiceAccount lose no entry and add no duplicate', async () => {
    await withNamespace('add-race', async (namespace) => {
      await setPullSecrets(namespace, 'default', ['pre-existing']);
      const names = Array.from({ length: 20 }, (_, i) => `race-${String(i).padStart(2, '0')}`);
      const results = await Promise.all(
        names.map((name, i) => addLogin(name, namespace, { server: `r${i}.registry.example`, username: 'ci', password: `FAKE-race-pw-${i}` })),
      );
      const entries = await pullSecretNames(namespace, 'default');
      const failed = results.flatMap((result, i) => (result.code === 0 ? [] : [`${names[i]} (exit ${result.code}):\n${result.stdout}${result.stderr}`]));
      assert.equal(failed.length, 0, `${failed.length} of 20 concurrent adds failed; default now references [${entries.join(', ')}]; first failure: ${failed[0]}`);
      assert.equal(entries[0], 'pre-existing', 'the pre-existing entry keeps its place');
      assert.deepEqual([...entries].sort(), ['pre-existing', ...names].sort());
      assert.equal(entries.length, 21, `duplicates: ${entries.join(',')}`);
      for (const name of names) assert.ok(await readSecret(namespace, name), `secret ${name} missing`);
    });
  });

  test('a second registry is merged into our secret; --replace replaces the whole content', async () => {
    const first = { server: 'one.registry.example', username: 'ci', password: 'FAKE-merge-pw-1' };
    const second = { server: 'two.registry.example', username: 'bot', password: 'FAKE-merge-pw-2' };
    const third = { server: 'three.registry.example', username: 'ops', password: 'FAKE-merge-pw-3' };
    await withNamespace('add-merge', async (namespace) => {
      assertOk(await addLogin('regcred', namespace, first));
      const merged = await addLogin('regcred', namespace, second);
      assertOk(merged);
      assert.match(merged.stdout, new RegExp(`^secret/regcred updated: .*one\\.registry\\.example.*\\(namespace ${namespace}\\)$`, 'm'));
      assert.match(merged.stdout, /two\.registry\.example/);
      let secret = await readSecret(namespace, 'regcred');
      let auths = parseAuths(secret);
      assert.deepEqual(Object.keys(auths).sort(), ['one.registry.example', 'two.registry.example']);
      assert.equal(auths['one.registry.example']!.password, first.password);
      assert.equal(auths['one.registry.example']!.auth, b64(`${first.username}:${first.password}`));
      assert.equal(auths['two.registry.example']!.username, second.username);
      assert.equal(auths['two.registry.example']!.auth, b64(`${second.username}:${second.password}`));
      assert.equal(secret!.metadata?.annotations?.[HASH_ANNOTATION], sha256(dockerConfigJsonBytes(secret)));
      assert.deepEqual(await pullSecretNames(namespace, 'default'), ['regcred']);

      const replaced = await addLogin('regcred', namespace, third, ['--replace']);
      assertOk(replaced);
      secret = await readSecret(namespace, 'regcred');
      auths = parseAuths(secret);
      assert.deepEqual(Object.keys(auths), ['three.registry.example']);
      assert.ok(dockerConfigJsonBytes(secret).equals(await kubectlDockerConfigJson(third)), 'replaced content is kubectl\'s for the new login');
      assert.equal(secret!.metadata?.annotations?.[HASH_ANNOTATION], sha256(dockerConfigJsonBytes(secret)));
      for (const result of [merged, replaced]) assertNoCredential(result.stdout + result.stderr, first, 'output');
    });
  });

  test('a same-named Opaque secret we do not manage is refused without --force and converted with it', async () => {
    const login = { server: 'registry.example', username: 'ci', password: 'FAKE-force-pw' };
    await withNamespace('add-foreign-opaque', async (namespace) => {
      await admin.core.createNamespacedSecret({ namespace, body: { metadata: { name: 'regcred' }, type: 'Opaque', data: { note: b64('keep me') } } });
      const before = (await readSecret(namespace, 'regcred'))!;
      const refused = await addLogin('regcred', namespace, login);
      assert.equal(refused.code, 1, refused.stdout + refused.stderr);
      assert.match(refused.stdout + refused.stderr, /secret\/regcred failed: .*not managed by kubectl-pullsecret.*--force/);
      assert.match(refused.stderr, /^error: /m);
      assert.doesNotMatch(refused.stderr, /\n\s+at /);
      const untouched = (await readSecret(namespace, 'regcred'))!;
      assert.equal(untouched.metadata?.resourceVersion, before.metadata?.resourceVersion);
      assert.equal(untouched.type, 'Opaque');
      assert.deepEqual(untouched.data, { note: b64('keep me') });
      assert.deepEqual(await pullSecretNames(namespace, 'default'), [], 'attached to a secret that was not written');

      const forced = await addLogin('regcred', namespace, login, ['--force']);
      assertOk(forced, 'add --force');
      const taken = (await readSecret(namespace, 'regcred'))!;
      assert.equal(taken.type, 'kubernetes.io/dockerconfigjson');
      assert.equal(taken.metadata?.labels?.[MANAGED_BY], 'kubectl-pullsecret');
      assert.deepEqual(Object.keys(taken.data ?? {}), ['.dockerconfigjson']);
      assert.ok(dockerConfigJsonBytes(taken).equals(await kubectlDockerConfigJson(login)));
      assert.equal(taken.metadata?.annotations?.[HASH_ANNOTATION], sha256(dockerConfigJsonBytes(taken)));
      assert.deepEqual(await pullSecretNames(namespace, 'default'), ['regcred']);
    });
  });

  test('a same-named unlabelled dockerconfigjson secret is refused without --force and replaced whole with it', async () => {
    const login = { server: 'registry.example', username: 'ci', password: 'FAKE-force-pw-2' };
    const foreign = { auths: { 'foreign.example': { username: 'them', password: 'FAKE-theirs', auth: b64('them:FAKE-theirs') } } };
    await withNamespace('add-foreign-djson', async (namespace) => {
      const before = await createDockerConfigSecret(namespace, 'regcred', foreign);
      const refused = await addLogin('regcred', namespace, login);
      assert.equal(refused.code, 1, refused.stdout + refused.stderr);
      assert.match(refused.stdout + refused.stderr, /--force/);
      const untouched = (await readSecret(namespace, 'regcred'))!;
      assert.equal(untouched.metadata?.resourceVersion, before.metadata?.resourceVersion);
      assert.deepEqual(untouched.data, before.data);
      assert.equal(untouched.metadata?.labels, undefined);
      assert.deepEqual(await pullSecretNames(namespace, 'default'), []);

      assertOk(await addLogin('regcred', namespace, login, ['--force']), 'add --force');
      const taken = (await readSecret(namespace, 'regcred'))!;
      assert.equal(taken.metadata?.labels?.[MANAGED_BY], 'kubectl-pullsecret');
      assert.ok(dockerConfigJsonBytes(taken).equals(await kubectlDockerConfigJson(login)), 'content replaced, not merged');
      assert.equal(taken.metadata?.annotations?.[HASH_ANNOTATION], sha256(dockerConfigJsonBytes(taken)));
      assert.deepEqual(await pullSecretNames(namespace, 'default'), ['regcred']);
    });
  });

  describe('credential sources', () => {
    const helperDir = path.join(scratch.dir, 'helpers');
    const helperEnv = () => ({ PATH: `${helperDir}${path.delimiter}${process.env.PATH}` });
    const configFile = (name: string, content: object) => {
      const file = path.join(scratch.dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(content, null, 2));
      return file;
    };
    const inline = { username: 'inline-user', password: 'FAKE-inline-pw' };
    const stored = { username: 'store-user', secret: 'FAKE-store-pw' };
    const helped = { username: 'helper-user', secret: 'FAKE-helper-pw' };
    const expectedEntry = (username: string, password: string) => ({ username, password, auth: b64(`${username}:${password}`) });

    test('--from-docker-config reads inline auths and resolves credsStore and credHelpers through docker-credential helpers', async () => {
      mkdirSync(helperDir, { recursive: true });
      fakeCredentialHelper(helperDir, 'kpsstore', { 'store.example': stored });
      fakeCredentialHelper(helperDir, 'kpshelper', { 'helper.example': helped });
      const config = configFile('mixed', {
        auths: {
          'inline.example': { auth: b64(`${inline.username}:${inline.password}`) },
          'store.example': {},
        },
        credsStore: 'kpsstore',
        credHelpers: { 'helper.example': 'kpshelper' },
      });
      await withNamespace('add-dockercfg', async (namespace) => {
        const all = await run(['add', 'everything', '-n', namespace, '--from-docker-config', config], { env: helperEnv() });
        assertOk(all, 'add --from-docker-config');
        for (const secret of [inline.password, stored.secret, helped.secret]) assert.ok(!(all.stdout + all.stderr).includes(secret));
        const everything = await readSecret(namespace, 'everything');
        assert.equal(everything?.type, 'kubernetes.io/dockerconfigjson');
        assert.deepEqual(parseAuths(everything), {
          'helper.example': expectedEntry(helped.username, helped.secret),
          'inline.example': expectedEntry(inline.username, inline.password),
          'store.example': expectedEntry(stored.username, stored.secret),
        });
        assert.deepEqual(await pullSecretNames(namespace, 'default'), ['everything']);

        // --registry picks one entry each: inline, credsStore, credHelpers.
        const picks: [string, string, ReturnType<typeof expectedEntry>][] = [
          ['pick-inline', 'inline.example', expectedEntry(inline.username, inline.password)],
          ['pick-store', 'store.example', expectedEntry(stored.username, stored.secret)],
          ['pick-helper', 'helper.example', expectedEntry(helped.username, helped.secret)],
        ];
        for (const [name, registry, entry] of picks) {
          const picked = await run(['add', name, '-n', namespace, '--no-attach', '--from-docker-config', config, '--registry', registry], { env: helperEnv() });
          assertOk(picked, `--registry ${registry}`);
          assert.deepEqual(parseAuths(await readSecret(namespace, name)), { [registry]: entry });
        }
        const both = await run(['add', 'pick-two', '-n', namespace, '--no-attach', '--from-docker-config', config, '--registry', 'store.example', '--registry', 'helper.example'], { env: helperEnv() });
        assertOk(both, 'two --registry');
        assert.deepEqual(Object.keys(parseAuths(await readSecret(namespace, 'pick-two'))).sort(), ['helper.example', 'store.example']);
      });
    });

    test('a selected registry without usable credentials is an error and no secret is written', async () => {
      mkdirSync(helperDir, { recursive: true });
      fakeCredentialHelper(helperDir, 'kpsempty', {});
      const noCredentials = configFile('no-credentials', { auths: { 'empty.example': {}, 'fine.example': { auth: b64('u:FAKE-fine-pw') } } });
      const storeWithout = configFile('store-without', { auths: { 'missing.example': {} }, credsStore: 'kpsempty' });
      const desktopStyle = configFile('desktop-style', { auths: { 'desktop.example': {} }, credsStore: 'kpsempty' });
      await withNamespace('add-nocreds', async (namespace) => {
        const attempts: [string, string[]][] = [
          ['empty-entry', ['--from-docker-config', noCredentials, '--registry', 'empty.example']],
          ['all-incl-empty', ['--from-docker-config', noCredentials]],
          ['helper-not-found', ['--from-docker-config', storeWithout, '--registry', 'missing.example']],
          ['desktop-all', ['--from-docker-config', desktopStyle]],
          ['not-in-config', ['--from-docker-config', noCredentials, '--registry', 'absent.example']],
        ];
        for (const [name, args] of attempts) {
          const result = await run(['add', name, '-n', namespace, ...args], { env: helperEnv() });
          assert.notEqual(result.code, 0, `${name}: expected a failure, got:\n${result.stdout}`);
          assertOneLineError(result.stderr, /./);
          assert.ok(!result.stderr.includes('FAKE-fine-pw'));
          assert.equal(await readSecret(namespace, name), undefined, `${name}: a secret was written`);
        }
        assert.deepEqual(await pullSecretNames(namespace, 'default'), []);
      });
    });

    test('--from-docker-config without a path reads $DOCKER_CONFIG/config.json', async () => {
      const dockerDir = path.join(scratch.dir, 'docker-config-dir');
      mkdirSync(dockerDir, { recursive: true });
      writeFileSync(path.join(dockerDir, 'config.json'), JSON.stringify({ auths: { 'env.example': { auth: b64('env-user:FAKE-env-pw') } } }));
      await withNamespace('add-dockerenv', async (namespace) => {
        const env = { DOCKER_CONFIG: dockerDir, HOME: path.join(scratch.dir, 'no-home') };
        const result = await run(['add', 'fromenv', '-n', namespace, '--from-docker-config', '--registry', 'env.example'], { env });
        assertOk(result);
        assert.deepEqual(parseAuths(await readSecret(namespace, 'fromenv')), { 'env.example': expectedEntry('env-user', 'FAKE-env-pw') });
        const last = await run(['add', 'fromenv-last', '-n', namespace, '--no-attach', '--from-docker-config'], { env });
        assertOk(last, '--from-docker-config as the last argument');
        assert.deepEqual(parseAuths(await readSecret(namespace, 'fromenv-last')), { 'env.example': expectedEntry('env-user', 'FAKE-env-pw') });
      });
    });

    test('--from-secret NS/NAME copies an existing pull secret byte for byte', async () => {
      const login = { server: 'source.example', username: 'src', password: 'FAKE-source-pw' };
      await withNamespace('add-fromsecret-src', async (source) => {
        const content = (await kubectlDockerConfigJson(login)).toString('utf8');
        await createDockerConfigSecret(source, 'origin', content);
        await withNamespace('add-fromsecret-dst', async (namespace) => {
          const result = await run(['add', 'copied', '-n', namespace, '--from-secret', `${source}/origin`]);
          assertOk(result);
          assertNoCredential(result.stdout + result.stderr, login, 'output');
          const copied = (await readSecret(namespace, 'copied'))!;
          assert.equal(dockerConfigJsonOf(copied), content);
          assert.equal(copied.type, 'kubernetes.io/dockerconfigjson');
          assert.equal(copied.metadata?.labels?.[MANAGED_BY], 'kubectl-pullsecret');
          assert.deepEqual(await pullSecretNames(namespace, 'default'), ['copied']);
          const missing = await run(['add', 'nothing', '-n', namespace, '--from-secret', `${source}/does-not-exist`]);
          assert.notEqual(missing.code, 0);
          assertOneLineError(missing.stderr, /does-not-exist/);
          assert.equal(await readSecret(namespace, 'nothing'), undefined);
        });
      });
    });

    test('no credential source, two sources, or --password on the command line are usage errors', async () => {
      await withNamespace('add-sources', async (namespace) => {
        const config = configFile('two-sources', { auths: { 'x.example': { auth: b64('u:FAKE-x-pw') } } });
        const cases: [string, string[], string | undefined][] = [
          ['none', [], undefined],
          ['login+docker-config', ['--server', 'r.example', '--username', 'u', '--password-stdin', '--from-docker-config', config], 'FAKE-two-pw\n'],
          ['login+secret', ['--username', 'u', '--password-stdin', '--from-secret', 'a/b'], 'FAKE-two-pw\n'],
          ['docker-config+secret', ['--from-docker-config', config, '--from-secret', 'a/b'], undefined],
          ['argv password', ['--server', 'r.example', '--username', 'u', '--password', 'FAKE-argv-pw'], undefined],
          ['argv password=', ['--server', 'r.example', '--username', 'u', '--password=FAKE-argv-pw'], undefined],
        ];
        for (const [label, args, stdin] of cases) {
          const result = await run(['add', 'regcred', '-n', namespace, ...args], stdin === undefined ? {} : { stdin });
          assert.equal(result.code, 2, `${label}: exit ${result.code}\n${result.stdout}${result.stderr}`);
          assertOneLineError(result.stderr, /./);
          assert.ok(!(result.stdout + result.stderr).includes('FAKE-argv-pw'), `${label}: the password was echoed`);
        }
        assert.deepEqual(await secretNames(namespace), []);
        assert.deepEqual(await pullSecretNames(namespace, 'default'), []);
      });
    });
  });

  test('stdin: one trailing newline is dropped, colons are kept, and an empty password is a usage error', async () => {
    await withNamespace('add-stdin', async (namespace) => {
      const base = ['-n', namespace, '--no-attach', '--server', 'registry.example', '--username', 'ci', '--password-stdin'];
      const cases: [string, string, string][] = [
        ['one-newline', 'FAKE-nl-pw\n', 'FAKE-nl-pw'],
        ['no-newline', 'FAKE-bare-pw', 'FAKE-bare-pw'],
        ['two-newlines', 'FAKE-two-nl\n\n', 'FAKE-two-nl\n'],
        ['colons', 'FAKE:with:colons\n', 'FAKE:with:colons'],
      ];
      for (const [name, stdin, password] of cases) {
        const result = await run(['add', name, ...base], { stdin });
        assertOk(result, name);
        const entry = parseAuths(await readSecret(namespace, name))['registry.example']!;
        assert.equal(entry.password, password, `${name}: password`);
        assert.equal(entry.auth, b64(`ci:${password}`), `${name}: auth`);
        assert.ok(dockerConfigJsonBytes(await readSecret(namespace, name)).equals(
          await kubectlDockerConfigJson({ server: 'registry.example', username: 'ci', password })));
      }
      for (const [name, stdin] of [['empty', ''], ['just-newline', '\n']] as const) {
        const result = await run(['add', name, ...base], { stdin });
        assert.equal(result.code, 2, `${name}: exit ${result.code}`);
        assertOneLineError(result.stderr, /empty/);
        assert.equal(await readSecret(namespace, name), undefined);
      }
    });
  });

  test('--dry-run=client and --dry-run=server write nothing, mark every line, and never print the password', async () => {
    const login = { server: 'registry.example', username: 'ci', password: 'FAKE-dry-pw' };
    await withNamespace('add-dry', async (namespace) => {
      await createServiceAccount(namespace, 'builder', ['other']);
      const saBefore = (await readServiceAccount(namespace, 'builder'))!;
      for (const [mode, suffix] of [['client', '(dry run)'], ['server', '(server dry run)']] as const) {
        const result = await addLogin('regcred', namespace, login, [`--dry-run=${mode}`, '--all-service-accounts']);
        assertOk(result, `--dry-run=${mode}`);
        assertNoCredential(result.stdout + result.stderr, login, `--dry-run=${mode} output`);
        const lines = outputLines(result.stdout).filter((line) => !line.startsWith('summary:'));
        assert.ok(lines.some((line) => line.startsWith('secret/regcred created')), result.stdout);
        assert.ok(lines.some((line) => line.startsWith('serviceaccount/builder attached regcred')), result.stdout);
        assert.ok(lines.some((line) => line.startsWith('serviceaccount/default attached regcred')), result.stdout);
        for (const line of lines) assert.ok(line.endsWith(` ${suffix}`), `--dry-run=${mode}: "${line}" does not end with ${suffix}`);
        assert.equal(await readSecret(namespace, 'regcred'), undefined, `--dry-run=${mode} created the secret`);
        assert.deepEqual(await pullSecretNames(namespace, 'default'), []);
        const sa = (await readServiceAccount(namespace, 'builder'))!;
        assert.equal(sa.metadata?.resourceVersion, saBefore.metadata?.resourceVersion, `--dry-run=${mode} wrote the ServiceAccount`);
      }
    });
  });

  test('dry runs with --force over a foreign secret leave it in place', async () => {
    const login = { server: 'registry.example', username: 'ci', password: 'FAKE-dry-force-pw' };
    await withNamespace('add-dry-force', async (namespace) => {
      const opaque = await admin.core.createNamespacedSecret({ namespace, body: { metadata: { name: 'regcred' }, type: 'Opaque', data: { note: b64('keep me') } } });
      const foreign = await createDockerConfigSecret(namespace, 'theirs', { auths: { 'foreign.example': { auth: b64('them:FAKE-theirs-pw') } } });
      for (const [mode, suffix] of [['client', '(dry run)'], ['server', '(server dry run)']] as const) {
        for (const [name, original] of [['regcred', opaque], ['theirs', foreign]] as const) {
          const result = await addLogin(name, namespace, login, ['--force', `--dry-run=${mode}`]);
          assertOk(result, `add ${name} --force --dry-run=${mode}`);
          assertNoCredential(result.stdout + result.stderr, login, 'output');
          const lines = outputLines(result.stdout).filter((line) => !line.startsWith('summary:'));
          assert.ok(lines.some((line) => line.startsWith(`secret/${name} `)), result.stdout);
          for (const line of lines) assert.ok(line.endsWith(` ${suffix}`), `"${line}" does not end with ${suffix}`);
          const after = await readSecret(namespace, name);
          assert.ok(after, `add ${name} --force --dry-run=${mode} deleted the secret`);
          assert.equal(after.metadata?.resourceVersion, original.metadata?.resourceVersion, `add ${name} --force --dry-run=${mode} changed the secret`);
          assert.equal(after.type, original.type);
          assert.deepEqual(after.data, original.data);
        }
      }
      assert.deepEqual(await pullSecretNames(namespace, 'default'), []);
    });
  });

  test('-o yaml and -o json print a List with the Secret (with its data) and the ServiceAccount', async () => {
    const login = { server: 'registry.example', username: 'ci', password: 'FAKE-manifest-pw' };
    await withNamespace('add-manifest', async (namespace) => {
      const expected = await kubectlDockerConfigJson(login);
      const check = (list: { kind?: string; items?: (V1Secret | V1ServiceAccount)[] }, what: string) => {
        assert.equal(list.kind, 'List', what);
        const secret = list.items?.find((item) => item.kind === 'Secret') as V1Secret | undefined;
        const sa = list.items?.find((item) => item.kind === 'ServiceAccount') as V1ServiceAccount | undefined;
        assert.ok(secret, `${what}: no Secret in ${JSON.stringify(list)}`);
        assert.ok(sa, `${what}: no ServiceAccount in ${JSON.stringify(list)}`);
        assert.equal(secret.metadata?.name, 'regcred');
        assert.equal(secret.metadata?.namespace, namespace);
        assert.equal(secret.type, 'kubernetes.io/dockerconfigjson');
        assert.ok(dockerConfigJsonBytes(secret).equals(expected), `${what}: Secret data`);
        assert.equal(sa.metadata?.name, 'default');
        assert.deepEqual(sa.imagePullSecrets?.map((ref) => ref.name), ['regcred']);
      };

      const yaml = await addLogin('regcred', namespace, login, ['-o', 'yaml', '--dry-run=client']);
      assertOk(yaml, '-o yaml --dry-run=client');
      check(loadYaml(yaml.stdout) as { kind?: string; items?: V1Secret[] }, '-o yaml');
      assert.equal(await readSecret(namespace, 'regcred'), undefined, '-o yaml --dry-run=client wrote the secret');

      const json = await addLogin('regcred', namespace, login, ['-o', 'json']);
      assertOk(json, '-o json');
      check(JSON.parse(json.stdout) as { kind?: string; items?: V1Secret[] }, '-o json');
      assert.ok(dockerConfigJsonBytes(await readSecret(namespace, 'regcred')).equals(expected));
      assert.deepEqual(await pullSecretNames(namespace, 'default'), ['regcred']);
    });
  });

  test('a namespace created a moment ago: add waits for its default ServiceAccount and attaches', async () => {
    const login = { server: 'registry.example', username: 'ci', password: 'FAKE-fresh-pw' };
    await withBareNamespace('add-fresh-a', async (a) => {
      await withBareNamespace('add-fresh-b', async (b) => {
        await withBareNamespace('add-fresh-c', async (c) => {
          const result = await addLogin('regcred', undefined, login, ['--namespaces', `${a},${b},${c}`]);
          assertOk(result);
          for (const namespace of [a, b, c]) {
            assert.match(result.stdout, new RegExp(`^serviceaccount/default attached regcred \\(namespace ${namespace}\\)$`, 'm'));
            assert.deepEqual(await pullSecretNames(namespace, 'default'), ['regcred']);
            assert.ok(await readSecret(namespace, 'regcred'));
          }
        });
      });
    });
  });

  test('a terminating namespace is skipped with a message; the others are still done', async () => {
    const login = { server: 'registry.example', username: 'ci', password: 'FAKE-term-pw' };
    const terminating = uniqueNamespaceName('add-terminating');
    await createNamespace(terminating);
    try {
      await holdTerminating(terminating);
      await withNamespace('add-active', async (active) => {
        const result = await addLogin('regcred', undefined, login, ['--namespaces', `${active},${terminating}`]);
        assertOk(result);
        assert.match(result.stdout, new RegExp(`^namespace/${terminating} skipped: .*terminating`, 'm'));
        assert.match(result.stdout, new RegExp(`^secret/regcred created: .*\\(namespace ${active}\\)$`, 'm'));
        assert.deepEqual(await pullSecretNames(active, 'default'), ['regcred']);
        assert.equal(await readSecret(terminating, 'regcred'), undefined);
      });
    } finally {
      await releaseTerminating(terminating);
      await admin.core.deleteNamespace({ name: terminating }).catch(() => undefined);
    }
  });

  test('the restricted user gets one forbidden line with the can-i check, and nothing is written', async () => {
    const login = { server: 'registry.example', username: 'ci', password: 'FAKE-rbac-pw' };
    await withNamespace('add-rbac', async (namespace) => {
      const saBefore = (await readServiceAccount(namespace, 'default'))!;
      const result = await addLogin('regcred', namespace, login, [], { KUBECONFIG: restrictedKubeconfig });
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assertOneLineError(result.stderr, /forbidden: .*cannot (get|list|create|patch) resource "(secrets|serviceaccounts)"/);
      assert.match(result.stderr, new RegExp(`kubectl auth can-i (get|list|create|patch) (secrets|serviceaccounts) -n ${namespace}`));
      assertNoCredential(result.stdout + result.stderr, login, 'output');
      assert.equal(await readSecret(namespace, 'regcred'), undefined);
      const saAfter = (await readServiceAccount(namespace, 'default'))!;
      assert.equal(saAfter.metadata?.resourceVersion, saBefore.metadata?.resourceVersion);
    });
  });

  test('a read-only user: the reason on stderr, each change\'s outcome said truthfully, exit 1, nothing written', async () => {
    const login = { server: 'registry.example', username: 'ci', password: 'FAKE-readonly-pw' };
    await withNamespace('add-readonly', async (namespace) => {
      await grantRestricted(namespace, [{ apiGroups: [''], resources: ['secrets', 'serviceaccounts'], verbs: ['get', 'list', 'watch'] }], ['list', 'secrets']);
      const saBefore = (await readServiceAccount(namespace, 'default'))!;
      for (const output of [[], ['-o', 'name'], ['-o', 'json']]) {
        const result = await addLogin('regcred', namespace, login, output, { KUBECONFIG: restrictedKubeconfig });
        const where = `add ${output.join(' ')}:\n${result.stdout}${result.stderr}`;
        assert.equal(result.code, 1, where);
        assertFailureReport(result.stderr, /^error: 1 of 2 changes failed; 1 skipped, nothing applied$/, [
          new RegExp(`^error: secret/regcred failed: forbidden: .*cannot create resource "secrets".*\\(check with: kubectl auth can-i create secrets -n ${namespace}\\) \\(namespace ${namespace}\\)$`),
        ]);
        if (output.length === 0) {
          assert.equal(result.stdout, `serviceaccount/default skipped: secret regcred was not written, so it is not attached (namespace ${namespace})\nsummary: 1 skipped, 1 failed\n`, where);
        } else if (output[1] === 'name') {
          assert.equal(result.stdout, '', where);
        } else {
          assert.deepEqual(JSON.parse(result.stdout), { apiVersion: 'v1', kind: 'List', items: [] }, where);
        }
        assertNoCredential(result.stdout + result.stderr, login, 'output');
      }
      assert.equal(await readSecret(namespace, 'regcred'), undefined);
      assert.equal((await readServiceAccount(namespace, 'default'))!.metadata?.resourceVersion, saBefore.metadata?.resourceVersion);
    });
  });

  test('with rights to write secrets but not to patch ServiceAccounts, the secret is created and the attach reported as failed', async () => {
    const login = { server: 'registry.example', username: 'ci', password: 'FAKE-partial-pw' };
    await withNamespace('add-partial', async (namespace) => {
      await grantRestricted(
        namespace,
        [
          { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'create', 'update'] },
          { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list'] },
        ],
        ['create', 'secrets'],
      );
      const result = await addLogin('regcred', namespace, login, [], { KUBECONFIG: restrictedKubeconfig });
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stdout, new RegExp(`^secret/regcred created: registries registry.example \\(namespace ${namespace}\\)$`, 'm'));
      assert.match(result.stdout, /^summary: 1 created, 1 failed$/m);
      assertFailureReport(result.stderr, /^error: 1 of 2 changes failed; 1 applied$/, [/^error: serviceaccount\/default failed: .*forbidden.*patch.*serviceaccounts/]);
      assertNoCredential(result.stdout + result.stderr, login, 'output');
      const secret = await readSecret(namespace, 'regcred');
      assert.ok(dockerConfigJsonBytes(secret).equals(await kubectlDockerConfigJson(login)));
      assert.deepEqual(await pullSecretNames(namespace, 'default'), []);
    });
  });

  test('bad secret names and a malformed --from-secret are one-line usage errors', async () => {
    await withNamespace('add-names', async (namespace) => {
      const login = ['--server', 'registry.example', '--username', 'ci', '--password-stdin'];
      const cases: [string, string[]][] = [
        ['uppercase', ['add', 'RegCred', '-n', namespace, ...login]],
        ['too long', ['add', 'a'.repeat(254), '-n', namespace, ...login]],
        ['underscore', ['add', 'reg_cred', '-n', namespace, ...login]],
        ['from-secret without slash', ['add', 'regcred', '-n', namespace, '--from-secret', 'just-a-name']],
        ['from-secret with two slashes', ['add', 'regcred', '-n', namespace, '--from-secret', 'a/b/c']],
        ['from-secret without namespace', ['add', 'regcred', '-n', namespace, '--from-secret', '/name']],
        ['from-secret with a bad name', ['add', 'regcred', '-n', namespace, '--from-secret', `${namespace}/Bad_Name`]],
      ];
      for (const [label, args] of cases) {
        const result = await run(args, { stdin: 'FAKE-names-pw\n' });
        assert.equal(result.code, 2, `${label}: exit ${result.code}\n${result.stdout}${result.stderr}`);
        assertOneLineError(result.stderr, /./);
      }
      assert.deepEqual(await secretNames(namespace), []);
      assert.deepEqual(await pullSecretNames(namespace, 'default'), []);
    });
  });

  test('--namespaces a,b adds the secret to both and attaches it in both', async () => {
    const login = { server: 'registry.example', username: 'ci', password: 'FAKE-multi-pw' };
    await withNamespace('add-multi-a', async (a) => {
      await withNamespace('add-multi-b', async (b) => {
        const result = await addLogin('regcred', undefined, login, ['--namespaces', `${a},${b}`]);
        assertOk(result);
        assert.match(result.stdout, /^summary: 2 created, 2 attached$/m);
        const expected = await kubectlDockerConfigJson(login);
        for (const namespace of [a, b]) {
          assert.ok(dockerConfigJsonBytes(await readSecret(namespace, 'regcred')).equals(expected), namespace);
          assert.deepEqual(await pullSecretNames(namespace, 'default'), ['regcred']);
        }
      });
    });
  });
});
