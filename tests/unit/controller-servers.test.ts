// The controller's probe and metrics endpoints: bind addresses read like controller-runtime's
// flags, and /healthz /readyz answers in its words.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UsageError } from '../../lib/errors';
import { parseBindAddress, probeAnswer, singleCheckAnswer, type Check } from '../../lib/controller/servers';

describe('parseBindAddress', () => {
  test('the forms net.Listen takes', () => {
    assert.deepEqual(parseBindAddress(':8080', 'metrics-bind-address'), { port: 8080 });
    assert.deepEqual(parseBindAddress('127.0.0.1:0', 'metrics-bind-address'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseBindAddress('0.0.0.0:8081', 'x'), { host: '0.0.0.0', port: 8081 });
    assert.deepEqual(parseBindAddress('[::1]:9443', 'x'), { host: '::1', port: 9443 });
    assert.deepEqual(parseBindAddress('[::]:80', 'x'), { host: '::', port: 80 });
    assert.deepEqual(parseBindAddress('localhost:65535', 'x'), { host: 'localhost', port: 65535 });
  });

  test('"0" turns a server off; "" is the default for metrics and off for probes, as in controller-runtime', () => {
    assert.equal(parseBindAddress('0', 'metrics-bind-address', ':8080'), undefined);
    assert.equal(parseBindAddress('0', 'health-probe-bind-address'), undefined);
    assert.deepEqual(parseBindAddress('', 'metrics-bind-address', ':8080'), { port: 8080 });
    assert.equal(parseBindAddress('', 'health-probe-bind-address'), undefined);
  });

  test('anything else is a usage error naming the flag', () => {
    for (const bad of ['8080', ':http', 'host', ':65536', '::1:80', '[::1]', 'a:b:1', ':-1', ' :80']) {
      assert.throws(
        () => parseBindAddress(bad, 'metrics-bind-address'),
        (error: unknown) => error instanceof UsageError && error.message.includes('--metrics-bind-address') && !error.message.includes('\n'),
        bad,
      );
    }
  });
});

describe('probeAnswer: controller-runtime healthz output', () => {
  const checks = (entries: Record<string, Check>) => new Map(Object.entries(entries));

  test('all passing: "ok", or the list with ?verbose', () => {
    const all = checks({ leader: () => true, informers: () => true });
    assert.deepEqual(probeAnswer('readyz', all), { status: 200, body: 'ok' });
    assert.deepEqual(probeAnswer('readyz', all, { verbose: true }), {
      status: 200,
      body: '[+]informers ok\n[+]leader ok\nreadyz check passed\n',
    });
  });

  test('one failing: 500, every check listed in name order, the reason given', () => {
    const some = checks({ webhook: () => 'serving certificate not loaded', informers: () => true, leader: () => false });
    assert.deepEqual(probeAnswer('readyz', some), {
      status: 500,
      body: '[+]informers ok\n[-]leader failed: not ready\n[-]webhook failed: serving certificate not loaded\nreadyz check failed\n',
    });
  });

  test('a check that throws fails, on one line', () => {
    const answer = probeAnswer('readyz', checks({ broken: () => { throw new Error('boom\nsecond line'); } }));
    assert.equal(answer.status, 500);
    assert.match(answer.body, /^\[-\]broken failed: boom second line\n/);
  });

  test('?exclude leaves a check out; no checks at all means the process answers (ping)', () => {
    const some = checks({ leader: () => false, informers: () => true });
    assert.deepEqual(probeAnswer('readyz', some, { exclude: ['leader'], verbose: true }), {
      status: 200,
      body: '[+]informers ok\n[+]leader excluded: ok\nreadyz check passed\n',
    });
    assert.deepEqual(probeAnswer('healthz', new Map(), { verbose: true }), { status: 200, body: '[+]ping ok\nhealthz check passed\n' });
  });

  test('/readyz/<name> runs one check', () => {
    const some = checks({ leader: () => 'lease held by another replica', informers: () => true });
    assert.deepEqual(singleCheckAnswer(some, 'informers'), { status: 200, body: 'ok' });
    assert.deepEqual(singleCheckAnswer(some, 'leader'), { status: 500, body: 'internal server error: lease held by another replica\n' });
    assert.equal(singleCheckAnswer(some, 'nope').status, 404);
  });

  test('the map is read on every request: checks added later count', () => {
    const live = new Map<string, Check>();
    assert.equal(probeAnswer('readyz', live).status, 200);
    let synced = false;
    live.set('informers', () => synced || 'caches not synced');
    assert.equal(probeAnswer('readyz', live).status, 500);
    synced = true;
    assert.equal(probeAnswer('readyz', live).status, 200);
  });
});
