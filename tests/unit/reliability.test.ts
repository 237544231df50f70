// Unit checks of the fixes made by the reliability campaign (issue 6); each also has a row in
// tests/integration/bad-input.test.ts that runs the built plugin against a real API server.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ApiException } from '@kubernetes/client-node';
import forge from 'node-forge';
import { failIfAnyFailed } from '../../cmd/output';
import { ApiError, connect, describeApiError } from '../../lib/connect';
import { retryAfterMs } from '../../lib/cluster';
import { loadCredentials } from '../../lib/credentials';
import type { Connection } from '../../lib/connect';
import { resolveCredentials } from '../../lib/dockerconfig';
import { CliError, ExitCode, UsageError } from '../../lib/errors';
import { resolveConfig, type ResolveEnvironment } from '../../lib/kubeconfig';

const root = mkdtempSync(path.join(tmpdir(), 'kps-reliability-'));
after(() => rmSync(root, { recursive: true, force: true }));

const environment = (file: string): ResolveEnvironment => ({ env: { KUBECONFIG: file }, home: root, serviceAccountDir: path.join(root, 'none') });

let counter = 0;
/** A kubeconfig with one context whose user is given as YAML lines (indented under `user:`). */
function kubeconfig(userLines: string[]): string {
  const file = path.join(root, `config-${++counter}.yaml`);
  writeFileSync(file, [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: c',
    '  cluster:',
    '    server: https://127.0.0.1:6443',
    'users:',
    '- name: u',
    '  user:',
    ...userLines.map((line) => `    ${line}`),
    'contexts:',
    '- name: ctx',
    '  context: {cluster: c, user: u}',
    'current-context: ctx',
    '',
  ].join('\n'));
  return file;
}

/** A self-signed client certificate valid only between the dates given (PEM), and its key. */
function certificate(notBefore: Date, notAfter: Date): { cert: string; key: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01';
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: 'commonName', value: 'u' }]);
  cert.setIssuer([{ name: 'commonName', value: 'u' }]);
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keyPem };
}

const unauthorized = () => new ApiException(401, 'Unauthorized', '{"kind":"Status","message":"Unauthorized","code":401}', {});

describe('reliability fixes', () => {
  test('-n is validated like every other name (a typo is a usage error, not an empty answer)', () => {
    const file = kubeconfig(['token: t']);
    for (const namespace of ['Shop', 'a_b', 'x'.repeat(64)]) {
      assert.throws(() => connect({ namespace }, environment(file)), (error: unknown) => error instanceof UsageError && /invalid namespace name/.test(error.message));
    }
    assert.equal(connect({ namespace: 'shop' }, environment(file)).namespace, 'shop');
  });

  test('401: an expired (or not yet valid) client certificate is named, with its date; otherwise the likely causes', () => {
    const day = 86_400_000;
    const expired = certificate(new Date('2020-01-01T00:00:00Z'), new Date('2020-01-02T00:00:00Z'));
    const future = certificate(new Date(Date.now() + 10 * day), new Date(Date.now() + 20 * day));
    const valid = certificate(new Date(Date.now() - day), new Date(Date.now() + day));
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const describe401 = (pair: { cert: string; key: string }) => {
      const config = resolveConfig({}, environment(kubeconfig([`client-certificate-data: ${b64(pair.cert)}`, `client-key-data: ${b64(pair.key)}`])));
      return describeApiError(unauthorized(), { config, requestTimeoutMs: undefined }).message;
    };
    assert.match(describe401(expired), /^unauthorized: .*context "ctx" \(the client certificate of user "u" expired on 2020-01-02T00:00:00\.000Z\): renew them or log in again$/);
    assert.match(describe401(future), /the client certificate of user "u" is not valid before /);
    assert.match(describe401(valid), /\(they may be expired, revoked or issued by another CA\): renew them or log in again$/);
    const tokenConfig = resolveConfig({}, environment(kubeconfig(['token: t'])));
    assert.match(describeApiError(unauthorized(), { config: tokenConfig, requestTimeoutMs: undefined }).message, /they may be expired/);
  });

  test('exec credential plugins: failure, not found, and output that is not JSON (never quoted: it may be a token)', () => {
    const config = resolveConfig({}, environment(kubeconfig([
      'exec:',
      '  apiVersion: client.authentication.k8s.io/v1',
      '  command: /opt/cloud/login-helper',
      '  interactiveMode: Never',
    ])));
    const connection = { config, requestTimeoutMs: undefined };
    const subject = 'the exec credential plugin "/opt/cloud/login-helper" of user "u" (context "ctx")';
    assert.equal(describeApiError(new Error('session expired, run cloud login\n'), connection).message, `${subject} failed: session expired, run cloud login; run it by hand, or log in again`);
    const notFound = Object.assign(new Error('spawn /opt/cloud/login-helper ENOENT'), { code: 'ENOENT' });
    assert.equal(describeApiError(notFound, connection).message, `${subject} was not found: install it, or fix the command in the kubeconfig`);
    let syntax: unknown;
    try {
      JSON.parse('FAKE-exec-token-0123456789');
    } catch (error) {
      syntax = error;
    }
    assert.ok(syntax instanceof SyntaxError && syntax.message.includes('FAKE-exec'), 'V8 quotes the input in JSON errors');
    const message = describeApiError(syntax, connection).message;
    assert.equal(message, `${subject} printed something that is not ExecCredential JSON; run it by hand to see what it prints`);
    // Network failures of a user with an exec plugin are still network failures.
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    assert.match(describeApiError(refused, connection).message, /cannot reach the API server .*connection refused/);
  });

  test('a user name with ":" is refused (registries split user:password at the first colon)', async () => {
    await assert.rejects(
      loadCredentials({ kind: 'login', server: 'r.example', username: 'team:ci', password: 'FAKE-pw' }, {} as Connection),
      (error: unknown) => error instanceof UsageError && error.message === 'invalid --username "team:ci": a registry user name cannot contain ":"',
    );
  });

  test('a docker config entry with only an identity token says so', async () => {
    await assert.rejects(
      resolveCredentials({ auths: { 'r.example': { identitytoken: 'FAKE-identity-token' } } }),
      (error: unknown) => error instanceof UsageError && /holds only an identity or registry token for registry r\.example, which the kubelet cannot use/.test(error.message) && !error.message.includes('FAKE'),
    );
  });

  test('a single failed change is named with its reason in the error line', () => {
    const failed = { namespace: 'shop', object: 'secret/regcred', result: 'failed', detail: 'it is in the way; use --force' };
    assert.throws(() => failIfAnyFailed([failed]), (error: unknown) =>
      error instanceof CliError && error.exitCode === ExitCode.failed && error.message === 'secret/regcred failed: it is in the way; use --force (namespace shop)');
    const ok = { namespace: 'shop', object: 'serviceaccount/default', result: 'attached', detail: 'regcred' };
    assert.throws(() => failIfAnyFailed([failed, ok]), (error: unknown) =>
      error instanceof CliError && error.message === '1 of 2 changes failed; 1 applied');
    // The line says exactly what happened to the others.
    const skipped = { namespace: 'shop', object: 'serviceaccount/default', result: 'skipped', detail: 'secret regcred was not written' };
    const unchanged = { namespace: 'shop', object: 'serviceaccount/ci', result: 'unchanged' };
    assert.throws(() => failIfAnyFailed([failed, skipped]), (error: unknown) =>
      error instanceof CliError && error.message === '1 of 2 changes failed; 1 skipped, nothing applied');
    assert.throws(() => failIfAnyFailed([failed, ok, unchanged, skipped]), (error: unknown) =>
      error instanceof CliError && error.message === '1 of 4 changes failed; 1 applied, 1 unchanged, 1 skipped');
    assert.throws(() => failIfAnyFailed([failed, { ...failed, object: 'secret/other' }]), (error: unknown) =>
      error instanceof CliError && error.message === 'all 2 changes failed');
    assert.doesNotThrow(() => failIfAnyFailed([ok]));
  });
});

describe('retryAfterMs', () => {
  test('the API server\'s Retry-After seconds, capped; nothing when it did not say', () => {
    const refused = (headers: Record<string, string | string[]>) => new ApiError(429, '{}', headers);
    assert.equal(retryAfterMs(refused({ 'retry-after': '1' })), 1000);
    assert.equal(retryAfterMs(refused({ 'retry-after': ['2'] })), 2000);
    assert.equal(retryAfterMs(refused({ 'retry-after': '3600' })), 10_000);
    assert.equal(retryAfterMs(refused({ 'retry-after': 'soon' })), undefined);
    assert.equal(retryAfterMs(refused({})), undefined);
    assert.equal(retryAfterMs(new Error('ECONNRESET')), undefined);
  });
});
