import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedSet, LB_RANDOM, LB_ROUND_ROBIN, PLAIN_DRAW, RRSets, weightedSet } from '../../src/answers/name-table.js';
import { RRType } from '../../src/wire/constants.js';
import { record, RecordBlock, type BlockBytes } from '../../src/wire/rdata.js';

/** n address records in a service node's block, as the catalog builds them. */
function records(n: number): [readonly number[], BlockBytes] {
  const block = new RecordBlock();
  const refs = Array.from({ length: n }, (_, i) => block.address(`10.0.0.${i + 1}`, 5));
  block.seal();
  return [refs, block.bytes];
}

test('sets of a few records weighing alike share one weights array, as given', () => {
  const a = weightedSet(RRType.A, ...records(3), [100, 100, 100]);
  const b = weightedSet(RRType.A, ...records(3), [100, 100, 100]);
  assert.deepEqual(a.weights, [100, 100, 100]);
  assert.equal(a.weights, b.weights);
  // Another count or weight is another array; the caller's array is copied, never kept.
  assert.notEqual(weightedSet(RRType.A, ...records(2), [100, 100]).weights, a.weights);
  const uneven = [70, 30, 30];
  const c = weightedSet(RRType.A, ...records(3), uneven);
  assert.deepEqual(c.weights, [70, 30, 30]);
  assert.notEqual(c.weights, uneven);
  assert.equal(weightedSet(RRType.A, ...records(3), [70, 30, 30]).weights, c.weights);
  assert.notEqual(weightedSet(RRType.A, ...records(3), [30, 70, 30]).weights, c.weights);
  // Round robin keeps whole weights: 0.4 rounds up to 1, then all weigh alike.
  assert.deepEqual(weightedSet(RRType.A, ...records(3), [1, 0.4, 1.2], { lb: LB_ROUND_ROBIN, limit: 0, zones: null }).weights, [1, 1, 1]);
  // One record: no order to draw, no weights.
  assert.equal(weightedSet(RRType.A, ...records(1), [5]).weights, null);
});

test('a name\'s sets by type: one to three in fields, more after them; replaced in place, in the order added', () => {
  const txt = (text: string) => fixedSet(RRType.TXT, [record(RRType.TXT, 5, Buffer.from([text.length, ...Buffer.from(text)]))]);
  const types = [RRType.A, RRType.AAAA, RRType.TXT, RRType.MX, RRType.SRV, RRType.CAA];
  const sets = types.map((type) => ({ ...txt(String(type)), type }));
  const all = new RRSets(sets.slice(0, 2).map((s) => [s.type, s] as const));
  assert.equal(all.size, 2);
  assert.equal(all.get(RRType.TXT), undefined);
  for (const s of sets.slice(2)) all.set(s.type, s);
  assert.equal(all.size, types.length);
  for (const s of sets) assert.equal(all.get(s.type), s, `type ${s.type}`);
  assert.deepEqual([...all.values()].map((s) => s.type), types);
  assert.equal(all.get(RRType.NS), undefined);
  assert.equal(all.has(RRType.NS), false);
  // Replacing keeps the place and the count, in the fields and after them alike.
  for (const type of [RRType.AAAA, RRType.CAA]) {
    const again = { ...txt('again'), type };
    all.set(type, again);
    assert.equal(all.get(type), again);
  }
  assert.equal(all.size, types.length);
  assert.deepEqual([...all.values()].map((s) => s.type), types);
  assert.equal(new RRSets().size, 0);
  assert.deepEqual([...new RRSets().values()], []);
});

test('sets drawn plainly share one draw; a policy of their own (round robin, a limit, zones) gets a draw of its own, with its state', () => {
  const plain = weightedSet(RRType.A, ...records(3), [1, 2, 3]);
  assert.equal(plain.draw, PLAIN_DRAW);
  assert.equal(weightedSet(RRType.A, ...records(2), [5, 5]).draw, PLAIN_DRAW);
  // One record is never drawn, whatever the policy.
  assert.equal(weightedSet(RRType.A, ...records(1), [1], { lb: LB_ROUND_ROBIN, limit: 0, zones: null }).draw, PLAIN_DRAW);
  const a = weightedSet(RRType.A, ...records(3), [1, 1, 1], { lb: LB_ROUND_ROBIN, limit: 0, zones: null });
  const b = weightedSet(RRType.A, ...records(3), [1, 1, 1], { lb: LB_ROUND_ROBIN, limit: 0, zones: null });
  assert.notEqual(a.draw, PLAIN_DRAW);
  assert.ok(a.draw.rr instanceof Float64Array && a.draw.rr.length === 3);
  assert.notEqual(a.draw.rr, b.draw.rr, 'round robin state shared between sets');
  assert.equal(weightedSet(RRType.A, ...records(3), [1, 1, 1], { lb: LB_RANDOM, limit: 0, zones: null }).draw.lb, LB_RANDOM);
  assert.equal(weightedSet(RRType.A, ...records(3), [1, 1, 1], { lb: 0, limit: 2, zones: null }).draw.limit, 2);
  assert.deepEqual(weightedSet(RRType.A, ...records(2), [1, 1], { lb: 0, limit: 0, zones: ['a', 'b'] }).draw.zones, ['a', 'b']);
  assert.equal(PLAIN_DRAW.rr, null);
});
