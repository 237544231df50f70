// The controller's metrics and log lines (that prom-client stays out of the one-shot verbs is
// checked with the other start-up imports, in startup-imports.test.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMetrics } from '../../lib/controller/metrics';
import { createLogger, formatLogLine, parseLogFormat } from '../../lib/controller/log';
import { UsageError } from '../../lib/errors';

describe('createMetrics', () => {
  test('every family is in the text format, prefixed, in a registry of its own', async () => {
    const metrics = createMetrics();
    metrics.writes.inc({ kind: 'secret', result: 'created' });
    metrics.reconcileDuration.observe(0.2);
    metrics.watchRestarts.inc({ resource: 'secrets' });
    metrics.queueDepth.set(3);
    metrics.webhookRequests.inc({ outcome: 'mutated' });
    metrics.webhookLatency.observe(0.0007);
    metrics.leader.set(1);
    metrics.certificateExpiry.set(1_800_000_000);
    const text = await metrics.registry.metrics();
    for (const line of [
      'kubectl_pullsecret_writes_total{kind="secret",result="created"} 1',
      'kubectl_pullsecret_reconcile_duration_seconds_count 1',
      'kubectl_pullsecret_watch_restarts_total{resource="secrets"} 1',
      'kubectl_pullsecret_queue_depth 3',
      'kubectl_pullsecret_webhook_requests_total{outcome="mutated"} 1',
      'kubectl_pullsecret_webhook_requests_total{outcome="error"} 0',
      'kubectl_pullsecret_webhook_latency_seconds_bucket{le="0.001"} 1',
      'kubectl_pullsecret_leader 1',
      'kubectl_pullsecret_certificate_expiry_timestamp_seconds 1800000000',
      '# TYPE kubectl_pullsecret_events_dropped_total counter',
      '# TYPE kubectl_pullsecret_process_cpu_seconds_total counter',
      '# TYPE kubectl_pullsecret_nodejs_eventloop_lag_seconds gauge',
    ]) {
      assert.ok(text.includes(line), `missing: ${line}`);
    }
    for (const family of text.matchAll(/^# TYPE (\S+)/gm)) assert.ok(family[1]!.startsWith('kubectl_pullsecret_'), family[1]);
    // A second registry (tests, or a restart in-process) does not collide with the first.
    assert.doesNotThrow(() => createMetrics());
  });
});

describe('log lines', () => {
  const time = new Date(Date.UTC(2026, 4, 6, 7, 8, 9, 123));

  test('text: what the controller has always printed', () => {
    assert.equal(formatLogLine('text', time, 'info', 'watching namespaces'), '2026-05-06T07:08:09Z watching namespaces');
    assert.equal(formatLogLine('text', time, 'error', 'boom'), '2026-05-06T07:08:09Z error: boom');
    assert.equal(formatLogLine('text', time, 'info', 'synced', { namespace: 'team-a', changes: 2, note: 'two words' }),
      '2026-05-06T07:08:09Z synced namespace=team-a changes=2 note="two words"');
  });

  test('json: one object per line, fields alongside, our keys not overridable', () => {
    const line = formatLogLine('json', time, 'error', 'first\nsecond', { namespace: 'team-a', msg: 'forged', skip: undefined });
    assert.ok(!line.includes('\n'));
    assert.deepEqual(JSON.parse(line), { ts: '2026-05-06T07:08:09.123Z', level: 'error', msg: 'first second', namespace: 'team-a' });
  });

  test('createLogger writes through the given sink; --log-format is checked', () => {
    const lines: string[] = [];
    const log = createLogger({ format: 'json', write: (line) => lines.push(line), now: () => time });
    log.info('hello', { n: 1 });
    assert.deepEqual(lines.map((line) => JSON.parse(line)), [{ ts: '2026-05-06T07:08:09.123Z', level: 'info', msg: 'hello', n: 1 }]);
    assert.equal(parseLogFormat('text'), 'text');
    assert.throws(() => parseLogFormat('yaml'), UsageError);
  });
});
