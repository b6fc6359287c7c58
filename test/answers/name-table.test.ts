import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LB_ROUND_ROBIN, weightedSet } from '../../src/answers/name-table.js';
import { RRType } from '../../src/wire/constants.js';
import { addressRecord } from '../../src/wire/rdata.js';

const records = (n: number) => Array.from({ length: n }, (_, i) => addressRecord(`10.0.0.${i + 1}`, 5));

test('sets of a few records weighing alike share one weights array, as given', () => {
  const a = weightedSet(RRType.A, records(3), [100, 100, 100]);
  const b = weightedSet(RRType.A, records(3), [100, 100, 100]);
  assert.deepEqual(a.weights, [100, 100, 100]);
  assert.equal(a.weights, b.weights);
  // Another count or weight is another array; the caller's array is copied, never kept.
  assert.notEqual(weightedSet(RRType.A, records(2), [100, 100]).weights, a.weights);
  const uneven = [70, 30, 30];
  const c = weightedSet(RRType.A, records(3), uneven);
  assert.deepEqual(c.weights, [70, 30, 30]);
  assert.notEqual(c.weights, uneven);
  assert.equal(weightedSet(RRType.A, records(3), [70, 30, 30]).weights, c.weights);
  assert.notEqual(weightedSet(RRType.A, records(3), [30, 70, 30]).weights, c.weights);
  // Round robin keeps whole weights: 0.4 rounds up to 1, then all weigh alike.
  assert.deepEqual(weightedSet(RRType.A, records(3), [1, 0.4, 1.2], { lb: LB_ROUND_ROBIN, limit: 0, zones: null }).weights, [1, 1, 1]);
  // One record: no order to draw, no weights.
  assert.equal(weightedSet(RRType.A, records(1), [5]).weights, null);
});
