import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { dig } from '../support/dig.js';
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { startMeshdns, runCli, type MeshdnsProcess } from '../support/meshdns-process.js';
import { tempZones } from '../support/temp-zones.js';

// A second local server: meshdns itself, authoritative for example.test, with an RRset too big for UDP.
const upstreamZone = [
  '$ORIGIN example.test.',
  '$TTL 300',
  '@ SOA ns hostmaster 1 7200 1800 86400 60',
  '@ NS ns',
  'ns A 127.0.0.1',
  'www A 192.0.2.80',
  ...Array.from({ length: 40 }, (_, i) => `big TXT "${'x'.repeat(40)}${i}"`),
].join('\n');

let upstream: MeshdnsProcess;
let front: MeshdnsProcess;
before(async () => {
  upstream = await startMeshdns(['--domain', 'example.test', '--zones', tempZones({ 'example.test.zone': upstreamZone }), '--upstream', 'none']);
  front = await startMeshdns(['--upstream', `127.0.0.1:${upstream.dnsPort}`, '--forward-timeout', '500ms']);
});
after(async () => {
  await front.stop();
  await upstream.stop();
});

test('names outside the mesh zones are forwarded to --upstream', async () => {
  const r = await dig(front.dnsPort, ['www.example.test']);
  assert.equal(r.status, 'NOERROR');
  assert.match(r.answer[0]!, /192\.0\.2\.80$/);
  // Mesh names are still answered by the front server itself.
  assert.ok((await dig(front.dnsPort, ['web.default.linkerd.local'])).flags.includes('aa'));
});

test('a forwarded answer keeps the client ID and question case, and a second ask comes from the cache with an aged TTL', async () => {
  const first = await dig(front.dnsPort, ['NS.Example.TEST']);
  assert.match(first.answer[0]!, /^NS\.Example\.TEST\.\s+300\s/);
  await new Promise((r) => setTimeout(r, 1100));
  const again = await dig(front.dnsPort, ['ns.example.test']);
  assert.match(again.answer[0]!, /^ns\.example\.test\.\s+29[0-9]\s/);
});

test('truncated upstream answers: UDP clients get TC, TCP clients get the whole RRset (retried over TCP upstream)', async () => {
  const udp = await dig(front.dnsPort, ['+ignore', 'big.example.test', 'TXT']);
  assert.ok(udp.flags.includes('tc'), udp.raw);
  const tcp = await dig(front.dnsPort, ['+tcp', 'big.example.test', 'TXT']);
  assert.equal(tcp.answer.length, 40);
});

test('clients outside --forward-allow are refused forwarding', async () => {
  const strict = await startMeshdns(['--upstream', `127.0.0.1:${upstream.dnsPort}`, '--forward-allow', '10.0.0.0/8']);
  try {
    assert.equal((await dig(strict.dnsPort, ['www.example.test'])).status, 'REFUSED');
    assert.equal((await dig(strict.dnsPort, ['web.default.linkerd.local'])).status, 'NOERROR');
  } finally {
    await strict.stop();
  }
});

test('a dead upstream gives SERVFAIL after the timeout, the next upstream is tried, and mesh answers never wait', async () => {
  // A socket that swallows queries: an upstream that never answers.
  const blackhole = createSocket('udp4');
  await new Promise<void>((r) => blackhole.bind(0, '127.0.0.1', () => r()));
  const deadPort = blackhole.address().port;
  const s = await startMeshdns(['--upstream', `127.0.0.1:${deadPort}`, '--forward-timeout', '300ms']);
  const failover = await startMeshdns(['--upstream', `127.0.0.1:${deadPort}`, '--upstream', `127.0.0.1:${upstream.dnsPort}`, '--forward-timeout', '300ms']);
  try {
    const pending = dig(s.dnsPort, ['www.example.test']);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const mesh = await udpExchange(s.dnsPort, buildQuery('web.default.linkerd.local'));
    assert.equal(decode(mesh!).answers.length, 2);
    // The forward waits 300 ms for its dead upstream; the mesh answer must not.
    assert.ok(Date.now() - started < 200, 'a mesh answer waited for the forward');
    assert.equal((await pending).status, 'SERVFAIL');
    for (let i = 0; i < 2; i++) assert.equal((await dig(failover.dnsPort, [`www.example.test`])).status, 'NOERROR');
  } finally {
    await s.stop();
    await failover.stop();
    blackhole.close();
  }
});

test('a slow upstream under a flood of forwarded names: the excess is REFUSED at once, the rest SERVFAIL at the timeout, late answers are dropped, mesh answers never wait', async () => {
  // An upstream that answers every query, but 800 ms late: after --forward-timeout.
  const slow = createSocket('udp4');
  await new Promise<void>((r) => slow.bind(0, '127.0.0.1', () => r()));
  slow.on('message', (msg, from) => {
    const reply = Buffer.from(msg);
    reply[2] = reply[2]! | 0x80;
    setTimeout(() => slow.send(reply, from.port, from.address), 800);
  });
  const s = await startMeshdns(['--upstream', `127.0.0.1:${slow.address().port}`, '--forward-timeout', '300ms', '--forward-max-concurrent', '50']);
  const client = createSocket('udp4');
  try {
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    const rcodes = new Map<number, number>();
    client.on('message', (m) => rcodes.set(m.readUInt16BE(0), m[3]! & 0xf));
    for (let id = 1; id <= 300; id++) client.send(buildQuery(`n${id}.example.test`, { id }), s.dnsPort, '127.0.0.1');
    const started = Date.now();
    const mesh = await udpExchange(s.dnsPort, buildQuery('web.default.linkerd.local'));
    assert.equal(decode(mesh!).answers.length, 2);
    assert.ok(Date.now() - started < 200, 'a mesh answer waited behind the forwards');
    await new Promise((r) => setTimeout(r, 1500));
    const counts = { refused: 0, servfail: 0, other: 0 };
    for (const rcode of rcodes.values()) counts[rcode === 5 ? 'refused' : rcode === 2 ? 'servfail' : 'other']++;
    assert.equal(rcodes.size, 300, 'every query got an answer');
    assert.equal(counts.servfail, 50, `forwards that waited: ${JSON.stringify(counts)}`);
    assert.equal(counts.refused, 250, `refused at once: ${JSON.stringify(counts)}`);
    // Room again once the forwards timed out; the late answers did not confuse anything.
    assert.equal((await dig(s.dnsPort, ['web.default.linkerd.local'])).status, 'NOERROR');
    assert.equal(s.proc.exitCode, null);
  } finally {
    client.close();
    await s.stop();
    slow.close();
  }
});

test('an --upstream that is our own listener is refused at start (forwarding loop)', async () => {
  const r = await runCli(['serve', '--dns', '127.0.0.1:39153', '--http', '127.0.0.1:0', '--upstream', '127.0.0.1:39153']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /own listener: forwarding to it would loop/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});
