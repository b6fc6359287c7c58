import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { dig } from '../support/dig.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';

/** Issue 22, cases 3–5: policies that compose (round robin × zones, round robin × truncation, limits × failover). */
let s: MeshdnsProcess;
before(async () => {
  s = await startMeshdns(['--upstream', 'none', '--client-zone', '127.0.0.0/24=z24']);
});
after(() => s.stop());

const port = [{ name: 'http', port: 8080 }];
async function register(ns: string, svc: string, id: string, address: string, extra: object = {}): Promise<void> {
  const r = await api(s.httpPort, 'PUT', instancePath(ns, svc, id), { address, ports: port, ...extra });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}
async function setPolicy(ns: string, svc: string, body: unknown): Promise<void> {
  const r = await api(s.httpPort, 'PUT', `/v1/services/${ns}/${svc}/policy`, body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
}
async function firstFrom(name: string, from: string): Promise<string> {
  const reply = await udpExchange(s.dnsPort, buildQuery(name, { edns: { udpSize: 4096 } }), 2000, '127.0.0.1', from);
  assert.ok(reply !== null);
  return decode(reply).answers[0]?.address ?? 'none';
}
const tally = (list: string[]): Record<string, number> => list.reduce<Record<string, number>>((t, a) => ({ ...t, [a]: (t[a] ?? 0) + 1 }), {});

test('3: round robin + prefer-zone: in-zone instances by their weights (12/6 of 18), exact also when another zone asks in between', async () => {
  await register('rz', 'api', 'a', '10.22.3.1', { weight: 2, zone: 'z24' });
  await register('rz', 'api', 'b', '10.22.3.2', { weight: 1, zone: 'z24' });
  await register('rz', 'api', 'c', '10.22.3.3', { weight: 5, zone: 'zother' });
  await setPolicy('rz', 'api', { loadBalancer: 'round-robin', locality: 'prefer-zone' });
  const alone: string[] = [];
  for (let i = 0; i < 18; i++) alone.push(await firstFrom('api.rz.linkerd.local', '127.0.0.1'));
  assert.deepEqual(tally(alone), { '10.22.3.1': 12, '10.22.3.2': 6 });
  // Interleaved with a client outside every zone (127.1.0.1): each set of clients keeps its own exact window.
  const inZone: string[] = [];
  const outside: string[] = [];
  for (let i = 0; i < 24; i++) {
    inZone.push(await firstFrom('api.rz.linkerd.local', '127.0.0.1'));
    outside.push(await firstFrom('api.rz.linkerd.local', '127.1.0.1'));
  }
  assert.deepEqual(tally(inZone), { '10.22.3.1': 16, '10.22.3.2': 8 });
  assert.deepEqual(tally(outside), { '10.22.3.1': 6, '10.22.3.2': 3, '10.22.3.3': 15 });
});

test('4: a truncated UDP answer and its TCP retry take one round-robin turn: every instance comes first in its turn', async () => {
  for (let i = 0; i < 100; i++) await register('tc', 'big', `i${i}`, `10.22.4.${i + 1}`);
  await setPolicy('tc', 'big', { loadBalancer: 'round-robin' });
  const firsts: string[] = [];
  for (let i = 0; i < 200; i++) {
    // dig without EDNS: 100 A records do not fit 512 octets, so it gets TC and retries over TCP, as glibc does.
    const r = await dig(s.dnsPort, ['+noedns', '+norecurse', 'big.tc.linkerd.local', 'A']);
    assert.equal(r.answer.length, 100, 'the TCP retry carries every record');
    firsts.push(r.answer[0]!.split(/\s+/).pop()!);
  }
  const counts = tally(firsts);
  assert.equal(Object.keys(counts).length, 100, 'every instance comes first');
  assert.ok(Object.values(counts).every((n) => n === 2), JSON.stringify(counts));
});

test('5: answerLimit of the queried service holds while a failover backup answers', async () => {
  await setPolicy('fo', 'primary', { answerLimit: 1, failover: ['bk.fo'] });
  for (let i = 1; i <= 3; i++) await register('fo', 'bk', `b${i}`, `10.22.5.${i}`);
  const a = await dig(s.dnsPort, ['primary.fo.linkerd.local', 'A']);
  assert.equal(a.status, 'NOERROR');
  assert.equal(a.answer.length, 1, a.raw);
  const srv = await dig(s.dnsPort, ['_http._tcp.primary.fo.linkerd.local', 'SRV']);
  assert.equal(srv.answer.length, 1, srv.raw);
  // The backup's own name keeps its own (unlimited) policy.
  assert.equal((await dig(s.dnsPort, ['bk.fo.linkerd.local', 'A'])).answer.length, 3);
});
