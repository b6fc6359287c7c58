import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { etcdReplicas, type EtcdServer } from '../support/etcd.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';
import { within } from '../support/poll.js';

let etcd: EtcdServer;
let a: MeshdnsProcess;
let b: MeshdnsProcess;
let replicaArgs: () => string[];
let stopAll: () => Promise<void>;

before(async () => {
  ({ etcd, a, b, args: replicaArgs, stop: stopAll } = await etcdReplicas('meshdns-e2e'));
});
after(() => stopAll());

const answers = async (s: MeshdnsProcess, name: string): Promise<string[]> =>
  decode((await udpExchange(s.dnsPort, buildQuery(name)))!).answers.map((x) => x.address!);


test('a write on one replica is answered by the other within a second; so is a delete', async () => {
  assert.equal((await api(a.httpPort, 'PUT', instancePath('rep', 'web', 'one'), { address: '10.20.0.1', ports: [] })).status, 200);
  const seen = await within(1000, async () => (await answers(b, 'web.rep.linkerd.local')).includes('10.20.0.1'));
  assert.ok(seen < 1000);
  assert.equal((await api(b.httpPort, 'DELETE', instancePath('rep', 'web', 'one'))).status, 204);
  await within(1000, async () => decode((await udpExchange(a.dnsPort, buildQuery('web.rep.linkerd.local')))!).header.rcode === 3);
});

test('heartbeats sent to either replica keep a TTL registration alive on both', async () => {
  await api(a.httpPort, 'PUT', instancePath('rep', 'beat', 'x'), { address: '10.20.0.2', ports: [], ttl: '1s' });
  await within(1000, async () => (await answers(b, 'beat.rep.linkerd.local')).length === 1);
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await api(i % 2 ? a.httpPort : b.httpPort, 'PUT', `${instancePath('rep', 'beat', 'x')}/heartbeat`)).status, 204);
    assert.deepEqual(await answers(a, 'beat.rep.linkerd.local'), ['10.20.0.2']);
    assert.deepEqual(await answers(b, 'beat.rep.linkerd.local'), ['10.20.0.2']);
  }
});

test('etcd killed: DNS keeps answering, writes get 503; etcd back: writes resume and replicate', async () => {
  await api(a.httpPort, 'PUT', instancePath('rep', 'steady', 's'), { address: '10.20.0.3', ports: [] });
  await within(1000, async () => (await answers(b, 'steady.rep.linkerd.local')).length === 1);
  await etcd.kill();
  assert.deepEqual(await answers(a, 'steady.rep.linkerd.local'), ['10.20.0.3']);
  assert.deepEqual(await answers(b, 'steady.rep.linkerd.local'), ['10.20.0.3']);
  const started = Date.now();
  const failed = await api(a.httpPort, 'PUT', instancePath('rep', 'steady', 't'), { address: '10.20.0.4', ports: [] });
  assert.equal(failed.status, 503);
  assert.equal(failed.body.error, 'store_unavailable');
  assert.match(failed.body.message, /etcd is unreachable/);
  assert.ok(Date.now() - started < 6000, 'the failing write took too long');
  assert.deepEqual(await answers(a, 'steady.rep.linkerd.local'), ['10.20.0.3']);

  await etcd.restart();
  await within(15_000, async () => (await api(a.httpPort, 'PUT', instancePath('rep', 'steady', 't'), { address: '10.20.0.4', ports: [] })).status === 200);
  await within(10_000, async () => (await answers(b, 'steady.rep.linkerd.local')).includes('10.20.0.4'));
});

test('etcd down at start: zone data is served, /readyz is 503 until etcd is back', async () => {
  await etcd.kill();
  const c = await startMeshdns(replicaArgs());
  try {
    assert.equal((await fetch(`http://127.0.0.1:${c.httpPort}/readyz`)).status, 503);
    assert.equal((await answers(c, 'web.default.linkerd.local')).length, 2);
    await etcd.restart();
    await within(15_000, async () => (await fetch(`http://127.0.0.1:${c.httpPort}/readyz`)).status === 200);
    assert.equal((await answers(c, 'steady.rep.linkerd.local')).length, 2);
  } finally {
    await c.stop();
  }
});
