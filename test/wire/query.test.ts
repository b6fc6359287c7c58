import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyQuery, ParseOutcome, parseQuery } from '../../src/wire/query.js';
import { keyOf } from '../../src/wire/name.js';
import { buildQuery } from '../support/dns-client.js';

const parse = (buf: Buffer) => parseQuery(buf, emptyQuery());

test('a plain query: lowercased key, type, class, question end', () => {
  const msg = buildQuery('WEB.default.linkerd.local', { id: 77, type: 28 });
  const q = parse(msg);
  assert.equal(q.outcome, ParseOutcome.Ok);
  assert.equal(q.id, 77);
  assert.equal(q.key, keyOf('web.default.linkerd.local'));
  assert.equal(q.qtype, 28);
  assert.equal(q.qclass, 1);
  assert.equal(q.questionEnd, msg.length);
  assert.equal(q.edns, false);
});

test('EDNS: payload size, version and DO are read', () => {
  const q = parse(buildQuery('a.b', { edns: { udpSize: 4096, version: 1, do: true } }));
  assert.equal(q.outcome, ParseOutcome.Ok);
  assert.deepEqual([q.edns, q.ednsUdpSize, q.ednsVersion, q.ednsDo], [true, 4096, 1, true]);
});

const cases: [string, (b: Buffer) => Buffer, ParseOutcome][] = [
  ['shorter than a header', (b) => b.subarray(0, 11), ParseOutcome.Drop],
  ['a response (QR set)', (b) => (b.writeUInt16BE(0x8000, 2), b), ParseOutcome.IgnoreResponse],
  ['no question', (b) => (b.writeUInt16BE(0, 4), b), ParseOutcome.FormErr],
  ['two questions', (b) => (b.writeUInt16BE(2, 4), b), ParseOutcome.FormErr],
  ['question cut short', (b) => b.subarray(0, b.length - 2), ParseOutcome.FormErr],
  ['label type 0x40', (b) => ((b[12] = 0x41), b), ParseOutcome.FormErr],
  ['compression pointer in the question', (b) => ((b[12] = 0xc0), (b[13] = 12), b), ParseOutcome.FormErr],
  ['lying answer count', (b) => (b.writeUInt16BE(3, 6), b), ParseOutcome.FormErr],
  ['lying additional count', (b) => (b.writeUInt16BE(1, 10), b), ParseOutcome.FormErr],
  ['opcode 2 (STATUS)', (b) => (b.writeUInt16BE(2 << 11, 2), b), ParseOutcome.NotImp],
];

for (const [name, mutate, expected] of cases) {
  test(`malformed: ${name}`, () => {
    assert.equal(parse(mutate(buildQuery('web.default.linkerd.local'))).outcome, expected);
  });
}

test('a name over 255 octets is FORMERR', () => {
  const long = Array.from({ length: 5 }, () => 'x'.repeat(60)).join('.');
  assert.equal(parse(buildQuery(long)).outcome, ParseOutcome.FormErr);
});

test('two OPT records are FORMERR (RFC 6891 §6.1.1)', () => {
  const msg = buildQuery('a.b', { edns: {} });
  const opt = msg.subarray(msg.length - 11);
  const twice = Buffer.concat([msg, opt]);
  twice.writeUInt16BE(2, 10);
  assert.equal(parse(twice).outcome, ParseOutcome.FormErr);
});

test('OPT options must tile its rdata', () => {
  const msg = buildQuery('a.b', { edns: {} });
  const bad = Buffer.concat([msg, Buffer.from([0, 10, 0, 9, 1, 2])]);
  bad.writeUInt16BE(6, bad.length - 6 - 2); // rdlength 6, but the option claims 9 bytes
  assert.equal(parse(bad).outcome, ParseOutcome.FormErr);
});

test('an additional record with a backward pointer is skipped; a forward pointer is FORMERR', () => {
  const msg = buildQuery('a.b');
  const rr = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4]);
  const ok = Buffer.concat([msg, rr]);
  ok.writeUInt16BE(1, 10);
  assert.equal(parse(ok).outcome, ParseOutcome.Ok);
  const loop = Buffer.from(ok);
  loop[msg.length + 1] = msg.length; // points at itself
  assert.equal(parse(loop).outcome, ParseOutcome.FormErr);
});

test('the key of a name asked again is the same string; many names and their case variants never get another name\'s key', () => {
  // Enough names to collide in the recent-keys cache many times over, each asked in two cases, twice.
  const names = Array.from({ length: 20_000 }, (_, i) => `svc-${i}.ns-${i % 97}.linkerd.local`);
  const q = emptyQuery();
  for (let round = 0; round < 2; round++) {
    for (const [i, name] of names.entries()) {
      const asked = i % 3 === 0 ? name.toUpperCase() : name;
      assert.equal(parseQuery(buildQuery(asked), q).key, keyOf(name), asked);
    }
  }
  // The same name twice in a row: the very same string (already hashed for the name tables' lookups).
  const first = parseQuery(buildQuery('web.default.linkerd.local'), q).key;
  const again = parseQuery(buildQuery('WEB.default.linkerd.local'), emptyQuery()).key;
  assert.equal(first, again);
});
