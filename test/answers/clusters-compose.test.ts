import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';

/**
 * Issue 26: the policy `clusters` composes with what exists: round robin keeps exact windows per client cluster,
 * zone preference, answer limits and failover lists apply within the clusters the choice leaves. REST instances
 * in a second cluster (`cluster: dc1`), clients placed by --client-cluster and --client-zone, real sockets.
 */
let s: MeshdnsProcess;
const LOCAL = '127.0.0.1';
const DC1 = '127.0.5.9';

before(async () => {
  s = await startMeshdns(['--upstream', 'none', '--cluster-name', 'east', '--client-cluster', '127.0.5.0/24=dc1', '--client-zone', '127.0.0.0/24=z1']);
});
after(() => s.stop());

async function register(ns: string, svc: string, id: string, address: string, extra: object = {}): Promise<void> {
  const r = await api(s.httpPort, 'PUT', instancePath(ns, svc, id), { address, ports: [{ name: 'http', port: 8080 }], ...extra });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}
async function setPolicy(ns: string, svc: string, body: unknown): Promise<void> {
  const r = await api(s.httpPort, 'PUT', `/v1/services/${ns}/${svc}/policy`, body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
}
async function answer(name: string, from: string): Promise<string[]> {
  const reply = await udpExchange(s.dnsPort, buildQuery(name, { edns: { udpSize: 4096 } }), 2000, '127.0.0.1', from);
  assert.ok(reply !== null);
  return decode(reply).answers.map((a) => a.address ?? '');
}
const tally = (list: string[]): Record<string, number> => list.reduce<Record<string, number>>((t, a) => ({ ...t, [a]: (t[a] ?? 0) + 1 }), {});

test('round robin: each client cluster gets an exact window over its own instances, interleaved with the other', async () => {
  await register('rr', 'api', 'a', '10.26.1.1', { weight: 2 });
  await register('rr', 'api', 'b', '10.26.1.2', { weight: 1 });
  await register('rr', 'api', 'c', '10.26.2.1', { weight: 3, cluster: 'dc1' });
  await register('rr', 'api', 'd', '10.26.2.2', { weight: 1, cluster: 'dc1' });
  await setPolicy('rr', 'api', { loadBalancer: 'round-robin' });
  const local: string[] = [];
  const dc1: string[] = [];
  for (let i = 0; i < 12; i++) {
    local.push((await answer('api.rr.linkerd.local', LOCAL))[0]!);
    dc1.push((await answer('api.rr.linkerd.local', DC1))[0]!);
  }
  assert.deepEqual(tally(local), { '10.26.1.1': 8, '10.26.1.2': 4 });
  assert.deepEqual(tally(dc1), { '10.26.2.1': 9, '10.26.2.2': 3 });
});

test('zone preference and the answer limit apply within the client\'s cluster', async () => {
  await register('zp', 'web', 'z1', '10.26.3.1', { zone: 'z1' });
  await register('zp', 'web', 'z2', '10.26.3.2', { zone: 'z2' });
  await register('zp', 'web', 'far', '10.26.4.1', { zone: 'z1', cluster: 'dc1' });
  await setPolicy('zp', 'web', { locality: 'prefer-zone', answerLimit: 1 });
  for (let i = 0; i < 20; i++) assert.deepEqual(await answer('web.zp.linkerd.local', LOCAL), ['10.26.3.1']);
  for (let i = 0; i < 5; i++) assert.deepEqual(await answer('web.zp.linkerd.local', DC1), ['10.26.4.1']);
  // clusters: all puts dc1's z1 instance among the local client's zone-first answers.
  await setPolicy('zp', 'web', { locality: 'prefer-zone', answerLimit: 1, clusters: 'all' });
  const seen = new Set<string>();
  for (let i = 0; i < 40; i++) seen.add((await answer('web.zp.linkerd.local', LOCAL))[0]!);
  assert.deepEqual([...seen].sort(), ['10.26.3.1', '10.26.4.1']);
});

test('failover lists with local-only: a cluster with nothing of the service fails over to the backup\'s instances in that cluster', async () => {
  await register('fo', 'pay', 'p1', '10.26.5.1', { cluster: 'dc1' });
  await register('fo', 'pay-dr', 'l1', '10.26.6.1');
  await register('fo', 'pay-dr', 'r1', '10.26.6.2', { cluster: 'dc1' });
  await setPolicy('fo', 'pay', { clusters: 'local-only', failover: ['pay-dr.fo'] });
  assert.deepEqual(await answer('pay.fo.linkerd.local', DC1), ['10.26.5.1']);
  // The local cluster has no pay instance: its clients get the backup, and only the backup's local instance.
  assert.deepEqual(await answer('pay.fo.linkerd.local', LOCAL), ['10.26.6.1']);
  // prefer-local would have given the local clients dc1's pay instead.
  await setPolicy('fo', 'pay', { failover: ['pay-dr.fo'] });
  assert.deepEqual(await answer('pay.fo.linkerd.local', LOCAL), ['10.26.5.1']);
});
