import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { etcdReplicas, type EtcdServer } from '../support/etcd.js';
import type { MeshdnsProcess } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';
import { within } from '../support/poll.js';

/** Issue 23, cases 1, 4 and 5, against a real etcd and two real replicas. */
let etcd: EtcdServer;
let a: MeshdnsProcess;
let b: MeshdnsProcess;
let prefix: string;
let stopAll: () => Promise<void>;

before(async () => {
  ({ etcd, a, b, prefix, stop: stopAll } = await etcdReplicas('meshdns-follow'));
});
after(async () => {
  b.proc.kill('SIGCONT');
  await stopAll();
});

/** etcd's own API (its gRPC gateway: what etcdctl calls), for what an operator or another tool does to the store. */
async function etcdCall(path: string, body: object): Promise<Record<string, unknown>> {
  const res = await fetch(`${etcd.url}/v3/${path}`, { method: 'POST', body: JSON.stringify(body) });
  assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
  return (await res.json()) as Record<string, unknown>;
}
const b64 = (text: string): string => Buffer.from(text).toString('base64');

const answers = async (s: MeshdnsProcess, name: string): Promise<string[]> => decode((await udpExchange(s.dnsPort, buildQuery(name), 2000))!).answers.map((x) => x.address!);
const metric = async (s: MeshdnsProcess, pattern: RegExp): Promise<number> => Number(pattern.exec((await api(s.httpPort, 'GET', '/metrics')).body as string)?.[1] ?? 'NaN');
const instances = async (s: MeshdnsProcess, ns: string, svc: string): Promise<number> => ((await api(s.httpPort, 'GET', `/v1/services/${ns}/${svc}`)).body?.instances?.length as number | undefined) ?? 0;

test('1: a replica paused past a compaction re-lists, follows again, and says so (log, metric); the replicas converge', async () => {
  b.proc.kill('SIGSTOP');
  try {
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 600; i++) {
      writes.push(api(a.httpPort, 'PUT', instancePath('cmp', 'bulk', `i${i}`), { address: `10.23.${Math.floor(i / 250)}.${(i % 250) + 1}`, ports: [] }));
      if (writes.length === 50) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    // Delete one B knew of, so that the re-list must also remove.
    assert.equal((await api(a.httpPort, 'DELETE', instancePath('cmp', 'bulk', 'i0'))).status, 204);
    const revision = (await etcdCall('kv/range', { key: b64('x') })).header as { revision: string };
    await etcdCall('kv/compaction', { revision: revision.revision, physical: true });
    await etcdCall('maintenance/defragment', {});
    // etcd restarted meanwhile (an upgrade, a node move): B's watch must resume from a revision that is gone.
    await etcd.kill();
    await etcd.restart();
  } finally {
    b.proc.kill('SIGCONT');
  }
  await within(15_000, async () => (await instances(b, 'cmp', 'bulk')) === 599, 200);
  assert.ok((await metric(b, /meshdns_store_resyncs_total\{store="etcd",reason="\w+(?:-\w+)?"\} (\d+)/)) >= 1, b.logs.filter((l) => l.includes('etcd')).join('\n'));
  await b.waitForLog(/etcd watch cannot resume; re-listing/);
  // Following again: a later write on A reaches B, B's own write reaches A.
  assert.equal((await api(a.httpPort, 'PUT', instancePath('cmp', 'later', 'x'), { address: '10.23.9.1', ports: [] })).status, 200);
  await within(3000, async () => (await answers(b, 'later.cmp.linkerd.local')).includes('10.23.9.1'));
  assert.equal((await api(b.httpPort, 'PUT', instancePath('cmp', 'from-b', 'x'), { address: '10.23.9.2', ports: [] })).status, 200);
  await within(3000, async () => (await answers(a, 'from-b.cmp.linkerd.local')).includes('10.23.9.2'));
  assert.equal(await metric(b, /meshdns_store_following (\d+)/), 1);
  assert.equal((await fetch(`http://127.0.0.1:${b.httpPort}/readyz`)).status, 200);
});

test('5: a key whose body names another service is refused on both replicas (log, metric); deleting the key clears it', async () => {
  const key = `${prefix}shop/x/mismatch`;
  const body = { namespace: 'other', service: 'zzz', id: 'qqq', address: '10.23.5.1', ports: [], weight: 100, heartbeatAt: Date.now() };
  await etcdCall('kv/put', { key: b64(key), value: b64(JSON.stringify(body)) });
  for (const s of [a, b]) {
    await within(3000, async () => (await metric(s, /meshdns_invalid_registrations (\d+)/)) === 1);
    assert.deepEqual(await answers(s, 'qqq.zzz.other.linkerd.local'), []);
    assert.deepEqual(await answers(s, 'mismatch.x.shop.linkerd.local'), []);
  }
  await etcdCall('kv/deleterange', { key: b64(key) });
  for (const s of [a, b]) await within(3000, async () => (await metric(s, /meshdns_invalid_registrations (\d+)/)) === 0);
});

function connectionsTo(pid: number, port: number): number {
  const out = execFileSync('ss', ['-Htnp', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(`pid=${pid},`)).length;
}

test('4: after an etcd outage and many refused writes, a replica holds as few connections to etcd as before', async () => {
  const before = connectionsTo(a.proc.pid!, etcd.clientPort);
  await etcd.kill();
  for (let i = 0; i < 60; i++) assert.equal((await api(a.httpPort, 'PUT', instancePath('out', 'age', `i${i}`), { address: '10.23.4.1', ports: [] })).status, 503);
  await etcd.restart();
  await within(15_000, async () => (await api(a.httpPort, 'PUT', instancePath('out', 'age', 'back'), { address: '10.23.4.2', ports: [] })).status === 200, 250);
  await new Promise((r) => setTimeout(r, 3000));
  const afterOutage = connectionsTo(a.proc.pid!, etcd.clientPort);
  assert.ok(afterOutage <= Math.max(before, 2), `${before} connections before the outage, ${afterOutage} after`);
});
