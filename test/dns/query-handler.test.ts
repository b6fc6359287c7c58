import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RRType, Rcode } from '../../src/wire/constants.js';
import type { Instance } from '../../src/catalog/types.js';
import { instance } from '../support/instances.js';
import { buildQuery, decode } from '../support/dns-client.js';
import { core } from '../support/in-process.js';

const ZONE = `$ORIGIN linkerd.local.
$TTL 30
@ SOA ns.dns hostmaster 7 7200 1800 86400 10
@ NS ns.dns
ns.dns A 127.0.0.1
_http._tcp.web.default SRV 0 70 8080 web-1.web.default
_http._tcp.web.default SRV 0 30 8080 web-2.web.default
web-1.web.default A 10.0.0.11
web-2.web.default A 10.0.0.12
docs CNAME web.default
out CNAME example.com.
web.default TXT "owner=platform"
`;

const inst = (id: string, address: string, extra: Partial<Instance> = {}): Instance =>
  instance(id, address, { ports: [{ name: 'grpc', port: 9090, protocol: 'tcp' }], ...extra });

test('A: authoritative, question case kept, catalog TTL, every healthy instance', () => {
  const { query } = core({ zone: ZONE });
  const r = query('WeB.Default.LINKERD.local');
  assert.equal(r.header.aa, 1);
  assert.equal(r.header.rcode, Rcode.NOERROR);
  assert.equal(r.questions[0]!.name, 'WeB.Default.LINKERD.local');
  assert.deepEqual(r.answers.map((a) => a.address).sort(), ['10.0.0.11', '10.0.0.12']);
  assert.ok(r.answers.every((a) => a.ttl === 5 && a.name === 'WeB.Default.LINKERD.local'));
});

test('A order follows the weights: first answer 70/30 within tolerance', () => {
  const { raw } = core({ zone: ZONE, seed: 3 });
  const msg = buildQuery('web.default.linkerd.local');
  let first11 = 0;
  const n = 20_000;
  for (let i = 0; i < n; i++) if (decode(raw(msg)!).answers[0]!.address === '10.0.0.11') first11++;
  assert.ok(Math.abs(first11 / n - 0.7) < 0.015, `share ${first11 / n}`);
});

test('SRV: real weights, targets, glue in the additional section', () => {
  const { query } = core({ zone: ZONE });
  const r = query('_http._tcp.web.default.linkerd.local', { type: RRType.SRV });
  const srv = r.answers.map((a) => [a.target, a.weight, a.port, a.priority]).sort();
  assert.deepEqual(srv, [
    ['web-1.web.default.linkerd.local', 70, 8080, 0],
    ['web-2.web.default.linkerd.local', 30, 8080, 0],
  ]);
  assert.deepEqual(r.additionals.map((a) => [a.name, a.address]).sort(), [
    ['web-1.web.default.linkerd.local', '10.0.0.11'],
    ['web-2.web.default.linkerd.local', '10.0.0.12'],
  ]);
});

test('instance names answer that instance', () => {
  const { query } = core({ zone: ZONE });
  assert.deepEqual(query('web-2.web.default.linkerd.local').answers.map((a) => a.address), ['10.0.0.12']);
});

test('NXDOMAIN: aa, SOA in authority with TTL min(SOA TTL, MINIMUM)', () => {
  const { query } = core({ zone: ZONE });
  const r = query('nope.default.linkerd.local');
  assert.equal(r.header.rcode, Rcode.NXDOMAIN);
  assert.equal(r.header.aa, 1);
  assert.equal(r.answers.length, 0);
  assert.equal(r.authorities.length, 1);
  assert.equal(r.authorities[0]!.type, RRType.SOA);
  assert.equal(r.authorities[0]!.name, 'linkerd.local');
  assert.equal(r.authorities[0]!.ttl, 10);
});

for (const [name, type] of [
  ['web.default.linkerd.local', RRType.AAAA],
  ['default.linkerd.local', RRType.A],
  ['_tcp.web.default.linkerd.local', RRType.SRV],
  ['dns.linkerd.local', RRType.A],
] as const) {
  test(`NODATA (name exists, no ${type}): ${name}`, () => {
    const { query } = core({ zone: ZONE });
    const r = query(name, { type });
    assert.equal(r.header.rcode, Rcode.NOERROR);
    assert.equal(r.header.aa, 1);
    assert.equal(r.answers.length, 0);
    assert.equal(r.authorities[0]!.type, RRType.SOA);
  });
}

for (const name of ['_udp.web.default.linkerd.local', '_http._udp.web.default.linkerd.local', '_grpc._tcp.web.default.linkerd.local', '_tcp.default.linkerd.local', '_http._tcp.default.linkerd.local', '_http._tcp.nosuch.default.linkerd.local', '_tcp.linkerd.local']) {
  test(`NXDOMAIN below a service or namespace for a name no port makes: ${name}`, () => {
    const { query } = core({ zone: ZONE });
    assert.equal(query(name, { type: RRType.SRV }).header.rcode, Rcode.NXDOMAIN);
  });
}

test('apex SOA and NS, NS glue', () => {
  const { query } = core({ zone: ZONE });
  const soa = query('linkerd.local', { type: RRType.SOA });
  assert.equal(soa.answers[0]!.type, RRType.SOA);
  const ns = query('linkerd.local', { type: RRType.NS });
  assert.equal(ns.answers[0]!.domain ?? (ns.answers[0] as { ns?: string }).ns, 'ns.dns.linkerd.local');
  assert.deepEqual(ns.additionals.map((a) => a.address), ['127.0.0.1']);
});

test('a generated SOA and NS when there is no zone file', () => {
  const { query } = core();
  const soa = query('linkerd.local', { type: RRType.SOA });
  assert.equal(soa.header.aa, 1);
  assert.equal(soa.answers[0]!.type, RRType.SOA);
  assert.equal(query('linkerd.local', { type: RRType.NS }).answers.length, 1);
  assert.equal(query('x.linkerd.local').header.rcode, Rcode.NXDOMAIN);
});

test('CNAME is chased inside the zone; out-of-zone targets are left to the client', () => {
  const { query } = core({ zone: ZONE });
  const r = query('docs.linkerd.local');
  assert.equal(r.answers[0]!.type, RRType.CNAME);
  assert.deepEqual(r.answers.slice(1).map((a) => [a.name, a.address]).sort(), [
    ['web.default.linkerd.local', '10.0.0.11'],
    ['web.default.linkerd.local', '10.0.0.12'],
  ]);
  const out = query('out.linkerd.local');
  assert.equal(out.answers.length, 1);
  assert.equal(out.answers[0]!.type, RRType.CNAME);
  assert.equal(query('docs.linkerd.local', { type: RRType.CNAME }).answers.length, 1);
});

test('ANY gets one RRset (RFC 8482)', () => {
  const { query } = core({ zone: ZONE });
  const r = query('web.default.linkerd.local', { type: RRType.ANY });
  assert.ok(r.answers.length >= 1);
  assert.equal(new Set(r.answers.map((a) => a.type)).size, 1);
});

test('EDNS: OPT echoed with 1232 and DO; BADVERS for version 1; no OPT without EDNS', () => {
  const { raw, query } = core({ zone: ZONE });
  const r = query('web.default.linkerd.local', { edns: { udpSize: 4096, do: true } });
  const opt = r.additionals.find((a) => a.type === RRType.OPT)!;
  assert.equal(opt.class, 1232);
  assert.equal(opt.doFlag, true);
  const bad = raw(buildQuery('web.default.linkerd.local', { edns: { version: 1 } }))!;
  assert.equal(bad[3]! & 0xf, 0);
  const d = decode(bad);
  assert.equal(d.answers.length, 0);
  assert.equal(d.additionals[0]!.extendedRcode, 1); // 16 >> 4: BADVERS
  assert.equal(query('web.default.linkerd.local').additionals.length, 0);
});

test('TC over UDP when the answer exceeds 512 (no EDNS) or the advertised size, with the whole records that fit; complete over TCP', () => {
  const { catalog, query } = core({ zone: ZONE });
  for (let i = 0; i < 60; i++) catalog.upsert('big', 'svc', inst(`i${i}`, `10.1.0.${i}`));
  const plain = query('svc.big.linkerd.local');
  assert.equal(plain.header.tc, 1);
  // 12 octets of header, 27 of question, then 16 per A record: 29 fit in 512.
  assert.equal(plain.answers.length, 29);
  assert.equal(new Set(plain.answers.map((a) => a.address)).size, 29);
  assert.equal(plain.authorities.length, 0);
  const edns = query('svc.big.linkerd.local', { edns: { udpSize: 1232 } });
  assert.equal(edns.header.tc, 0);
  assert.equal(edns.answers.length, 60);
  const small = query('svc.big.linkerd.local', { edns: { udpSize: 512 } });
  assert.equal(small.header.tc, 1);
  const tcp = query('svc.big.linkerd.local', {}, true);
  assert.equal(tcp.header.tc, 0);
  assert.equal(tcp.answers.length, 60);
});

test('a truncated SRV answer keeps the SRV records that fit and drops the glue first', () => {
  const { catalog, query } = core({ zone: ZONE });
  for (let i = 0; i < 20; i++) catalog.upsert('big', 'svc', inst(`instance-${i}`, `10.1.0.${i}`));
  const r = query('_grpc._tcp.svc.big.linkerd.local', { type: RRType.SRV });
  assert.equal(r.header.tc, 1);
  assert.ok(r.answers.length >= 8 && r.answers.length < 20, `${r.answers.length} SRV records`);
  assert.equal(r.additionals.length, 0);
});

test('the first records of a truncated answer follow the weights (what a client that takes the first gets)', () => {
  const { catalog, query } = core({ zone: ZONE });
  for (let i = 0; i < 60; i++) catalog.upsert('big', 'svc', inst(`i${i}`, `10.1.0.${i}`, { weight: i === 0 ? 6000 : 100 }));
  let heavyFirst = 0;
  const n = 2000;
  for (let q = 0; q < n; q++) if (query('svc.big.linkerd.local').answers[0]!.address === '10.1.0.0') heavyFirst++;
  // 6000 of 6000 + 59 × 100 = 11900: about 50%.
  assert.ok(Math.abs(heavyFirst / n - 6000 / 11900) < 0.05, `${heavyFirst} of ${n}`);
});

test('--answer-limit N: at most N records of a weighted set, each a weighted pick; glue only for those; fixed sets whole', () => {
  const { catalog, query } = core({ zone: ZONE, answerLimit: 1 });
  catalog.upsert('shop', 'svc', inst('a', '10.1.0.1', { weight: 70 }));
  catalog.upsert('shop', 'svc', inst('b', '10.1.0.2', { weight: 30 }));
  const firsts = new Map<string, number>();
  for (let q = 0; q < 2000; q++) {
    const r = query('svc.shop.linkerd.local');
    assert.equal(r.answers.length, 1);
    firsts.set(r.answers[0]!.address!, (firsts.get(r.answers[0]!.address!) ?? 0) + 1);
  }
  assert.ok(Math.abs(firsts.get('10.1.0.1')! / 2000 - 0.7) < 0.04, JSON.stringify([...firsts]));
  const srv = query('_grpc._tcp.svc.shop.linkerd.local', { type: RRType.SRV });
  assert.equal(srv.answers.length, 1);
  assert.equal(srv.additionals.length, 1);
  assert.equal(query('web.default.linkerd.local', { type: RRType.TXT }).answers.length, 1);
});

test('SRV glue that does not fit is left out without TC', () => {
  const { catalog, query } = core({ zone: ZONE });
  // 7 SRV records of 52 octets fill 414 of 512; only 6 of the 7 glue records (16 octets each) fit.
  for (let i = 0; i < 7; i++) catalog.upsert('big', 'svc', inst(`instance-${i}`, `10.1.0.${i}`));
  const r = query('_grpc._tcp.svc.big.linkerd.local', { type: RRType.SRV });
  assert.equal(r.header.tc, 0);
  assert.equal(r.answers.length, 7);
  assert.equal(r.additionals.length, 6);
});

test('health and weight: unhealthy and weight 0 are not answered; none healthy is NODATA; none at all NXDOMAIN', () => {
  const { catalog, query } = core();
  catalog.upsert('shop', 'web', inst('a', '10.0.0.1'));
  catalog.upsert('shop', 'web', inst('b', '10.0.0.2', { weight: 0 }));
  catalog.upsert('shop', 'web', inst('c', '10.0.0.3', { health: 'unhealthy' }));
  catalog.upsert('shop', 'web', inst('d', 'fd00::4'));
  assert.deepEqual(query('web.shop.linkerd.local').answers.map((a) => a.address), ['10.0.0.1']);
  assert.equal(query('web.shop.linkerd.local', { type: RRType.AAAA }).answers.length, 1);
  assert.deepEqual(query('c.web.shop.linkerd.local').answers.map((a) => a.address), ['10.0.0.3']);
  catalog.setHealth('shop', 'web', 'rest', 'a', 'unhealthy');
  catalog.setHealth('shop', 'web', 'rest', 'd', 'draining');
  const none = query('web.shop.linkerd.local');
  assert.equal(none.header.rcode, Rcode.NOERROR);
  assert.equal(none.answers.length, 0);
  for (const id of ['a', 'b', 'c', 'd']) catalog.remove('shop', 'web', 'rest', id);
  assert.equal(query('web.shop.linkerd.local').header.rcode, Rcode.NXDOMAIN);
  assert.equal(query('shop.linkerd.local').header.rcode, Rcode.NXDOMAIN); // its empty non-terminal went too
});

test('opcodes other than QUERY: NOTIMP; other classes and AXFR: REFUSED; outside the zones without upstreams: REFUSED', () => {
  const { query } = core({ zone: ZONE });
  assert.equal(query('web.default.linkerd.local', { opcode: 4 }).header.rcode, Rcode.NOTIMP);
  assert.equal(query('web.default.linkerd.local', { qclass: 3 }).header.rcode, Rcode.REFUSED);
  assert.equal(query('linkerd.local', { type: RRType.AXFR }, true).header.rcode, Rcode.REFUSED);
  const out = query('example.com');
  assert.equal(out.header.rcode, Rcode.REFUSED);
  assert.equal(out.header.aa, 0);
});

test('FORMERR keeps the ID; garbage shorter than a header and responses are dropped', () => {
  const { raw } = core({ zone: ZONE });
  const msg = buildQuery('web.default.linkerd.local', { id: 4242 });
  msg.writeUInt16BE(2, 4);
  const reply = decode(raw(msg)!);
  assert.equal(reply.header.id, 4242);
  assert.equal(reply.header.rcode, Rcode.FORMERR);
  assert.equal(raw(Buffer.from([1, 2, 3])), null);
  const response = buildQuery('a.b');
  response[2]! |= 0x80;
  assert.equal(raw(response), null);
});

test('RD and CD are copied, RA is not claimed for authoritative data', () => {
  const { raw } = core({ zone: ZONE });
  const msg = buildQuery('web.default.linkerd.local');
  msg[3]! |= 0x10; // CD
  const reply = raw(msg)!;
  assert.equal(reply[2]! & 0x01, 1); // RD
  assert.equal(reply[3]! & 0x10, 0x10); // CD
  assert.equal(reply[3]! & 0x80, 0); // RA
});

test('issue 23, low: QCLASS ANY is answered like IN (as Knot does), QTYPE OPT is NODATA, FORMERR to a query with an OPT carries one', () => {
  const { query, raw } = core({ zone: ZONE });
  const any = query('web-1.web.default.linkerd.local', { qclass: 255 });
  assert.equal(any.header.rcode, Rcode.NOERROR);
  assert.deepEqual(any.answers.map((a) => a.address), ['10.0.0.11']);
  assert.equal(query('web-1.web.default.linkerd.local', { qclass: 3 }).header.rcode, Rcode.REFUSED);
  const opt = query('web-1.web.default.linkerd.local', { type: RRType.OPT });
  assert.equal(opt.header.rcode, Rcode.NOERROR);
  assert.equal(opt.answers.length, 0);
  assert.equal(opt.authorities[0]?.type, RRType.SOA);
  // Two OPT records: FORMERR, with one OPT (RFC 6891 §6.1.1, §7).
  const msg = buildQuery('web-1.web.default.linkerd.local', { edns: { udpSize: 1232 } });
  const optRecord = msg.subarray(msg.length - 11);
  const twice = Buffer.concat([msg, optRecord]);
  twice.writeUInt16BE(2, 10);
  const reply = decode(raw(twice)!);
  assert.equal(reply.header.rcode, Rcode.FORMERR);
  assert.equal(reply.additionals.filter((a) => a.type === RRType.OPT).length, 1);
});
