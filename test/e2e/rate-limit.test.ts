import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { buildQuery, decode, tcpExchange, frame } from '../support/dns-client.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';

let server: MeshdnsProcess;
before(async () => {
  server = await startMeshdns(['--upstream', 'none', '--rrl-responses-per-second', '20', '--rrl-slip', '2', '--rrl-exempt', '127.0.9.0/24']);
});
after(() => server.stop());

/** Sends `count` queries from one source address as fast as it can; counts full, truncated and missing replies. */
async function flood(source: string, name: string, count: number): Promise<{ full: number; truncated: number; missing: number }> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, source, () => r()));
  const seen = new Map<number, boolean>();
  socket.on('message', (msg) => {
    const reply = decode(msg);
    seen.set(reply.header.id, reply.header.tc === 1);
  });
  for (let id = 1; id <= count; id++) socket.send(buildQuery(name, { id }), server.dnsPort, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 700));
  socket.close();
  const truncated = [...seen.values()].filter(Boolean).length;
  return { full: seen.size - truncated, truncated, missing: count - seen.size };
}

test('--rrl-responses-per-second: a flood of one question from one network gets its allowance, then half slip (TC) and half drop', async () => {
  const r = await flood('127.0.0.1', 'web.default.linkerd.local', 200);
  assert.ok(r.full >= 20 && r.full <= 45, `full answers: ${r.full}`);
  assert.ok(r.truncated >= 70 && r.truncated <= 95, `truncated: ${r.truncated}`);
  assert.ok(r.missing >= 70, `dropped: ${r.missing}`);
  const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  assert.match(metrics, /meshdns_dns_rate_limited_total\{action="dropped"\} [1-9]/);
  assert.match(metrics, /meshdns_dns_rate_limited_total\{action="slipped"\} [1-9]/);
});

test('meanwhile another network, an exempt client and TCP from the limited network are answered in full', async () => {
  await flood('127.0.0.1', 'web.default.linkerd.local', 100);
  const other = await flood('127.0.4.1', 'web.default.linkerd.local', 15);
  assert.deepEqual(other, { full: 15, truncated: 0, missing: 0 });
  const exempt = await flood('127.0.9.1', 'web.default.linkerd.local', 100);
  assert.deepEqual(exempt, { full: 100, truncated: 0, missing: 0 });
  const [viaTcp] = await tcpExchange(server.dnsPort, [frame(buildQuery('web.default.linkerd.local', { id: 5 }))], 1);
  assert.equal(decode(viaTcp!).answers.length, 2);
});
