import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseCache } from '../../../src/dns/forward/response-cache.js';
import { buildQuery, decode } from '../../support/dns-client.js';

/** A response to `query` with one A record of the given TTL. */
function response(query: Buffer, ttl: number, rcode = 0, tc = false): Buffer {
  const r = Buffer.from(query);
  r[2] = 0x81 | (tc ? 0x02 : 0);
  r[3] = rcode;
  r.writeUInt16BE(1, 6);
  const rr = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 192, 0, 2, 1]);
  rr.writeUInt32BE(ttl, 6);
  return Buffer.concat([r, rr]);
}

test("hits carry the new ID, the asker's letter case and TTLs aged by time in the cache", () => {
  let now = 1_000_000;
  const cache = new ResponseCache({ maxEntries: 10, maxTtlSeconds: 3600, now: () => now });
  const q = buildQuery('www.example.test', { id: 1 });
  const key = ResponseCache.keyOf('k', 1, 1, false);
  cache.store(key, response(q, 300));
  now += 42_000;
  const asker = buildQuery('WWW.Example.TEST', { id: 99 });
  const hit = decode(cache.lookup(key, 99, asker, asker.length, 512)!);
  assert.equal(hit.header.id, 99);
  assert.equal(hit.questions[0]!.name, 'WWW.Example.TEST');
  assert.equal(hit.answers[0]!.ttl, 258);
});

test('not cached: SERVFAIL, truncated, zero TTL; too big for the asker is a miss', () => {
  const cache = new ResponseCache({ maxEntries: 10, maxTtlSeconds: 3600 });
  const q = buildQuery('a.test');
  for (const [i, r] of [response(q, 60, 2), response(q, 60, 0, true), response(q, 0)].entries()) {
    cache.store(`k${i}`, r);
    assert.equal(cache.lookup(`k${i}`, 1, q, q.length, 512), undefined);
  }
  cache.store('big', response(q, 60));
  assert.ok(cache.lookup('big', 1, q, q.length, 512) !== undefined);
  assert.equal(cache.lookup('big', 1, q, q.length, 20), undefined);
});
