import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mapBoundedWithPrerequisites } from '../../lib/apply';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('mapBoundedWithPrerequisites', () => {
  test('every item once, after its prerequisites, never more than the limit in flight', async () => {
    const items = Array.from({ length: 40 }, (_, i) => i);
    // 0..9 are "secrets"; 10..39 "attaches", three per secret.
    const needs = (i: number) => (i >= 10 ? [(i - 10) % 10] : []);
    const done: number[] = [];
    let inFlight = 0;
    let most = 0;
    await mapBoundedWithPrerequisites(items, needs, 4, async (i) => {
      for (const prerequisite of needs(i)) assert.ok(done.includes(prerequisite), `${i} ran before ${prerequisite}`);
      inFlight++;
      most = Math.max(most, inFlight);
      await tick(1 + (i % 3));
      inFlight--;
      done.push(i);
    });
    assert.deepEqual([...done].sort((a, b) => a - b), items);
    assert.equal(most, 4);
  });

  test('a chain goes first: the first secret\'s attaches start before the last secret is written', async () => {
    const items = [...Array.from({ length: 20 }, (_, i) => `secret-${i}`), ...Array.from({ length: 20 }, (_, i) => `attach-${i}`)];
    const needs = (item: string) => (item.startsWith('attach-') ? [`secret-${item.slice(7)}`] : []);
    const started: string[] = [];
    await mapBoundedWithPrerequisites(items, needs, 2, async (item) => {
      started.push(item);
      await tick(1);
    });
    assert.ok(started.indexOf('attach-0') < started.indexOf('secret-19'), started.join(' '));
  });

  test('a failing task still releases what waits on it, and an empty list is done at once', async () => {
    const seen: string[] = [];
    await mapBoundedWithPrerequisites(['a', 'b'], (item) => (item === 'b' ? ['a'] : []), 8, async (item) => {
      seen.push(item);
      if (item === 'a') throw new Error('the caller records failures; this one escapes');
    }).catch(() => undefined);
    assert.deepEqual(seen, ['a', 'b']);
    await mapBoundedWithPrerequisites([], () => [], 8, async () => undefined);
  });
});
