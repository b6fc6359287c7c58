import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roundRobinOrder, uniformOrder, zoneFirst } from '../../src/answers/policy-order.js';
import { seededRandom } from '../../src/answers/random.js';

test('smooth round robin: over any Σw consecutive picks each comes first exactly w times, interleaved', () => {
  const weights = [5, 1, 1];
  const current = new Float64Array(3);
  const order = new Int32Array(3);
  const firsts: number[] = [];
  for (let k = 0; k < 70; k++) {
    roundRobinOrder(weights, current, order);
    firsts.push(order[0]!);
    assert.deepEqual([...order].sort(), [0, 1, 2], 'a permutation');
  }
  // nginx's documented sequence for 5/1/1: a a b a c a a, repeating.
  assert.deepEqual(firsts.slice(0, 7), [0, 0, 1, 0, 2, 0, 0]);
  for (let start = 0; start + 7 <= firsts.length; start++) {
    const window = firsts.slice(start, start + 7);
    assert.deepEqual([0, 1, 2].map((i) => window.filter((f) => f === i).length), [5, 1, 1], `window at ${start}`);
  }
  // Interleaved, not in runs: never all five of the heavy one's turns in a row (plain round robin would).
  assert.doesNotMatch(firsts.join(''), /00000/);
});

test('uniform order ignores weights: each element first about 1/n of the time', () => {
  const random = seededRandom(7);
  const order = new Int32Array(4);
  const counts = [0, 0, 0, 0];
  const n = 40_000;
  for (let k = 0; k < n; k++) {
    uniformOrder(4, order, random);
    counts[order[0]!]!++;
    assert.equal(new Set(order).size, 4);
  }
  for (const c of counts) assert.ok(Math.abs(c / n - 0.25) < 0.01, JSON.stringify(counts));
});

test('zoneFirst moves the client zone to the front, keeping order within both groups; nothing moves without a match', () => {
  const order = Int32Array.from([3, 0, 2, 1]);
  zoneFirst(order, 4, ['a', 'b', 'a', 'b'], 'b', new Int32Array(4));
  assert.deepEqual([...order], [3, 1, 0, 2]);
  const none = Int32Array.from([2, 0, 1]);
  zoneFirst(none, 3, ['a', undefined, 'a'], 'z', new Int32Array(3));
  assert.deepEqual([...none], [2, 0, 1]);
});
