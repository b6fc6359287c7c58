import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { dig } from '../support/dig.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { shippedZone, tempZones } from '../support/temp-zones.js';

// The shipped zone plus a service with 60 instances, too big for 512 octets.
const big = Array.from({ length: 60 }, (_, i) => `big.default IN A 10.2.0.${i}`).join('\n');
let server: MeshdnsProcess;

before(async () => {
  server = await startMeshdns(['--zones', tempZones({ 'linkerd.local.zone': `${shippedZone}\n${big}\n` }), '--upstream', 'none']);
});
after(() => server.stop());

test('dig A: aa, both instances of web.default', async () => {
  const r = await dig(server.dnsPort, ['web.default.linkerd.local']);
  assert.equal(r.status, 'NOERROR');
  assert.ok(r.flags.includes('aa'), r.raw);
  assert.equal(r.answer.length, 2);
  assert.match(r.raw, /EDNS: version: 0, flags:; udp: 1232/);
});

test('dig SRV: weights 70/30 and target addresses in the additional section', async () => {
  const r = await dig(server.dnsPort, ['_http._tcp.web.default.linkerd.local', 'SRV']);
  assert.deepEqual(r.answer.map((l) => l.split(/\s+/).slice(4).join(' ')).sort(), [
    '0 30 8080 web-2.web.default.linkerd.local.',
    '0 70 8080 web-1.web.default.linkerd.local.',
  ]);
  assert.equal(r.additional.length, 2);
});

test('dig: NXDOMAIN and NODATA (empty non-terminal) both carry the SOA', async () => {
  const nx = await dig(server.dnsPort, ['missing.default.linkerd.local']);
  assert.equal(nx.status, 'NXDOMAIN');
  assert.ok(nx.flags.includes('aa'));
  assert.match(nx.authority[0]!, /\bSOA\b/);
  const nodata = await dig(server.dnsPort, ['default.linkerd.local']);
  assert.equal(nodata.status, 'NOERROR');
  assert.equal(nodata.answer.length, 0);
  assert.match(nodata.authority[0]!, /\bSOA\b/);
});

test('dig SOA and NS at the apex', async () => {
  const soa = (await dig(server.dnsPort, ['linkerd.local', 'SOA'])).answer[0]!;
  assert.match(soa, /SOA\s+ns\.dns\.linkerd\.local\. hostmaster\.linkerd\.local\. \d+/);
  // The mesh zone's serial is the catalog's, going on from the zone file's (2026112501), never below it.
  assert.ok(Number(/hostmaster\.linkerd\.local\. (\d+)/.exec(soa)![1]) >= 2026112501, soa);
  assert.match((await dig(server.dnsPort, ['linkerd.local', 'NS'])).answer[0]!, /NS\s+ns\.dns\.linkerd\.local\./);
});

test('dig +tcp answers the same', async () => {
  const r = await dig(server.dnsPort, ['+tcp', 'web-1.web.default.linkerd.local']);
  assert.match(r.answer[0]!, /10\.0\.0\.11$/);
  assert.match(r.raw, /\(TCP\)/);
});

test('dig +edns=1: BADVERS', async () => {
  const r = await dig(server.dnsPort, ['+edns=1', '+noednsnegotiation', 'web.default.linkerd.local']);
  assert.equal(r.status, 'BADVERS');
});

test('dig +noedns: no OPT; a big answer is truncated and dig retries over TCP', async () => {
  const small = await dig(server.dnsPort, ['+noedns', 'web.default.linkerd.local']);
  assert.doesNotMatch(small.raw, /OPT PSEUDOSECTION/);
  const r = await dig(server.dnsPort, ['+noedns', 'big.default.linkerd.local']);
  assert.match(r.raw, /Truncated, retrying in TCP mode/);
  assert.equal(r.answer.length, 60);
  const ignored = await dig(server.dnsPort, ['+noedns', '+ignore', 'big.default.linkerd.local']);
  assert.ok(ignored.flags.includes('tc'));
  // The records that fit, whole: what a stub resolver that never retries over TCP (musl) gets.
  assert.equal(ignored.answer.length, 29);
});

test('dig: names matched without regard to case, the question case kept', async () => {
  const r = await dig(server.dnsPort, ['WEB.Default.Linkerd.LOCAL']);
  assert.equal(r.answer.length, 2);
  assert.match(r.answer[0]!, /^WEB\.Default\.Linkerd\.LOCAL\./);
});

test('dig ANY: one RRset (RFC 8482); NOTIFY opcode: NOTIMP; outside the zone without upstreams: REFUSED', async () => {
  const any = await dig(server.dnsPort, ['web.default.linkerd.local', 'ANY']);
  assert.equal(new Set(any.answer.map((l) => l.split(/\s+/)[3])).size, 1);
  assert.equal((await dig(server.dnsPort, ['+opcode=4', 'web.default.linkerd.local'])).status, 'NOTIMP');
  assert.equal((await dig(server.dnsPort, ['example.com'])).status, 'REFUSED');
});

test('dig CNAME in the zone is followed to the weighted addresses', async () => {
  const r = await dig(server.dnsPort, ['docs.linkerd.local']);
  assert.match(r.answer[0]!, /CNAME\s+web\.default\.linkerd\.local\./);
  assert.equal(r.answer.length, 3);
});
