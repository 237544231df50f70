// `--version` at the root and shell completion (`__complete`, what kubectl_complete-pullsecret
// runs), driven through the built plugin against the real local control plane.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { createDockerConfigSecret, createServiceAccount, repoRoot, run, tempDir, withNamespace } from './harness';

const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };

/** The candidates (values only) and the directive of a completion answer. */
async function complete(words: string[], env?: Record<string, string | undefined>) {
  const result = await run(['__complete', ...words], env ? { env } : {});
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  const lines = result.stdout.trimEnd().split('\n');
  const directive = lines.pop();
  assert.match(directive ?? '', /^:\d+$/, `no directive line in:\n${result.stdout}`);
  return { candidates: lines.map((line) => line.split('\t')[0]!), lines, directive: Number(directive!.slice(1)) };
}

describe('--version', () => {
  test('prints the plugin version and nothing else', async () => {
    const result = await run(['--version']);
    assert.deepEqual([result.code, result.stdout, result.stderr], [0, `v${version}\n`, '']);
  });

  test('version --client still answers with the same version', async () => {
    const result = await run(['version', '--client']);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `Client Version: v${version}\n`);
  });

  test('is a root flag only: after a verb it is an unknown argument', async () => {
    const result = await run(['list', '--version']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^error: Unknown argument: version/);
  });
});

describe('completion', () => {
  test('verbs, with their descriptions, and no file names', async () => {
    const { candidates, lines, directive } = await complete(['']);
    for (const verb of ['add', 'list', 'remove', 'version']) assert.ok(candidates.includes(verb), `${verb} missing: ${candidates}`);
    assert.ok(!candidates.some((c) => c.startsWith('__')), 'the hidden command is not offered');
    assert.ok(lines.find((l) => l.startsWith('list\t'))!.includes('List pull secrets'));
    assert.equal(directive, 4);
    assert.deepEqual((await complete(['li'])).candidates, ['list']);
    assert.deepEqual((await complete(['lst', ''])).candidates, [], 'nothing after a word that is no verb');
  });

  test("flags of the verb being typed, the connection flags included", async () => {
    const { candidates } = await complete(['remove', 'regcred', '--']);
    for (const flag of ['--keep-secret', '--dry-run', '--namespace', '--kubeconfig', '--all-namespaces']) {
      assert.ok(candidates.includes(flag), `${flag} missing: ${candidates}`);
    }
    assert.ok(!candidates.includes('--password'), 'hidden flags are not offered');
    assert.deepEqual((await complete(['list', '-A', '--o'])).candidates, ['--output']);
  });

  test('namespaces, pull secrets and ServiceAccounts from the cluster', async () => {
    await withNamespace('complete', async (namespace) => {
      await createDockerConfigSecret(namespace, 'regcred', { auths: { 'registry.example': { auth: 'dTpw' } } });
      await createServiceAccount(namespace, 'builder');
      assert.ok((await complete(['list', '-n', ''])).candidates.includes(namespace));
      assert.ok((await complete(['list', `--namespace=${namespace.slice(0, 8)}`])).candidates.includes(`--namespace=${namespace}`));
      assert.deepEqual((await complete(['remove', '-n', namespace, ''])).candidates, ['regcred']);
      assert.deepEqual((await complete(['add', 'regcred', '-n', namespace, '--service-account', ''])).candidates.sort(), ['builder', 'default']);
      assert.ok((await complete(['add', 'x', '--from-secret', ''])).candidates.includes(`${namespace}/regcred`));
      assert.ok((await complete(['add', 'x', '--namespaces', 'default,kube-'])).candidates.includes('default,kube-system'));
    });
  });

  test('contexts from the kubeconfig; file names for --kubeconfig', async () => {
    const contexts = await complete(['list', '--context', '']);
    assert.deepEqual(contexts.candidates, ['pullsecret-local-admin', 'pullsecret-local-restricted']);
    assert.deepEqual(await complete(['list', '--kubeconfig', '']), { candidates: [], lines: [], directive: 0 });
  });

  test('without a cluster to ask: no candidates, the error directive, and silence', async () => {
    const empty = tempDir();
    try {
      const result = await complete(['list', '-n', ''], { KUBECONFIG: path.join(empty.dir, 'missing'), HOME: empty.dir });
      assert.deepEqual([result.candidates, result.directive], [[], 1]);
    } finally {
      empty.cleanup();
    }
  });
});
