// Connecting like kubectl does, against the real local control plane.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect as connectTcp, createServer, type Socket } from 'node:net';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { dumpYaml as toYaml, loadYaml as parseYaml } from '@kubernetes/client-node';
import { admin, adminKubeconfig, assertOneLineError, grantRestricted, repoRoot, restrictedKubeconfig, run, tempDir, withNamespace } from './harness';

const serverVersion = (await admin.version.getCode()).gitVersion;
const scratch = tempDir();
after(() => scratch.cleanup());

interface KubeconfigYaml {
  clusters: { name: string; cluster: Record<string, unknown> }[];
  users: { name: string; user: Record<string, unknown> }[];
  contexts: { name: string; context: Record<string, unknown> }[];
  'current-context': string;
}
const adminYaml = () => parseYaml(readFileSync(adminKubeconfig, 'utf8')) as KubeconfigYaml;

/** Writes a variant of the admin kubeconfig and returns its path. */
function variant(name: string, change: (config: KubeconfigYaml) => void): string {
  const config = adminYaml();
  change(config);
  const file = path.join(scratch.dir, `${name}.kubeconfig`);
  writeFileSync(file, toYaml(config));
  return file;
}

async function createPullSecret(namespace: string, name: string) {
  const content = Buffer.from('{"auths":{"registry.test.invalid":{"auth":"dTpw"}}}').toString('base64');
  await admin.core.createNamespacedSecret({
    namespace,
    body: { metadata: { name }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': content } },
  });
}

describe('connection', () => {
  test(`reaches kube-apiserver ${serverVersion} with the admin kubeconfig`, async () => {
    const result = await run(['version']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^Server Version: ${serverVersion.replace(/\./g, '\\.')}$`, 'm'));
  });

  test('runs as a kubectl plugin through kubectl\'s own discovery', async () => {
    const env = { PATH: `${path.join(repoRoot, 'dist')}${path.delimiter}${process.env.PATH}` };
    const plugins = await run(['plugin', 'list'], { command: 'kubectl', env });
    assert.match(plugins.stdout, /kubectl-pullsecret$/m);
    const result = await run(['pullsecret', 'version'], { command: 'kubectl', env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`Server Version: ${serverVersion}`));
    const help = await run(['pullsecret', '--help'], { command: 'kubectl', env });
    assert.match(help.stdout, /Usage: kubectl pullsecret <command>/);
  });

  test('-n selects the namespace, and the context namespace is the default', async () => {
    await withNamespace('conn-ns', async (namespace) => {
      await createPullSecret(namespace, 'only-here');
      const inNamespace = await run(['list', '-n', namespace]);
      assert.equal(inNamespace.code, 0, inNamespace.stderr);
      assert.match(inNamespace.stdout, /^only-here\s/m);
      const inDefault = await run(['list']);
      assert.doesNotMatch(inDefault.stdout, /only-here/);
      const contextNamespace = variant('context-namespace', (c) => {
        c.contexts[0]!.context.namespace = namespace;
      });
      const fromContext = await run(['list', '--kubeconfig', contextNamespace]);
      assert.equal(fromContext.code, 0, fromContext.stderr);
      assert.match(fromContext.stdout, /^only-here\s/m);
    });
  });

  test('--context selects the user, and an unknown context is a usage error', async () => {
    await withNamespace('conn-ctx', async (namespace) => {
      const asRestricted = await run(['list', '-n', namespace, '--context', 'pullsecret-local-restricted']);
      assert.equal(asRestricted.code, 1);
      assertOneLineError(asRestricted.stderr, /forbidden: User "restricted"/);
      const asAdmin = await run(['list', '-n', namespace, '--context', 'pullsecret-local-admin']);
      assert.equal(asAdmin.code, 0, asAdmin.stderr);
      const unknown = await run(['list', '--context', 'nope']);
      assert.equal(unknown.code, 2);
      assertOneLineError(unknown.stderr, /context "nope" does not exist/);
    });
  });

  test('the restricted user gets one forbidden line naming the verb, resource and can-i check', async () => {
    await withNamespace('conn-rbac', async (namespace) => {
      const result = await run(['list', '-n', namespace], { env: { KUBECONFIG: restrictedKubeconfig } });
      assert.equal(result.code, 1);
      assertOneLineError(result.stderr, /forbidden: .*cannot list resource "(secrets|serviceaccounts|pods)"/);
      assert.match(result.stderr, new RegExp(`kubectl auth can-i list (secrets|serviceaccounts|pods) -n ${namespace}`));
      assert.equal(result.stdout, '');
    });
  });

  test('with partial rights, what is allowed is done and the rest is reported', async () => {
    await withNamespace('conn-partial', async (namespace) => {
      await createPullSecret(namespace, 'visible');
      await grantRestricted(namespace, [{ apiGroups: [''], resources: ['secrets', 'serviceaccounts'], verbs: ['get', 'list'] }], ['list', 'secrets']);
      const result = await run(['list', '-n', namespace], { env: { KUBECONFIG: restrictedKubeconfig } });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^visible\s/m);
      assert.match(result.stderr, /warning: pod references not checked: forbidden: .*kubectl auth can-i list pods -n/);
    });
  });

  test('an unreachable server fails within --request-timeout with a clear error', async () => {
    // A listener that accepts connections and never answers: the worst kind of unreachable.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const file = variant('silent', (c) => {
        c.clusters[0]!.cluster.server = `https://127.0.0.1:${port}`;
      });
      const started = Date.now();
      const result = await run(['list', '--kubeconfig', file, '--request-timeout', '1s']);
      const elapsed = Date.now() - started;
      assert.equal(result.code, 1);
      assertOneLineError(result.stderr, new RegExp(`API server at https://127.0.0.1:${port} did not answer within 1s`));
      assert.ok(elapsed < 10_000, `took ${elapsed} ms`);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  test('a closed port fails at once with "connection refused"', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const file = variant('refused', (c) => {
      c.clusters[0]!.cluster.server = `https://127.0.0.1:${port}`;
    });
    const result = await run(['list', '--kubeconfig', file]);
    assert.equal(result.code, 1);
    assertOneLineError(result.stderr, /cannot reach the API server at .*: connection refused/);
  });

  test('a server certificate from another CA fails TLS verification clearly', async () => {
    const key = path.join(scratch.dir, 'other-ca.key');
    const cert = path.join(scratch.dir, 'other-ca.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=other-ca'], { stdio: 'ignore' });
    const file = variant('other-ca', (c) => {
      c.clusters[0]!.cluster['certificate-authority-data'] = readFileSync(cert).toString('base64');
    });
    const result = await run(['list', '--kubeconfig', file]);
    assert.equal(result.code, 1);
    assertOneLineError(result.stderr, /TLS verification of the API server at .* failed/);
  });

  test('an exec credential plugin in the kubeconfig is used', async () => {
    const user = adminYaml().users[0]!.user;
    const credential = JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: {
        clientCertificateData: Buffer.from(String(user['client-certificate-data']), 'base64').toString(),
        clientKeyData: Buffer.from(String(user['client-key-data']), 'base64').toString(),
      },
    });
    const script = path.join(scratch.dir, 'credential-plugin.sh');
    writeFileSync(script, `#!/bin/sh\ncat <<'EOF'\n${credential}\nEOF\n`);
    chmodSync(script, 0o755);
    const exec = (command: string) => ({ apiVersion: 'client.authentication.k8s.io/v1', command, interactiveMode: 'Never' });
    const file = variant('exec', (c) => {
      c.users[0]!.user = { exec: exec(script) };
    });
    const result = await run(['version', '--kubeconfig', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Server Version: v1\./);

    const failing = path.join(scratch.dir, 'failing-plugin.sh');
    writeFileSync(failing, '#!/bin/sh\necho "login expired: run the cloud login again" >&2\nexit 3\n');
    chmodSync(failing, 0o755);
    const broken = variant('exec-failing', (c) => {
      c.users[0]!.user = { exec: exec(failing) };
    });
    const failed = await run(['list', '--kubeconfig', broken]);
    assert.equal(failed.code, 1);
    assertOneLineError(failed.stderr, /login expired/);
  });

  test('a proxy-url in the kubeconfig is used: the LISTs go through it', async () => {
    // An HTTP CONNECT proxy on loopback that counts the tunnels it opens.
    let tunnels = 0;
    const proxy = createHttpServer();
    proxy.on('connect', (request, client: Socket, head) => {
      tunnels++;
      const [host, port] = (request.url ?? '').split(':');
      const upstream = connectTcp(Number(port), host!, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const file = variant('proxy', (c) => {
        c.clusters[0]!.cluster['proxy-url'] = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
      });
      const result = await run(['list', '-A', '--kubeconfig', file]);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(tunnels > 0, 'the LISTs went through the proxy');
    } finally {
      proxy.closeAllConnections();
      proxy.close();
    }
  });

  test('KUBECONFIG lists are merged and missing files skipped; --kubeconfig must exist', async () => {
    const missing = path.join(scratch.dir, 'missing.kubeconfig');
    const merged = await run(['version'], { env: { KUBECONFIG: `${missing}${path.delimiter}${adminKubeconfig}` } });
    assert.equal(merged.code, 0, merged.stderr);
    const explicit = await run(['version', '--kubeconfig', missing]);
    assert.equal(explicit.code, 2);
    assertOneLineError(explicit.stderr, /kubeconfig file ".*missing.kubeconfig" does not exist/);
  });

  test('with no configuration at all, a clear error instead of localhost:8080', async () => {
    const result = await run(['list'], { env: { KUBECONFIG: undefined, HOME: scratch.dir, KUBERNETES_SERVICE_HOST: undefined } });
    assert.equal(result.code, 1);
    assertOneLineError(result.stderr, /no Kubernetes configuration found/);
  });

  test('bad flags are one-line usage errors with exit code 2', async () => {
    for (const args of [['list', '--bogus'], ['list', '-o', 'xml'], ['list', '--request-timeout', 'soon'], ['list', '-A', '-n', 'x'], ['nonsense']]) {
      const result = await run(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assertOneLineError(result.stderr, /./);
    }
  });
});
