import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dig } from '../support/dig.js';
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { freePort } from '../support/free-port.js';
import { KnotServer } from '../support/knot.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';
import { within } from '../support/poll.js';
import { transferCounts } from '../support/transfer-counts.js';

/**
 * Issue 27: meshdns as the primary of a real Knot DNS secondary. Knot transfers the mesh zone (AXFR, then
 * IXFR: the changes since its serial), answers what meshdns answers (sets, not order), and follows changes by
 * NOTIFY within seconds; transfers are refused to clients --transfer-allow does not list, and over UDP.
 */
let s: MeshdnsProcess;
let knot: KnotServer;
let knotPort: number;

before(async () => {
  knotPort = await freePort();
  s = await startMeshdns(['--upstream', 'none', '--transfer-allow', '127.0.0.0/8', '--notify', `127.0.0.1:${knotPort}`]);
  for (const [id, address, weight] of [['a', '10.97.0.1', 70], ['b', '10.97.0.2', 30]] as const) {
    assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'cart', id), { address, weight, ports: [{ name: 'http', port: 8080 }] })).status, 200);
  }
  knot = await KnotServer.secondary('linkerd.local', `127.0.0.1@${s.dnsPort}`, knotPort, 'cart.shop.linkerd.local');
});
after(async () => {
  await knot?.stop();
  await s.stop();
});

const sorted = (lines: string[]): string[] => lines.map((l) => l.split(/\s+/).filter((_, i) => i !== 1).join(' ').toLowerCase()).sort();

test('Knot, as a secondary, answers what meshdns answers: services, SRV, instance names, zone-file records, the SOA serial', async () => {
  for (const [name, type] of [
    ['cart.shop.linkerd.local', 'A'],
    ['_http._tcp.cart.shop.linkerd.local', 'SRV'],
    ['a.cart.shop.linkerd.local', 'A'],
    ['web.default.linkerd.local', 'A'],
    ['_http._tcp.web.default.linkerd.local', 'SRV'],
    ['linkerd.local', 'NS'],
    ['linkerd.local', 'SOA'],
  ] as const) {
    const [ours, theirs] = await Promise.all([dig(s.dnsPort, ['+norecurse', name, type]), dig(knot.port, ['+norecurse', name, type])]);
    assert.equal(theirs.status, 'NOERROR', `${name} ${type} at Knot:\n${theirs.raw}`);
    assert.deepEqual(sorted(theirs.answer), sorted(ours.answer), `${name} ${type}`);
  }
  const nx = await dig(knot.port, ['+norecurse', 'nothing.shop.linkerd.local', 'A']);
  assert.equal(nx.status, 'NXDOMAIN');
});

test('a registration, a drain and a deregistration reach the secondary by NOTIFY within 2 s; the serial grows', async () => {
  const serial = async (port: number): Promise<number> => Number((await dig(port, ['+short', 'linkerd.local', 'SOA'])).raw.trim().split(/\s+/)[2]);
  const before = await serial(s.dnsPort);
  assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'new', 'n1'), { address: '10.97.1.1', ports: [] })).status, 200);
  assert.ok((await serial(s.dnsPort)) > before);
  await within(2000, async () => (await dig(knot.port, ['+short', 'new.shop.linkerd.local'])).raw.trim() === '10.97.1.1', 50);
  assert.equal(await serial(knot.port), await serial(s.dnsPort));
  // A drain (weight 0) leaves the answers of the secondary too.
  assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'cart', 'b'), { address: '10.97.0.2', weight: 0, ports: [{ name: 'http', port: 8080 }] })).status, 200);
  await within(2000, async () => (await dig(knot.port, ['+short', 'cart.shop.linkerd.local'])).raw.trim() === '10.97.0.1', 50);
  assert.equal((await api(s.httpPort, 'DELETE', instancePath('shop', 'new', 'n1'))).status, 204);
  await within(2000, async () => (await dig(knot.port, ['new.shop.linkerd.local'])).status === 'NXDOMAIN', 50);
});

function digRaw(port: number, args: string[]): Promise<string> {
  return new Promise((resolve) => execFile('dig', ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', ...args], (_err, stdout) => resolve(stdout)));
}

test('AXFR: the SOA first and last; IXFR from the current serial is the SOA alone; over UDP, or to a client not allowed, REFUSED', async () => {
  const axfr = (await digRaw(s.dnsPort, ['linkerd.local', 'AXFR'])).split('\n').filter((l) => l !== '' && !l.startsWith(';'));
  assert.match(axfr[0]!, /^linkerd\.local\.\s+\d+\s+IN\s+SOA/);
  assert.match(axfr.at(-1)!, /^linkerd\.local\.\s+\d+\s+IN\s+SOA/);
  assert.ok(axfr.some((l) => /^cart\.shop\.linkerd\.local\.\s+\d+\s+IN\s+A\s+10\.97\.0\.1$/.test(l)));
  const current = Number(axfr[0]!.split(/\s+/)[6]);
  const ixfr = (await digRaw(s.dnsPort, ['linkerd.local', `IXFR=${current}`])).split('\n').filter((l) => l !== '' && !l.startsWith(';'));
  assert.equal(ixfr.length, 1, ixfr.join('\n'));
  const older = (await digRaw(s.dnsPort, ['linkerd.local', 'IXFR=1'])).split('\n').filter((l) => l !== '' && !l.startsWith(';'));
  assert.ok(older.length > 3 && older.some((l) => /^web\.default\.linkerd\.local\./.test(l)), 'a serial the history does not reach gets the whole zone');
  const udp = await udpExchange(s.dnsPort, buildQuery('linkerd.local', { type: 251 }));
  assert.equal(decode(udp!).header.rcode, 5, 'IXFR over UDP: REFUSED (secondaries go to TCP)');
  const closed = await startMeshdns(['--upstream', 'none']);
  try {
    assert.match(await digRaw(closed.dnsPort, ['linkerd.local', 'AXFR']), /Transfer failed/);
  } finally {
    await closed.stop();
  }
});

const records = (text: string): string[] => text.split('\n').filter((l) => l !== '' && !l.startsWith(';'));
const soaSerial = (line: string): number => Number(line.split(/\s+/)[6]);


test('IXFR from a serial the history reaches: the changes since, step by step (RFC 1995 §4); Knot follows by IXFR alone', async () => {
  const soaNow = async (): Promise<number> => Number((await dig(s.dnsPort, ['+short', 'linkerd.local', 'SOA'])).raw.trim().split(/\s+/)[2]);
  await within(8000, async () => (await dig(knot.port, ['+short', 'linkerd.local', 'SOA'])).raw.trim().split(/\s+/)[2] === String(await soaNow()), 200);
  const s0 = await soaNow();
  const counted = await transferCounts(s.httpPort);
  assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'ixfr', 'x1'), { address: '10.97.2.1', ports: [{ name: 'http', port: 80 }] })).status, 200);
  const s1 = await soaNow();
  assert.ok(s1 > s0);
  const one = records(await digRaw(s.dnsPort, ['linkerd.local', `IXFR=${s0}`]));
  // SOA(now), SOA(s0), nothing removed, SOA(s1), the added records, SOA(now).
  assert.equal(soaSerial(one[0]!), s1);
  assert.equal(soaSerial(one[1]!), s0);
  assert.equal(soaSerial(one[2]!), s1);
  assert.equal(soaSerial(one.at(-1)!), s1);
  const added = one.slice(3, -1).map((l) => l.split(/\s+/).filter((_, i) => i !== 1).join(' ')).sort();
  assert.deepEqual(added, [
    '_http._tcp.ixfr.shop.linkerd.local. IN SRV 0 100 80 x1.ixfr.shop.linkerd.local.',
    'ixfr.shop.linkerd.local. IN A 10.97.2.1',
    'x1.ixfr.shop.linkerd.local. IN A 10.97.2.1',
  ]);
  assert.equal((await api(s.httpPort, 'DELETE', instancePath('shop', 'ixfr', 'x1'))).status, 204);
  const s2 = await soaNow();
  const two = records(await digRaw(s.dnsPort, ['linkerd.local', `IXFR=${s0}`]));
  const soas = two.filter((l) => /\sSOA\s/.test(l)).map(soaSerial);
  assert.deepEqual(soas, [s2, s0, s1, s1, s2, s2], two.join('\n'));
  // The removal step names what went: the records the first step added.
  const removedAt = two.findIndex((l, i) => i > 3 && soaSerial(l) === s1 && /\sSOA\s/.test(l));
  assert.ok(two.slice(removedAt + 1, -2).some((l) => /^ixfr\.shop\.linkerd\.local\.\s+\d+\s+IN\s+A\s+10\.97\.2\.1$/.test(l)), two.join('\n'));
  // Knot, told by NOTIFY, follows both changes by IXFR: no whole-zone transfer was asked for since.
  await within(8000, async () => soaSerial(`x x x x x x ${(await dig(knot.port, ['+short', 'linkerd.local', 'SOA'])).raw.trim().split(/\s+/)[2]}`) === s2, 200);
  assert.equal((await dig(knot.port, ['ixfr.shop.linkerd.local'])).status, 'NXDOMAIN');
  const after = await transferCounts(s.httpPort);
  assert.ok(after.ixfr > counted.ixfr, `Knot asked IXFR (${JSON.stringify({ counted, after })})`);
  assert.equal(after.axfr, counted.axfr, 'and never fell back to AXFR');
});

test('named-checkzone accepts the transferred zone; Knot restarted after 1,000 changes catches up', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { execFileSync } = await import('node:child_process');
  const file = join(mkdtempSync(join(tmpdir(), 'meshdns-axfr-')), 'linkerd.local.zone');
  writeFileSync(file, await digRaw(s.dnsPort, ['+nocmd', '+nostats', 'linkerd.local', 'AXFR']));
  const checked = execFileSync('named-checkzone', ['linkerd.local', file], { encoding: 'utf8' });
  assert.match(checked, /loaded serial \d+\nOK/);

  const stopped = knot;
  await stopped.stop();
  for (let i = 0; i < 1000; i++) {
    const r = await api(s.httpPort, 'PUT', instancePath('bulk', `svc-${i % 50}`, `i${i}`), { address: `10.96.${i >> 8}.${i & 255}`, ports: [] });
    assert.equal(r.status, 200);
  }
  const ours = Number((await dig(s.dnsPort, ['+short', 'linkerd.local', 'SOA'])).raw.trim().split(/\s+/)[2]);
  knot = await stopped.restart('cart.shop.linkerd.local');
  // Knot checks the primary's SOA at start (its refresh) and transfers what it missed.
  await within(15_000, async () => Number((await dig(knot.port, ['+short', 'linkerd.local', 'SOA'])).raw.trim().split(/\s+/)[2]) === ours, 200);
  for (const i of [0, 499, 999]) {
    assert.equal((await dig(knot.port, ['+short', `i${i}.svc-${i % 50}.bulk.linkerd.local`])).raw.trim(), `10.96.${i >> 8}.${i & 255}`);
  }
  const [a, b] = await Promise.all([dig(s.dnsPort, ['+norecurse', 'svc-7.bulk.linkerd.local', 'A']), dig(knot.port, ['+norecurse', 'svc-7.bulk.linkerd.local', 'A'])]);
  assert.deepEqual(sorted(b.answer), sorted(a.answer));
});

test('NOTIFY: a change is announced within 50 ms; a burst is one NOTIFY; at most one a second per zone', async () => {
  const { createSocket } = await import('node:dgram');
  const secondary = createSocket('udp4');
  const arrivals: number[] = [];
  secondary.on('message', (msg, from) => {
    arrivals.push(performance.now());
    // Answer as a secondary does: the same ID, QR set, opcode NOTIFY kept.
    const reply = Buffer.from(msg.subarray(0, 12));
    reply[2] = reply[2]! | 0x80;
    reply.writeUInt16BE(0, 4);
    reply.writeUInt16BE(0, 6);
    secondary.send(reply, from.port, from.address);
  });
  await new Promise<void>((r) => secondary.bind(0, '127.0.0.1', r));
  const port = secondary.address().port;
  const p = await startMeshdns(['--upstream', 'none', '--notify', `127.0.0.1:${port}`]);
  try {
    // The zone is announced at start (as BIND and Knot announce their zones when they load them); the next
    // NOTIFY may follow a second after that one.
    await within(2000, async () => arrivals.length >= 1, 5);
    await new Promise((r) => setTimeout(r, 1100));
    arrivals.length = 0;
    const first = performance.now();
    assert.equal((await api(p.httpPort, 'PUT', instancePath('burst', 'svc', 'a0'), { address: '10.95.0.1', ports: [] })).status, 200);
    await within(1000, async () => arrivals.length === 1, 5);
    assert.ok(arrivals[0]! - first < 500, `first NOTIFY after ${(arrivals[0]! - first).toFixed(0)} ms`);
    // A burst of 20 changes over ~1.5 s: announced at most once a second.
    const burstStart = performance.now();
    for (let i = 1; i <= 20; i++) {
      assert.equal((await api(p.httpPort, 'PUT', instancePath('burst', 'svc', `a${i}`), { address: `10.95.0.${i + 1}`, ports: [] })).status, 200);
      await new Promise((r) => setTimeout(r, 75));
    }
    const burstMs = performance.now() - burstStart;
    await new Promise((r) => setTimeout(r, 1300));
    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!);
    assert.ok(gaps.every((g) => g >= 950), `gaps ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`);
    assert.ok(arrivals.length >= 2 && arrivals.length <= Math.ceil(burstMs / 1000) + 2, `${arrivals.length} NOTIFYs for a burst of ${burstMs.toFixed(0)} ms`);
  } finally {
    await p.stop();
    secondary.close();
  }
});
