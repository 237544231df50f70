// `kubectl pullsecret remove` against the real local control plane: the undo of `add`, checked by
// reading every object back as the admin.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  admin,
  createDockerConfigSecret,
  createServiceAccount,
  pullSecretNames,
  readSecret,
  readServiceAccount,
  run,
  setPullSecrets,
  withNamespace,
  assertOk,
} from './harness';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const PASSWORD = 'FAKE-remove-pw';
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');


function add(name: string, namespaceArgs: string[], extra: string[] = []) {
  return run(['add', name, ...namespaceArgs, '--server', 'registry.example', '--username', 'ci', '--password-stdin', ...extra], {
    stdin: `${PASSWORD}\n`,
  });
}

/** resourceVersions of every ServiceAccount and Secret in the namespace. */
async function versions(namespace: string): Promise<Record<string, string>> {
  const [sas, secrets] = await Promise.all([
    admin.core.listNamespacedServiceAccount({ namespace }),
    admin.core.listNamespacedSecret({ namespace }),
  ]);
  return Object.fromEntries([
    ...sas.items.map((sa) => [`serviceaccount/${sa.metadata!.name}`, sa.metadata!.resourceVersion!]),
    ...secrets.items.map((s) => [`secret/${s.metadata!.name}`, s.metadata!.resourceVersion!]),
  ]);
}

describe('remove', () => {
  test('detaches the secret from every ServiceAccount, keeping the other entries in order, and deletes our secret', async () => {
    await withNamespace('rm-basic', async (namespace) => {
      await setPullSecrets(namespace, 'default', ['first', 'second']);
      await createServiceAccount(namespace, 'builder', ['x', 'y']);
      await createServiceAccount(namespace, 'bystander', ['keep']);
      assertOk(await add('regcred', ['-n', namespace], ['--service-account', 'default', '--service-account', 'builder']), 'add');
      // Put it in the middle of builder's list: removal must not disturb the neighbours.
      await setPullSecrets(namespace, 'builder', ['x', 'regcred', 'y']);
      const bystander = (await readServiceAccount(namespace, 'bystander'))!;

      const result = await run(['remove', 'regcred', '-n', namespace]);
      assertOk(result, 'remove');
      assert.match(result.stdout, new RegExp(`^serviceaccount/default detached regcred \\(namespace ${namespace}\\)$`, 'm'));
      assert.match(result.stdout, new RegExp(`^serviceaccount/builder detached regcred \\(namespace ${namespace}\\)$`, 'm'));
      assert.match(result.stdout, new RegExp(`^secret/regcred deleted \\(namespace ${namespace}\\)$`, 'm'));
      assert.match(result.stdout, /^summary: 2 detached, 1 deleted$/m);
      assert.ok(!(result.stdout + result.stderr).includes(PASSWORD));

      assert.deepEqual(await pullSecretNames(namespace, 'default'), ['first', 'second']);
      assert.deepEqual(await pullSecretNames(namespace, 'builder'), ['x', 'y']);
      assert.deepEqual(await pullSecretNames(namespace, 'bystander'), ['keep']);
      assert.equal((await readServiceAccount(namespace, 'bystander'))!.metadata?.resourceVersion, bystander.metadata?.resourceVersion);
      assert.equal(await readSecret(namespace, 'regcred'), undefined);

      // Idempotent: a second run succeeds and changes nothing.
      const before = await versions(namespace);
      const again = await run(['remove', 'regcred', '-n', namespace]);
      assertOk(again, 'second remove');
      assert.doesNotMatch(again.stdout, /detached|deleted/);
      assert.deepEqual(await versions(namespace), before);
    });
  });

  test('--keep-secret only detaches', async () => {
    await withNamespace('rm-keep', async (namespace) => {
      await createServiceAccount(namespace, 'builder', ['other']);
      assertOk(await add('regcred', ['-n', namespace], ['--all-service-accounts']), 'add');
      const secret = (await readSecret(namespace, 'regcred'))!;
      const result = await run(['remove', 'regcred', '-n', namespace, '--keep-secret']);
      assertOk(result, 'remove --keep-secret');
      assert.doesNotMatch(result.stdout, /deleted/);
      assert.deepEqual(await pullSecretNames(namespace, 'default'), []);
      assert.deepEqual(await pullSecretNames(namespace, 'builder'), ['other']);
      const kept = await readSecret(namespace, 'regcred');
      assert.ok(kept, 'the secret was deleted despite --keep-secret');
      assert.equal(kept.metadata?.resourceVersion, secret.metadata?.resourceVersion);
    });
  });

  test('a secret we do not manage is detached but not deleted, unless --force', async () => {
    await withNamespace('rm-foreign', async (namespace) => {
      const foreign = { auths: { 'foreign.example': { username: 'them', password: 'FAKE-foreign-pw', auth: b64('them:FAKE-foreign-pw') } } };
      const created = await createDockerConfigSecret(namespace, 'foreign', foreign);
      await setPullSecrets(namespace, 'default', ['foreign', 'other']);

      const result = await run(['remove', 'foreign', '-n', namespace]);
      assertOk(result, 'remove');
      assert.match(result.stdout, new RegExp(`^serviceaccount/default detached foreign \\(namespace ${namespace}\\)$`, 'm'));
      assert.match(result.stdout, /^secret\/foreign skipped: .*not managed.*--force/m);
      assert.deepEqual(await pullSecretNames(namespace, 'default'), ['other']);
      const kept = await readSecret(namespace, 'foreign');
      assert.ok(kept, 'a secret we do not manage was deleted without --force');
      assert.equal(kept.metadata?.resourceVersion, created.metadata?.resourceVersion);

      await setPullSecrets(namespace, 'default', ['other', 'foreign']);
      const forced = await run(['remove', 'foreign', '-n', namespace, '--force']);
      assertOk(forced, 'remove --force');
      assert.match(forced.stdout, new RegExp(`^secret/foreign deleted \\(namespace ${namespace}\\)$`, 'm'));
      assert.equal(await readSecret(namespace, 'foreign'), undefined);
      assert.deepEqual(await pullSecretNames(namespace, 'default'), ['other']);
      assert.ok(!(result.stdout + result.stderr + forced.stdout + forced.stderr).includes('FAKE-foreign-pw'));
    });
  });

  test('--dry-run=client and --dry-run=server show the plan and change nothing', async () => {
    await withNamespace('rm-dry', async (namespace) => {
      await createServiceAccount(namespace, 'builder', ['other']);
      assertOk(await add('regcred', ['-n', namespace], ['--all-service-accounts']), 'add');
      const before = await versions(namespace);
      for (const [mode, suffix] of [['client', '(dry run)'], ['server', '(server dry run)']] as const) {
        const result = await run(['remove', 'regcred', '-n', namespace, `--dry-run=${mode}`]);
        assertOk(result, `remove --dry-run=${mode}`);
        assert.match(result.stdout, new RegExp(`^serviceaccount/default detached regcred \\(namespace ${namespace}\\) ${escape(suffix)}$`, 'm'));
        assert.match(result.stdout, new RegExp(`^serviceaccount/builder detached regcred \\(namespace ${namespace}\\) ${escape(suffix)}$`, 'm'));
        assert.match(result.stdout, new RegExp(`^secret/regcred deleted \\(namespace ${namespace}\\) ${escape(suffix)}$`, 'm'));
        assert.deepEqual(await versions(namespace), before, `--dry-run=${mode} changed something`);
        assert.deepEqual(await pullSecretNames(namespace, 'builder'), ['other', 'regcred']);
        assert.deepEqual(await pullSecretNames(namespace, 'default'), ['regcred']);
        assert.ok(await readSecret(namespace, 'regcred'));
      }
    });
  });

  test('remove -A restores the exact pre-add state of every ServiceAccount and secret in every namespace', async () => {
    const name = `undo-${process.pid}`;
    await withNamespace('rm-undo-a', async (a) => {
      await withNamespace('rm-undo-b', async (b) => {
        for (const namespace of [a, b]) {
          await createDockerConfigSecret(namespace, 'foreign-1', { auths: { 'foreign.example': { auth: b64('them:FAKE-undo-foreign') } } });
          await admin.core.createNamespacedSecret({ namespace, body: { metadata: { name: 'opaque-1' }, type: 'Opaque', data: { k: b64('v') } } });
          await createServiceAccount(namespace, 'builder', ['foreign-1', 'builder-dockercfg-abc']);
          await createServiceAccount(namespace, 'deployer', ['other']);
          await createServiceAccount(namespace, 'unrelated', ['foreign-1']);
        }
        const snapshot = async () => {
          const state: Record<string, unknown> = {};
          for (const namespace of [a, b]) {
            const sas = await admin.core.listNamespacedServiceAccount({ namespace });
            for (const sa of sas.items) state[`${namespace}/serviceaccount/${sa.metadata!.name}`] = sa.imagePullSecrets;
            const secrets = await admin.core.listNamespacedSecret({ namespace });
            for (const secret of secrets.items) {
              const m = secret.metadata!;
              state[`${namespace}/secret/${m.name}`] = { type: secret.type, resourceVersion: m.resourceVersion, data: secret.data, labels: m.labels, annotations: m.annotations };
            }
          }
          return state;
        };
        const before = await snapshot();

        const added = await add(name, ['--namespaces', `${a},${b}`], ['--service-account', 'default', '--service-account', 'builder', '--service-account', 'deployer']);
        assertOk(added, 'add');
        for (const namespace of [a, b]) {
          assert.ok(await readSecret(namespace, name));
          assert.deepEqual(await pullSecretNames(namespace, 'default'), [name]);
          assert.deepEqual(await pullSecretNames(namespace, 'builder'), ['foreign-1', 'builder-dockercfg-abc', name]);
          assert.deepEqual(await pullSecretNames(namespace, 'deployer'), ['other', name]);
        }
        assert.notDeepEqual(await snapshot(), before);

        const removed = await run(['remove', name, '-A']);
        assertOk(removed, 'remove -A');
        assert.match(removed.stdout, /^summary: 6 detached, 2 deleted$/m);
        assert.deepEqual(await snapshot(), before);

        const again = await run(['remove', name, '-A']);
        assertOk(again, 'second remove -A');
        assert.doesNotMatch(again.stdout, /detached|deleted/);
        assert.deepEqual(await snapshot(), before);
      });
    });
  });
});
