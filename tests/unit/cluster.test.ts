// Which failed LIST pages lib/cluster answers by listing again in full. The whole path (a
// continue token that really expired through an etcd compaction) runs against the real API
// server in tests/integration/list-expired.test.ts; this is the decision alone.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { continueExpired } from '../../lib/cluster';
import { ApiError } from '../../lib/connect';
import { CliError } from '../../lib/errors';

// The body the API server sends with a 410 to a continued page (k8s.io/apiserver etcd3/errors.go).
const expired = new ApiError(410, JSON.stringify({
  kind: 'Status', status: 'Failure', reason: 'Expired', code: 410,
  message: 'The provided continue parameter is too old to display a consistent list result.',
  metadata: { continue: 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6LTF9' },
}));

describe('continueExpired', () => {
  test('a 410 to a page that carried a continue token: list again in full', () => {
    assert.equal(continueExpired(expired, 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzfQ'), true);
  });

  test('a 410 to a first page (no continue token) stays an error', () => {
    assert.equal(continueExpired(expired, undefined), false);
  });

  test('other failures of a continued page are not answered by a full LIST', () => {
    const token = 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzfQ';
    for (const status of [400, 403, 404, 409, 429, 500, 503]) assert.equal(continueExpired(new ApiError(status, '{}'), token), false, String(status));
    assert.equal(continueExpired(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), token), false);
    // An error already described for the user has lost its status: never mistaken for a 410.
    assert.equal(continueExpired(new CliError('Expired: too old'), token), false);
  });
});
