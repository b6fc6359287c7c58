import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildQuery, decode, udpExchange } from '../../support/dns-client.js';
import { dig } from '../../support/dig.js';
import { endpointSlice, FakeKubeApiServer, pod, service } from '../../support/fake-kube-apiserver.js';
import { startMeshdns, type MeshdnsProcess } from '../../support/meshdns-process.js';
import { ProbeTarget } from '../../support/probe-target.js';
import { within } from '../../support/poll.js';

let api: FakeKubeApiServer;
let s: MeshdnsProcess;

async function addresses(name: string, type = 1, server = s): Promise<string[]> {
  return decode((await udpExchange(server.dnsPort, buildQuery(name, { type })))!).answers.map((a) => a.address ?? a.domain ?? '').sort();
}


const ready = async (server: MeshdnsProcess): Promise<boolean> => (await fetch(`http://127.0.0.1:${server.httpPort}/readyz`)).status === 200;

before(async () => {
  api = await FakeKubeApiServer.start();
  api.apply('services', service('shop', 'web'));
  api.apply('endpointslices', endpointSlice('shop', 'web-abc', 'web', [{ address: '10.40.0.1' }, { address: '10.40.0.2' }]));
  s = await startMeshdns(['--upstream', 'none', '--kubernetes', 'on', '--kubeconfig', api.kubeconfig()]);
  await within(5000, () => ready(s));
});
after(async () => {
  await s.stop();
  await api.stop();
});

test('a Service with a ready EndpointSlice is answered; SRV from the slice ports', async () => {
  assert.deepEqual(await addresses('web.shop.linkerd.local'), ['10.40.0.1', '10.40.0.2']);
  const srv = await dig(s.dnsPort, ['+short', '_http._tcp.web.shop.linkerd.local', 'SRV']);
  assert.deepEqual(srv.raw.trim().split('\n').sort(), ['0 100 8080 10-40-0-1.web.shop.linkerd.local.', '0 100 8080 10-40-0-2.web.shop.linkerd.local.']);
  const list = (await (await fetch(`http://127.0.0.1:${s.httpPort}/v1/services`)).json()) as { services: { namespace: string; sources: Record<string, number> }[] };
  assert.deepEqual(list.services.find((x) => x.namespace === 'shop')!.sources, { kubernetes: 2 });
  // The reflector asked for bookmarks and pages.
  assert.ok(api.requests.some((r) => r.includes('allowWatchBookmarks=true')));
  assert.ok(api.requests.some((r) => r.includes('limit=500')));
});

test('readiness flips are followed within a second', async () => {
  api.apply('endpointslices', endpointSlice('shop', 'web-abc', 'web', [{ address: '10.40.0.1' }, { address: '10.40.0.2', ready: false }]));
  const t = await within(1000, async () => (await addresses('web.shop.linkerd.local')).join() === '10.40.0.1');
  assert.ok(t < 1000);
  api.apply('endpointslices', endpointSlice('shop', 'web-abc', 'web', [{ address: '10.40.0.1' }, { address: '10.40.0.2' }]));
  await within(1000, async () => (await addresses('web.shop.linkerd.local')).length === 2);
});

test('every watch dropped while objects change: the changes still arrive', async () => {
  api.dropWatches();
  api.apply('endpointslices', endpointSlice('shop', 'web-abc', 'web', [{ address: '10.40.0.1' }, { address: '10.40.0.2' }, { address: '10.40.0.3' }]));
  await within(3000, async () => (await addresses('web.shop.linkerd.local')).length === 3);
});

test('history expired (410 Gone) while an endpoint is deleted: re-list, and the deleted endpoint is gone', async () => {
  // The change happens while nobody watches, and history is compacted past it: the reconnect gets 410.
  api.dropWatches();
  api.apply('endpointslices', endpointSlice('shop', 'web-abc', 'web', [{ address: '10.40.0.1' }, { address: '10.40.0.2' }]));
  api.expireHistory();
  await within(5000, async () => (await addresses('web.shop.linkerd.local')).join() === '10.40.0.1,10.40.0.2');
  const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  assert.match(metrics, /meshdns_kubernetes_watch_restarts_total\{cluster="local",resource="endpointslices",reason="gone"\} [1-9]/);
  assert.match(metrics, /meshdns_kubernetes_objects\{cluster="local",resource="endpointslices"\} \d+/);
});

test('mapping: IPv6 slices, hostnames, terminating endpoints, publishNotReadyAddresses, weights, ExternalName', async () => {
  api.apply('services', service('shop', 'db', { spec: { type: 'ClusterIP', publishNotReadyAddresses: true } }));
  api.apply('endpointslices', endpointSlice('shop', 'db-v4', 'db', [{ address: '10.41.0.1', hostname: 'db-0' }, { address: '10.41.0.2', ready: false, hostname: 'db-1' }], { ports: [{ name: 'pg', port: 5432 }], annotations: { 'meshdns.io/weight': '30' } }));
  api.apply('endpointslices', endpointSlice('shop', 'db-v6', 'db', [{ address: 'fd00::41:1', hostname: 'db-0' }], { addressType: 'IPv6', ports: [{ name: 'pg', port: 5432 }], annotations: { 'meshdns.io/weight': '30' } }));
  api.apply('services', service('shop', 'plain'));
  api.apply('endpointslices', endpointSlice('shop', 'plain-1', 'plain', [{ address: '10.41.1.1' }]));
  api.apply('services', service('shop', 'cache'));
  api.apply('endpointslices', endpointSlice('shop', 'cache-1', 'cache', [{ address: '10.42.0.1' }, { address: '10.42.0.2', ready: false, serving: true, terminating: true }, { address: '10.42.0.3', ready: false }]));
  api.apply('services', service('shop', 'legacy', { spec: { type: 'ExternalName', externalName: 'db.example.com' } }));
  await within(2000, async () => (await addresses('db.shop.linkerd.local')).length === 2);
  assert.deepEqual(await addresses('db.shop.linkerd.local'), ['10.41.0.1', '10.41.0.2']); // not ready, but published
  assert.deepEqual(await addresses('db.shop.linkerd.local', 28), ['fd00::41:1']);
  assert.deepEqual(await addresses('db-0.db.shop.linkerd.local'), ['10.41.0.1']);
  assert.deepEqual(await addresses('db-0.db.shop.linkerd.local', 28), ['fd00::41:1']);
  const srv = await dig(s.dnsPort, ['_pg._tcp.db.shop.linkerd.local', 'SRV']);
  assert.deepEqual(srv.answer.map((l) => l.split(/\s+/).slice(4).join(' ')).sort(), ['0 30 5432 db-0.db.shop.linkerd.local.', '0 30 5432 db-1.db.shop.linkerd.local.']);
  await within(2000, async () => (await dig(s.dnsPort, ['+short', '_http._tcp.plain.shop.linkerd.local', 'SRV'])).raw.startsWith('0 100 8080 '));
  assert.equal(srv.additional.length, 3); // db-0 has two addresses, db-1 one
  assert.deepEqual(await addresses('cache.shop.linkerd.local'), ['10.42.0.1']); // terminating: drained; not ready: out
  const view = (await (await fetch(`http://127.0.0.1:${s.httpPort}/v1/services/shop/cache`)).json()) as { instances: { address: string; state: string }[] };
  assert.deepEqual(view.instances.map((i) => [i.address, i.state]).sort(), [['10.42.0.1', 'healthy'], ['10.42.0.2', 'draining'], ['10.42.0.3', 'unhealthy']]);
  const cname = await dig(s.dnsPort, ['legacy.shop.linkerd.local']);
  assert.match(cname.answer[0]!, /CNAME\s+db\.example\.com\.$/);
});

test('deleting the Service gives NXDOMAIN', async () => {
  api.apply('services', service('shop', 'tmp'));
  api.apply('endpointslices', endpointSlice('shop', 'tmp-1', 'tmp', [{ address: '10.43.0.1' }]));
  await within(1000, async () => (await addresses('tmp.shop.linkerd.local')).length === 1);
  api.remove('services', 'shop', 'tmp');
  await within(1000, async () => decode((await udpExchange(s.dnsPort, buildQuery('tmp.shop.linkerd.local')))!).header.rcode === 3);
});

test('API server down: answers continue from the last known state; back up: changes flow again', async () => {
  await api.stop();
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(await addresses('web.shop.linkerd.local'), ['10.40.0.1', '10.40.0.2']);
  assert.equal(await ready(s), true);
  await api.restart();
  api.apply('endpointslices', endpointSlice('shop', 'web-abc', 'web', [{ address: '10.40.0.9' }]));
  await within(10_000, async () => (await addresses('web.shop.linkerd.local')).join() === '10.40.0.9');
});

test('a flapping API server (down and up, 500s, 410s, dropped watches, eight times over): answers never stop, the last state wins, no watch is left twice', async () => {
  let answered = 0;
  let failed = 0;
  let probing = true;
  const probe = (async () => {
    while (probing) {
      const a = await addresses('web.shop.linkerd.local');
      if (a.length > 0) answered++;
      else failed++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  for (let round = 0; round < 8; round++) {
    api.apply('endpointslices', endpointSlice('shop', 'web-abc', 'web', [{ address: `10.40.1.${round}` }]));
    if (round % 4 === 0) {
      await api.stop();
      await new Promise((r) => setTimeout(r, 150 + 50 * round));
      await api.restart();
    } else if (round % 4 === 1) {
      api.failRequests(4);
      api.dropWatches();
    } else if (round % 4 === 2) {
      api.expireHistory();
      api.dropWatches();
    } else {
      api.dropWatches();
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  api.apply('endpointslices', endpointSlice('shop', 'web-abc', 'web', [{ address: '10.40.1.99' }]));
  await within(15_000, async () => (await addresses('web.shop.linkerd.local')).join() === '10.40.1.99');
  probing = false;
  await probe;
  assert.equal(failed, 0, `${failed} queries for a live service went unanswered while the API server flapped (${answered} answered)`);
  assert.ok(answered > 20, `only ${answered} probes ran`);
  // One watch per resource (services, endpointslices, nodes), not one more per reconnect.
  await within(15_000, async () => api.watchCount() === 3).catch((err: Error) => {
    throw new Error(`${err.message}: ${api.watchCount()} watches`);
  });
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(api.watchCount(), 3);
});

test('500s from the API server are retried with backoff', async () => {
  api.failRequests(3);
  api.dropWatches();
  api.apply('endpointslices', endpointSlice('shop', 'web-abc', 'web', [{ address: '10.40.0.8' }]));
  await within(10_000, async () => (await addresses('web.shop.linkerd.local')).join() === '10.40.0.8');
});

test('API server unreachable at start: zone data served, not ready until the first sync', async () => {
  const late = await FakeKubeApiServer.start();
  const kubeconfig = late.kubeconfig();
  await late.stop();
  const m = await startMeshdns(['--upstream', 'none', '--kubernetes', 'on', '--kubeconfig', kubeconfig]);
  try {
    assert.equal(await ready(m), false);
    assert.equal((await addresses('web.default.linkerd.local', 1, m)).length, 2);
    late.apply('services', service('late', 'svc'));
    late.apply('endpointslices', endpointSlice('late', 'svc-1', 'svc', [{ address: '10.44.0.1' }]));
    await late.restart();
    await within(15_000, () => ready(m));
    await within(2000, async () => (await addresses('svc.late.linkerd.local', 1, m)).length === 1);
  } finally {
    await m.stop();
    await late.stop();
  }
});

test('pod weights: a Pod behind two Services re-weighs both, and only the one still naming it once a slice goes', async () => {
  const k = await FakeKubeApiServer.start();
  for (const svc of ['left', 'right']) {
    k.apply('services', service('w', svc));
    k.apply('endpointslices', endpointSlice('w', `${svc}-1`, svc, [{ address: '10.47.0.1', pod: 'shared' }, { address: svc === 'left' ? '10.47.0.2' : '10.47.0.3', pod: `${svc}-own` }]));
  }
  // Dual-stack: a second slice of `right` names the same Pod; losing one slice keeps the link through the other.
  k.apply('endpointslices', endpointSlice('w', 'right-6', 'right', [{ address: 'fd00::47:1', pod: 'shared' }], { addressType: 'IPv6' }));
  k.apply('pods', pod('w', 'shared', { 'meshdns.io/weight': '5' }));
  const m = await startMeshdns(['--upstream', 'none', '--kubeconfig', k.kubeconfig(), '--kubernetes-pod-weights', 'on']);
  const weights = async (svc: string): Promise<string[]> =>
    (await dig(m.dnsPort, ['+short', `_http._tcp.${svc}.w.linkerd.local`, 'SRV'])).raw.trim().split('\n').filter(Boolean).map((l) => l.split(' ')[1]!).sort();
  try {
    await within(5000, () => ready(m));
    await within(3000, async () => (await weights('left')).join() === '100,5' && (await weights('right')).includes('5'));
    k.apply('pods', pod('w', 'shared', { 'meshdns.io/weight': '9' }));
    await within(3000, async () => (await weights('left')).join() === '100,9' && (await weights('right')).includes('9'));
    k.remove('endpointslices', 'w', 'left-1');
    k.remove('endpointslices', 'w', 'right-6');
    await within(3000, async () => (await weights('left')).length === 0);
    k.apply('pods', pod('w', 'shared', { 'meshdns.io/weight': '4' }));
    await within(3000, async () => (await weights('right')).join() === '100,4');
  } finally {
    await m.stop();
    await k.stop();
  }
});

test('--namespace and --kubernetes-label-selector narrow what is watched; pod weights and probe annotations apply', async () => {
  const k = await FakeKubeApiServer.start();
  const target = await ProbeTarget.start();
  k.apply('services', service('a', 'one', { labels: { mesh: 'yes' } }));
  k.apply('endpointslices', endpointSlice('a', 'one-1', 'one', [{ address: '10.45.0.1' }]));
  k.apply('services', service('a', 'hidden', { labels: { mesh: 'no' } }));
  k.apply('endpointslices', endpointSlice('a', 'hidden-1', 'hidden', [{ address: '10.45.0.2' }]));
  k.apply('services', service('b', 'other', { labels: { mesh: 'yes' } }));
  k.apply('endpointslices', endpointSlice('b', 'other-1', 'other', [{ address: '10.45.0.3' }]));
  k.apply('services', service('a', 'weighted', { labels: { mesh: 'yes' } }));
  k.apply('endpointslices', endpointSlice('a', 'weighted-1', 'weighted', [{ address: '10.45.1.1', pod: 'p1' }, { address: '10.45.1.2', pod: 'p2' }]));
  k.apply('pods', pod('a', 'p1', { 'meshdns.io/weight': '7' }));
  k.apply('services', service('a', 'probed', { labels: { mesh: 'yes' }, annotations: { 'meshdns.io/probe': `http:/healthz:${target.port}`, 'meshdns.io/probe-interval': '200ms', 'meshdns.io/probe-timeout': '100ms' } }));
  k.apply('endpointslices', endpointSlice('a', 'probed-1', 'probed', [{ address: '127.0.0.1' }]));
  const m = await startMeshdns(['--upstream', 'none', '--kubeconfig', k.kubeconfig(), '--namespace', 'a', '--kubernetes-label-selector', 'mesh=yes', '--kubernetes-pod-weights', 'on']);
  try {
    await within(5000, () => ready(m));
    assert.deepEqual(await addresses('one.a.linkerd.local', 1, m), ['10.45.0.1']);
    assert.equal(decode((await udpExchange(m.dnsPort, buildQuery('hidden.a.linkerd.local')))!).header.rcode, 3);
    assert.equal(decode((await udpExchange(m.dnsPort, buildQuery('other.b.linkerd.local')))!).header.rcode, 3);
    assert.ok(k.requests.some((r) => r.startsWith('GET /api/v1/namespaces/a/services') && r.includes('labelSelector=mesh%3Dyes')));
    const srv = await dig(m.dnsPort, ['+short', '_http._tcp.weighted.a.linkerd.local', 'SRV']);
    assert.deepEqual(srv.raw.trim().split('\n').map((l) => l.split(' ').slice(1, 2)[0]).sort(), ['100', '7']);
    k.apply('pods', pod('a', 'p2', { 'meshdns.io/weight': '3' }));
    await within(2000, async () => (await dig(m.dnsPort, ['+short', '_http._tcp.weighted.a.linkerd.local', 'SRV'])).raw.includes(' 3 8080 '));
    // The probe annotation: the endpoint is probed, and dropped when its health endpoint fails.
    await within(2000, async () => target.requests > 0);
    target.mode = 'fail';
    const state = async (): Promise<{ state: string; lastProbe: { result: string } | null }> =>
      ((await (await fetch(`http://127.0.0.1:${m.httpPort}/v1/services/a/probed`)).json()) as { instances: { state: string; lastProbe: { result: string } | null }[] }).instances[0]!;
    await within(3000, async () => (await state()).state === 'unhealthy');
    assert.equal((await state()).lastProbe!.result, '500');
  } finally {
    await m.stop();
    await k.stop();
    await target.stop();
  }
});
