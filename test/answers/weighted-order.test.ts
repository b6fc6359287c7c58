import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../src/answers/random.js';
import { weightedOrder } from '../../src/answers/weighted-order.js';

/** Chi-square statistic of observed counts against expected probabilities. */
function chiSquare(observed: number[], probabilities: number[], total: number): number {
  return observed.reduce((sum, o, i) => {
    const e = probabilities[i]! * total;
    return sum + (o - e) ** 2 / e;
  }, 0);
}

test('the first element is i with probability w_i / Σw (chi-square, 60/30/10)', () => {
  const weights = Float64Array.from([60, 30, 10]);
  const order = new Int32Array(3);
  const random = seededRandom(42);
  const counts = [0, 0, 0];
  const draws = 100_000;
  for (let i = 0; i < draws; i++) {
    weightedOrder(weights, order, random);
    counts[order[0]!]!++;
  }
  // 2 degrees of freedom: 13.82 is the 0.001 critical value.
  assert.ok(chiSquare(counts, [0.6, 0.3, 0.1], draws) < 13.82, `counts ${counts}`);
});

test('the rest follow without replacement: P(second = j | first = i) = w_j / (Σw − w_i)', () => {
  const weights = Float64Array.from([50, 30, 20]);
  const order = new Int32Array(3);
  const random = seededRandom(7);
  // Given first = 0, the second is 1 with 30/50 and 2 with 20/50.
  const second = [0, 0];
  for (let i = 0; i < 100_000; i++) {
    weightedOrder(weights, order, random);
    if (order[0] === 0) second[order[1]! - 1]!++;
  }
  const total = second[0]! + second[1]!;
  assert.ok(chiSquare(second, [0.6, 0.4], total) < 10.83, `second ${second}`);
});

test('every draw is a permutation, and equal weights are uniform', () => {
  const n = 7;
  const weights = new Float64Array(n).fill(1);
  const order = new Int32Array(n);
  const random = seededRandom(1);
  const firsts = new Array<number>(n).fill(0);
  for (let i = 0; i < 70_000; i++) {
    weightedOrder(weights, order, random);
    assert.deepEqual([...order].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6]);
    firsts[order[0]!]!++;
  }
  // 6 degrees of freedom: 22.46 at 0.001.
  assert.ok(chiSquare(firsts, new Array(n).fill(1 / n), 70_000) < 22.46, `firsts ${firsts}`);
});

test('a seeded source repeats its sequence; different seeds differ', () => {
  const a = seededRandom(99);
  const b = seededRandom(99);
  const c = seededRandom(100);
  const sa = Array.from({ length: 5 }, a);
  assert.deepEqual(Array.from({ length: 5 }, b), sa);
  assert.notDeepEqual(Array.from({ length: 5 }, c), sa);
  for (const v of sa) assert.ok(v >= 0 && v < 1);
});
