import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { RateDecision, ResponseRateLimiter, truncatedCopy } from '../../../src/dns/rate-limit/response-rate-limiter.js';
import { buildQuery, decode } from '../../support/dns-client.js';

/** A response as the writer makes it: the query with QR set, an rcode and an answer count. */
function response(name: string, rcode: number, answers: number, type = 1): Buffer {
  const msg = buildQuery(name, { type });
  msg.writeUInt16BE(0x8400 | rcode, 2);
  msg.writeUInt16BE(answers, 6);
  return msg;
}

function limiter(rate: number, slip: number, exempt = new BlockList()): ResponseRateLimiter {
  return new ResponseRateLimiter({ responsesPerSecond: rate, slip, ipv4PrefixLength: 24, ipv6PrefixLength: 56, exempt });
}

function tally(l: ResponseRateLimiter, msg: Buffer, client: string, count: number, nowMs: number): Record<'send' | 'drop' | 'slip', number> {
  const out = { send: 0, drop: 0, slip: 0 };
  for (let i = 0; i < count; i++) {
    const d = l.decide(msg, client, client.includes(':') ? 'ipv6' : 'ipv4', nowMs);
    out[d === RateDecision.Send ? 'send' : d === RateDecision.Drop ? 'drop' : 'slip']++;
  }
  return out;
}

test('over the rate, every Nth response slips and the rest are dropped', () => {
  assert.deepEqual(tally(limiter(10, 2), response('a.linkerd.local', 0, 1), '192.0.2.1', 30, 0), { send: 10, drop: 10, slip: 10 });
  assert.deepEqual(tally(limiter(10, 0), response('a.linkerd.local', 0, 1), '192.0.2.1', 30, 0), { send: 10, drop: 20, slip: 0 });
  assert.deepEqual(tally(limiter(10, 1), response('a.linkerd.local', 0, 1), '192.0.2.1', 30, 0), { send: 10, drop: 0, slip: 20 });
});

test('the allowance refills with time at the configured rate', () => {
  const l = limiter(10, 0);
  const msg = response('a.linkerd.local', 0, 1);
  assert.equal(tally(l, msg, '192.0.2.1', 20, 0).send, 10);
  assert.equal(tally(l, msg, '192.0.2.1', 20, 500).send, 5);
  assert.equal(tally(l, msg, '192.0.2.1', 20, 10_000).send, 10);
});

test('answers count per question and client network; NXDOMAINs count together per network', () => {
  const l = limiter(5, 0);
  assert.equal(tally(l, response('a.linkerd.local', 0, 1), '192.0.2.1', 10, 0).send, 5);
  assert.equal(tally(l, response('a.linkerd.local', 0, 1), '192.0.2.99', 10, 0).send, 0, 'same /24 shares the allowance');
  assert.equal(tally(l, response('A.LINKERD.local', 0, 1), '192.0.2.99', 10, 0).send, 0, 'case does not make a new question');
  assert.equal(tally(l, response('b.linkerd.local', 0, 1), '192.0.2.1', 10, 0).send, 5, 'another name');
  assert.equal(tally(l, response('a.linkerd.local', 0, 1, 28), '192.0.2.1', 10, 0).send, 5, 'another type');
  assert.equal(tally(l, response('a.linkerd.local', 0, 1), '198.51.100.1', 10, 0).send, 5, 'another network');
  let sent = 0;
  for (let i = 0; i < 20; i++) sent += tally(l, response(`random-${i}.linkerd.local`, 3, 0), '192.0.2.1', 1, 0).send;
  assert.equal(sent, 5, 'random names do not each get a fresh allowance');
});

test('exempt clients are never limited', () => {
  const exempt = new BlockList();
  exempt.addSubnet('10.0.0.0', 8, 'ipv4');
  assert.equal(tally(limiter(1, 2, exempt), response('a.linkerd.local', 0, 1), '10.1.2.3', 50, 0).send, 50);
});

test('the slip response keeps ID and question, sets TC and carries no records', () => {
  const full = response('web.default.linkerd.local', 0, 2);
  const slipped = decode(truncatedCopy(full));
  assert.equal(slipped.header.id, decode(full).header.id);
  assert.equal(slipped.header.tc, 1);
  assert.equal(slipped.questions[0]!.name, 'web.default.linkerd.local');
  assert.equal(slipped.answers.length + slipped.authorities.length + slipped.additionals.length, 0);
});
