import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZoneHistory } from '../../src/answers/zone-history.js';
import { fixedSet, RRSets, type NameNode } from '../../src/answers/name-table.js';
import { addressRecord } from '../../src/wire/rdata.js';
import { RRType } from '../../src/wire/constants.js';
import { keyOf } from '../../src/wire/name.js';

/** The IXFR history: version steps gathered from rebuilt service nodes, chained by serial, bounded. */

const zone = keyOf('linkerd.local.');
const svc = keyOf('cart.shop.linkerd.local.');
const node = (...addresses: string[]): NameNode => ({ rrsets: new RRSets([[RRType.A, fixedSet(RRType.A, addresses.map((a) => addressRecord(a, 5)))]]) });
const addresses = (records: readonly { readonly tail: Buffer }[]): string[] => records.map((r) => [...r.tail.subarray(r.tail.length - 4)].join('.')).sort();

test('a step is what went and what came between two serials; an address added and gone again within a step is not told', () => {
  const h = new ZoneHistory();
  const one = node('10.0.0.1');
  h.rebuilt(zone, svc, undefined, one);
  h.commit(zone, 100, 101);
  const two = node('10.0.0.2', '10.0.0.3');
  h.rebuilt(zone, svc, one, two);
  const three = node('10.0.0.3');
  h.rebuilt(zone, svc, two, three);
  h.commit(zone, 101, 102);
  const steps = h.since(zone, 100)!;
  assert.deepEqual(steps.map((s) => [s.from, s.to, addresses(s.removed), addresses(s.added)]), [
    [100, 101, [], ['10.0.0.1']],
    [101, 102, ['10.0.0.1'], ['10.0.0.3']],
  ]);
  assert.equal(h.since(zone, 101)!.length, 1);
  assert.equal(h.since(zone, 99), undefined, 'a serial the history never had');
});

test('a broken chain (a serial taken from elsewhere) or a reset: no steps, the whole zone is sent', () => {
  const h = new ZoneHistory();
  h.commit(zone, 1, 2);
  h.commit(zone, 5, 6);
  assert.equal(h.since(zone, 1), undefined);
  assert.equal(h.since(zone, 5)!.length, 1);
  h.reset(zone);
  assert.equal(h.since(zone, 5), undefined);
});

test('bounded: the oldest versions go first', () => {
  const h = new ZoneHistory();
  for (let i = 0; i < 100; i++) h.commit(zone, i, i + 1);
  assert.equal(h.since(zone, 0), undefined);
  assert.equal(h.since(zone, 36)!.length, 64);
});

test('a step over the bound (a large catalog loading) is not kept: the history starts after it', () => {
  const h = new ZoneHistory();
  h.commit(zone, 1, 2);
  const many = Array.from({ length: 400 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
  for (let k = 0; k < 300; k++) h.rebuilt(zone, `${k}${svc}`, undefined, node(...many));
  h.commit(zone, 2, 3);
  assert.equal(h.since(zone, 1), undefined);
  assert.equal(h.since(zone, 2), undefined);
  h.rebuilt(zone, svc, undefined, node('10.0.0.9'));
  h.commit(zone, 3, 4);
  assert.equal(h.since(zone, 3)!.length, 1);
});
