import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { core } from '../support/in-process.js';
import { fuzzMessage, seedQueries } from '../support/fuzz-messages.js';
import { repoRoot } from '../support/meshdns-process.js';
import { instance } from '../support/instances.js';
import { strictParseResponse } from '../support/strict-dns.js';
import { fuzzRuns, fuzzSeed } from '../support/fuzz-settings.js';

/**
 * The message parser and everything behind it (resolver, weighted order,
 * response writer), fed a million random and mutated messages in-process:
 * no exception, and every response a well-formed DNS message that answers
 * the query that was sent.
 */

function answeringCore() {
  const c = core({ zone: readFileSync(join(repoRoot, 'zones', 'linkerd.local.zone'), 'utf8') });
  // Enough instances that answers truncate over UDP; both families; weights.
  for (let i = 0; i < 120; i++) c.catalog.upsert('default', 'big', instance(`i${i}`, i % 3 === 0 ? `fd00::${i.toString(16)}` : `10.9.${i >> 8}.${i & 255}`, { weight: 1 + (i % 7) }));
  c.catalog.upsert('default', 'web', instance('rest-1', '10.0.0.99', { weight: 5 }));
  return c;
}

/** What must hold of a response to `query`, whatever the query was. */
function checkResponse(query: Buffer, reply: Buffer, tcp: boolean): void {
  const r = strictParseResponse(reply);
  assert.equal(r.id, query.readUInt16BE(0), 'the reply carries the query ID');
  assert.ok(tcp || reply.length <= 1232, `UDP reply of ${reply.length} octets`);
  // The echoed question is the one asked, byte for byte (case kept).
  if (r.qdcount === 1) assert.ok(reply.subarray(12, r.questionEnd).equals(query.subarray(12, r.questionEnd)), 'the question is echoed as asked');
}

test(`${fuzzRuns(1_000_000)} random and mutated messages through the parser and answer path: every reply is well-formed`, () => {
  const c = answeringCore();
  let replies = 0;
  fc.assert(
    fc.property(fuzzMessage, fc.boolean(), (msg, tcp) => {
      const reply = c.raw(msg, tcp);
      if (reply === null) {
        // Silence only for what cannot be answered: no header, or a response sent to us.
        assert.ok(msg.length < 12 || (msg[2]! & 0x80) !== 0, `no reply to ${msg.toString('hex')}`);
        return;
      }
      replies++;
      checkResponse(msg, reply, tcp);
    }),
    { numRuns: fuzzRuns(1_000_000), seed: fuzzSeed() },
  );
  assert.ok(replies > fuzzRuns(1_000_000) / 2, `only ${replies} replies`);
  // The server state is unharmed: a normal query still gets its normal answer.
  assert.equal(c.query('api.default.linkerd.local').answers.length, 2);
});

test('every seed query gets a well-formed reply', () => {
  const c = answeringCore();
  for (const q of seedQueries) {
    const reply = c.raw(q, false);
    assert.ok(reply !== null);
    checkResponse(q, reply, false);
  }
});
