// The pure parts of leader election: MicroTime strings, the wall-clock expiry one-shot readers
// use, identities, and the duration checks client-go makes.
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import { LeaderElector, defaultIdentity, leaseExpired, microTime } from '../../lib/controller/leader';
import { UsageError } from '../../lib/errors';
import type { Connection } from '../../lib/connect';

describe('leader election helpers', () => {
  test('microTime is RFC 3339 in UTC with six fractional digits, as metav1.MicroTime', () => {
    assert.equal(microTime(new Date(Date.UTC(2026, 11, 5, 9, 0, 0, 123))), '2026-12-05T09:00:00.123000Z');
    assert.match(microTime(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  test('a lease expires renewTime + leaseDurationSeconds after its renewal, and never without a holder', () => {
    const spec = { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: '2026-12-05T09:00:00.000000Z' };
    const renewed = Date.parse(spec.renewTime);
    assert.equal(leaseExpired(spec, renewed + 14_999), false);
    assert.equal(leaseExpired(spec, renewed + 15_001), true);
    assert.equal(leaseExpired({ ...spec, holderIdentity: '' }, renewed), true, 'released: no holder');
    assert.equal(leaseExpired(undefined), true);
    assert.equal(leaseExpired({ holderIdentity: 'a' }), false, 'a holder without times is taken as alive');
  });

  test('the identity is POD_NAME in a cluster, else hostname_uuid, unique per process', () => {
    assert.equal(defaultIdentity({ POD_NAME: 'kps-controller-7d9f-abcde' }), 'kps-controller-7d9f-abcde');
    const [a, b] = [defaultIdentity({}), defaultIdentity({})];
    assert.match(a, new RegExp(`^${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_[0-9a-f-]{36}$`));
    assert.notEqual(a, b);
  });

  test('durations are checked as client-go does: lease > renew deadline > 1.2 × retry, lease in whole seconds', () => {
    const connection = {} as Connection;
    const make = (durations: { leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number }, identity = 'me') =>
      new LeaderElector(connection, { namespace: 'ns', name: 'lease', identity, ...durations }, { onStartedLeading() {}, onStoppedLeading() {} }, () => {});
    assert.doesNotThrow(() => make({}));
    assert.doesNotThrow(() => make({ leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 300 }));
    assert.throws(() => make({ leaseDurationMs: 10_000 }), UsageError, 'lease not longer than the renew deadline');
    assert.throws(() => make({ renewDeadlineMs: 2400 }), UsageError, 'renew deadline within 1.2 retry periods');
    assert.throws(() => make({ leaseDurationMs: 15_500 }), UsageError, 'fractional seconds cannot be written to the Lease');
    assert.throws(() => make({}, ''), UsageError);
  });
});
