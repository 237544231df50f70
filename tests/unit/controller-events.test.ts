// The Event recorder's deduplication, held to client-go's k8s.io/client-go/tools/events with an
// injected clock: what makes events identical, when a series starts, what the heartbeat and the
// end of a series send. The writes themselves are checked against the API server in
// tests/integration/controller-observability.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  EventCache,
  FINISH_MS,
  eventKey,
  eventName,
  isDirty,
  microTime,
  truncateBytes,
  type KubeEvent,
  type ObjectReference,
} from '../../lib/controller/events';

const namespaceRef: ObjectReference = { kind: 'Namespace', apiVersion: 'v1', name: 'team-a', uid: 'u-1', resourceVersion: '7' };

function makeEvent(overrides: Partial<KubeEvent> = {}): KubeEvent {
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: 'team-a.1', namespace: 'default' },
    eventTime: microTime(0),
    reportingController: 'kubectl-pullsecret',
    reportingInstance: 'pod-1',
    action: 'Sync',
    reason: 'SecretCopied',
    regarding: namespaceRef,
    note: 'copied regcred',
    type: 'Normal',
    ...overrides,
  };
}

describe('eventKey: what client-go counts as the same event', () => {
  test('type, action, reason, controller, instance, regarding and related make the key', () => {
    const base = eventKey(makeEvent());
    assert.notEqual(eventKey(makeEvent({ type: 'Warning' })), base);
    assert.notEqual(eventKey(makeEvent({ action: 'Attach' })), base);
    assert.notEqual(eventKey(makeEvent({ reason: 'SecretUpdated' })), base);
    assert.notEqual(eventKey(makeEvent({ reportingInstance: 'pod-2' })), base);
    assert.notEqual(eventKey(makeEvent({ regarding: { ...namespaceRef, name: 'team-b' } })), base);
    assert.notEqual(eventKey(makeEvent({ regarding: { ...namespaceRef, resourceVersion: '8' } })), base);
    assert.notEqual(eventKey(makeEvent({ related: { kind: 'Secret', namespace: 'team-a', name: 'regcred' } })), base);
  });

  test('the note, the name and the time are not part of it (a series keeps its first note)', () => {
    const base = eventKey(makeEvent());
    assert.equal(eventKey(makeEvent({ note: 'another note', metadata: { name: 'x.2', namespace: 'default' }, eventTime: microTime(5) })), base);
  });

  test('field order and empty fields of a reference do not matter', () => {
    const reordered: ObjectReference = { resourceVersion: '7', uid: 'u-1', name: 'team-a', apiVersion: 'v1', kind: 'Namespace', namespace: '' };
    assert.equal(eventKey(makeEvent({ regarding: reordered })), eventKey(makeEvent()));
  });
});

describe('EventCache: series like client-go', () => {
  test('first: create; second: series of 2 sent at once; later: counted, sent by the heartbeat', () => {
    const cache = new EventCache();
    const first = cache.observe(makeEvent(), 1000);
    assert.equal(first.write, true);
    assert.equal(first.isNew, true);
    cache.remember(first.entry);
    first.entry.created = true;
    first.entry.sentCount = 1;
    assert.deepEqual(cache.heartbeat(), [], 'a single Event has nothing to refresh');

    const second = cache.observe(makeEvent({ note: 'other' }), 2000);
    assert.equal(second.write, true);
    assert.equal(second.isNew, false);
    assert.equal(second.entry, first.entry);
    assert.deepEqual(second.entry.event.series, { count: 2, lastObservedTime: microTime(2000) });
    assert.equal(second.entry.event.note, 'copied regcred', 'the first note stays');
    second.entry.sentCount = 2;

    const third = cache.observe(makeEvent(), 3000);
    assert.equal(third.write, false, 'the third occurrence waits for the heartbeat');
    const fourth = cache.observe(makeEvent(), 4000);
    assert.equal(fourth.write, false);
    assert.deepEqual(fourth.entry.event.series, { count: 4, lastObservedTime: microTime(4000) });
    assert.deepEqual(cache.heartbeat(), [first.entry]);
    first.entry.sentCount = 4;
    assert.deepEqual(cache.heartbeat(), [], 'nothing new: nothing sent');
  });

  test('a series lives while it is observed within 6 minutes, then ends with its last count sent', () => {
    const cache = new EventCache();
    const { entry } = cache.observe(makeEvent(), 0);
    cache.remember(entry);
    entry.created = true;
    entry.sentCount = 1;
    cache.observe(makeEvent(), 60_000);
    entry.sentCount = 2;
    cache.observe(makeEvent(), 5 * 60_000);
    assert.deepEqual(cache.finish(FINISH_MS + 1), [], 'last seen 1 minute before: still live');
    assert.equal(cache.entries.size, 1);
    assert.ok(isDirty(entry));
    assert.deepEqual(cache.finish(5 * 60_000 + FINISH_MS + 1), [entry], 'ended: its count 3 is still to send');
    assert.equal(cache.entries.size, 0);
    const again = cache.observe(makeEvent(), 20 * 60_000);
    assert.equal(again.isNew, true, 'after the end, the same event is a new Event');
  });

  test('a single Event is forgotten 6 minutes after it happened; a sent series ends without a write', () => {
    const cache = new EventCache();
    const single = cache.observe(makeEvent(), 0).entry;
    cache.remember(single);
    const other = cache.observe(makeEvent({ reason: 'Attached' }), 0).entry;
    cache.remember(other);
    cache.observe(makeEvent({ reason: 'Attached' }), 1000);
    other.sentCount = 2;
    assert.deepEqual(cache.finish(FINISH_MS), [], 'exactly 6 minutes: kept');
    assert.deepEqual(cache.finish(FINISH_MS + 1001), []);
    assert.equal(cache.entries.size, 0);
  });

  test('the window of a custom finish time (tests use a short one)', () => {
    const cache = new EventCache(100);
    cache.remember(cache.observe(makeEvent(), 0).entry);
    assert.equal(cache.observe(makeEvent(), 50).isNew, false);
    cache.finish(200);
    assert.equal(cache.observe(makeEvent(), 201).isNew, true);
  });
});

describe('names, times and limits', () => {
  test('client-go names: <regarding>.<hex nanoseconds>, a UUID when that is no valid name', () => {
    assert.equal(eventName('team-a', 0x17f0a1b2c3d4e5f6n), 'team-a.17f0a1b2c3d4e5f6');
    assert.match(eventName('Not_Valid', 1n), /^[0-9a-f-]{36}$/);
    assert.equal(eventName('a'.repeat(250), 1n), `${'a'.repeat(250)}.1`, 'labels may be long: only the whole name is limited');
    assert.match(eventName('a'.repeat(252), 1n), /^[0-9a-f-]{36}$/);
  });

  test('MicroTime has six fractional digits', () => {
    assert.equal(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678)), '2026-01-02T03:04:05.678000Z');
  });

  test('notes are cut to the 1024 bytes the API server allows, never inside a character', () => {
    assert.equal(truncateBytes('short', 1024), 'short');
    const cut = truncateBytes('é'.repeat(600), 1024);
    assert.equal(Buffer.byteLength(cut), 1024);
    const odd = truncateBytes(`x${'é'.repeat(600)}`, 1024);
    assert.ok(Buffer.byteLength(odd) <= 1024 && !odd.includes('\uFFFD'));
    assert.equal(Buffer.byteLength(odd), 1023);
  });
});
