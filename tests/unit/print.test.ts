import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderOutcomes } from '../../lib/print';

describe('-o name', () => {
  test('one line per object: the same kind/name in two namespaces is two lines, as kubectl prints them', () => {
    const secret = { kind: 'Secret' };
    const account = { kind: 'ServiceAccount' };
    const { stdout, stderr, failed } = renderOutcomes(
      [
        { namespace: 'a', object: 'secret/regcred', result: 'created', after: secret },
        { namespace: 'a', object: 'serviceaccount/default', result: 'attached', detail: 'regcred', after: account },
        { namespace: 'b', object: 'secret/regcred', result: 'created', after: secret },
        { namespace: 'b', object: 'serviceaccount/default', result: 'attached', detail: 'regcred', after: account },
        // Two outcomes of one object are one line; an outcome with no object (skipped) is none.
        { namespace: 'b', object: 'serviceaccount/default', result: 'unchanged', after: account },
        { namespace: 'c', object: 'secret/regcred', result: 'skipped', detail: 'stale copy' },
      ],
      { dryRun: 'none', output: 'name' },
    );
    assert.equal(stdout, 'secret/regcred\nserviceaccount/default\nsecret/regcred\nserviceaccount/default\n');
    assert.equal(stderr, '');
    assert.equal(failed, 0);
  });
});
