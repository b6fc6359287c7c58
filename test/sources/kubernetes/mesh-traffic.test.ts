import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildQuery, decode, udpExchange } from '../../support/dns-client.js';
import {
  crdResource,
  destinationRule,
  endpointSlice,
  FakeKubeApiServer,
  httpRoute,
  MESH_CRDS,
  node,
  service,
  trafficSplit,
  virtualService,
} from '../../support/fake-kube-apiserver.js';
import { startMeshdns, type MeshdnsProcess } from '../../support/meshdns-process.js';
import { within } from '../../support/poll.js';

/**
 * The mesh's traffic objects through the real @kubernetes/client-node against the fake API server:
 * CRDs missing at start and installed later, a Flagger-style canary, each object kind, annotations,
 * zones from Nodes, bad objects.
 */

let api: FakeKubeApiServer;
let s: MeshdnsProcess;
const HTTPROUTES = crdResource(MESH_CRDS.httproutes);
const SPLITS = crdResource(MESH_CRDS.trafficsplits);
const VIRTUAL_SERVICES = crdResource(MESH_CRDS.virtualservices);
const RULES = crdResource(MESH_CRDS.destinationrules);

async function firstAnswers(name: string, n: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let k = 0; k < n; k++) {
    const reply = await udpExchange(s.dnsPort, buildQuery(name));
    const first = reply === null ? 'lost' : (decode(reply).answers[0]?.address ?? 'none');
    counts.set(first, (counts.get(first) ?? 0) + 1);
  }
  return counts;
}

/** Share of first answers that are in `addresses`. */
async function shareOf(name: string, addresses: string[], n = 300): Promise<number> {
  const counts = await firstAnswers(name, n);
  return addresses.reduce((sum, a) => sum + (counts.get(a) ?? 0), 0) / n;
}

const json = async (path: string): Promise<any> => (await fetch(`http://127.0.0.1:${s.httpPort}${path}`)).json();

function deployment(name: string, addresses: string[], opts: { annotations?: Record<string, string>; zones?: string[] } = {}): void {
  api.apply('services', service('shop', name, { annotations: opts.annotations }));
  api.apply('endpointslices', endpointSlice('shop', `${name}-1`, name, addresses.map((address, i) => ({ address, zone: opts.zones?.[i] }))));
}

before(async () => {
  api = await FakeKubeApiServer.start();
  deployment('podinfo', ['10.60.0.1']);
  deployment('podinfo-primary', ['10.60.1.1', '10.60.1.2']);
  deployment('podinfo-canary', ['10.60.2.1']);
  s = await startMeshdns(['--upstream', 'none', '--kubernetes', 'on', '--kubeconfig', api.kubeconfig(), '--kubernetes-discovery-interval', '200ms', '--seed', '7']);
  await within(10_000, async () => (await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status === 200);
});
after(async () => {
  await s.stop();
  await api.stop();
});

const PRIMARY = ['10.60.1.1', '10.60.1.2'];
const CANARY = ['10.60.2.1'];

test('no mesh CRDs at start: ready, nothing split; the HTTPRoute CRD installed later is followed without a restart', async () => {
  assert.deepEqual((await firstAnswers('podinfo.shop.linkerd.local', 5)).get('10.60.0.1'), 5);
  api.installCrd(MESH_CRDS.httproutes);
  api.apply(HTTPROUTES, httpRoute('shop', 'podinfo', 'podinfo', [['podinfo-primary', 100], ['podinfo-canary', 0]]));
  // Discovery looks every 200 ms here: the CRD, its list and the split reach the answers well within 3 s.
  await within(3000, async () => (await shareOf('podinfo.shop.linkerd.local', PRIMARY, 20)) === 1);
  // Log lines reach stdout in batches (at most 50 ms late): wait for the line rather than look for it now.
  await s.waitForLog(/^(?=.*following mesh traffic objects)(?=.*HTTPRoute)/);
  assert.ok(api.requests.includes('GET /apis') && api.requests.includes('GET /apis/gateway.networking.k8s.io/v1'), 'found through API discovery');
});

test('a Flagger-style canary: 90/10 → 50/50 → 0/100, each step in the answer shares within 1.5 s', async () => {
  for (const [primary, canary] of [
    [90, 10],
    [50, 50],
    [0, 100],
  ] as const) {
    const started = Date.now();
    api.apply(HTTPROUTES, httpRoute('shop', 'podinfo', 'podinfo', [['podinfo-primary', primary], ['podinfo-canary', canary]]));
    const expected = canary / 100;
    // The first sample after the change may still see the last step: poll until the share is there.
    await within(1500, async () => Math.abs((await shareOf('podinfo.shop.linkerd.local', CANARY, 200)) - expected) < 0.08, 0);
    const took = Date.now() - started;
    assert.ok(took < 1500, `step ${primary}/${canary} took ${took} ms`);
    const share = await shareOf('podinfo.shop.linkerd.local', CANARY, 600);
    assert.ok(Math.abs(share - expected) < 0.06, `step ${primary}/${canary}: canary share ${share}`);
  }
  // The backends' own names are unchanged.
  assert.deepEqual([...(await firstAnswers('podinfo-primary.shop.linkerd.local', 20)).keys()].sort(), PRIMARY);
  // The API shows the split and where it came from.
  const view = await json('/v1/services/shop/podinfo');
  assert.deepEqual(view.split, {
    from: { kind: 'HTTPRoute', group: 'gateway.networking.k8s.io', namespace: 'shop', name: 'podinfo' },
    rule: 'rules[0]',
    backends: [
      { service: 'podinfo-primary.shop', weight: 0, answering: false },
      { service: 'podinfo-canary.shop', weight: 100, answering: true },
    ],
  });
});

test('a backend that goes unready gives its share to the others; SRV under the apex uses the shares', async () => {
  api.apply(HTTPROUTES, httpRoute('shop', 'podinfo', 'podinfo', [['podinfo-primary', 80], ['podinfo-canary', 20]]));
  await within(1500, async () => (await shareOf('podinfo.shop.linkerd.local', CANARY, 100)) > 0.05);
  api.apply('endpointslices', endpointSlice('shop', 'podinfo-canary-1', 'podinfo-canary', [{ address: '10.60.2.1', ready: false }]));
  await within(1500, async () => (await shareOf('podinfo.shop.linkerd.local', PRIMARY, 50)) === 1);
  api.apply('endpointslices', endpointSlice('shop', 'podinfo-canary-1', 'podinfo-canary', [{ address: '10.60.2.1' }]));
  await within(1500, async () => (await shareOf('podinfo.shop.linkerd.local', CANARY, 100)) > 0.05);
  const srv = decode((await udpExchange(s.dnsPort, buildQuery('_http._tcp.podinfo.shop.linkerd.local', { type: 33, edns: {} })))!);
  assert.deepEqual(
    srv.answers.map((a) => `${a.target} ${a.weight}`).sort(),
    ['10-60-1-1.podinfo-primary.shop.linkerd.local 4000', '10-60-1-2.podinfo-primary.shop.linkerd.local 4000', '10-60-2-1.podinfo-canary.shop.linkerd.local 2000'],
  );
});

test('SMI TrafficSplit and an Istio VirtualService with FQDN hosts; a DestinationRule sets the load balancer, an annotation and a REST policy win over it', async () => {
  api.installCrd(MESH_CRDS.trafficsplits);
  api.installCrd(MESH_CRDS.virtualservices);
  api.installCrd(MESH_CRDS.destinationrules);
  deployment('cart', ['10.61.0.1']);
  deployment('cart-v2', ['10.61.1.1']);
  deployment('pay', ['10.62.0.1']);
  deployment('pay-v2', ['10.62.1.1']);
  api.apply(SPLITS, trafficSplit('shop', 'cart', 'cart', [['cart', 1], ['cart-v2', 3]]));
  api.apply(VIRTUAL_SERVICES, virtualService('shop', 'pay', ['pay.shop.svc.cluster.local'], [['pay.shop.svc.cluster.local', 25], ['pay-v2.shop.svc.cluster.local', 75]]));
  await within(3000, async () => (await json('/v1/services/shop/cart')).split !== undefined && (await json('/v1/services/shop/pay')).split !== undefined);
  const cart = await shareOf('cart.shop.linkerd.local', ['10.61.1.1'], 800);
  assert.ok(Math.abs(cart - 0.75) < 0.06, `cart-v2 share ${cart}`);
  const pay = await shareOf('pay.shop.linkerd.local', ['10.62.1.1'], 800);
  assert.ok(Math.abs(pay - 0.75) < 0.06, `pay-v2 share ${pay}`);
  assert.deepEqual((await json('/v1/services/shop/pay')).split.from, { kind: 'VirtualService', group: 'networking.istio.io', namespace: 'shop', name: 'pay' });

  api.apply(RULES, destinationRule('shop', 'pay-v2', 'pay-v2.shop.svc.cluster.local', 'ROUND_ROBIN'));
  await within(2000, async () => (await json('/v1/services/shop/pay-v2/policy')).loadBalancer === 'round-robin');
  assert.equal((await json('/v1/services/shop/pay-v2')).policySource, 'kubernetes');
  // An annotation on the Service beats the DestinationRule.
  api.apply('services', service('shop', 'pay-v2', { annotations: { 'meshdns.io/load-balancer': 'random' } }));
  await within(2000, async () => (await json('/v1/services/shop/pay-v2/policy')).loadBalancer === 'random');
  // A REST policy beats both; deleting it falls back to what Kubernetes says.
  const put = await fetch(`http://127.0.0.1:${s.httpPort}/v1/services/shop/pay-v2/policy`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"loadBalancer":"weighted"}' });
  assert.equal(put.status, 200);
  assert.equal((await json('/v1/services/shop/pay-v2/policy')).loadBalancer, 'weighted');
  assert.equal((await json('/v1/services/shop/pay-v2')).policySource, 'rest');
  assert.equal((await fetch(`http://127.0.0.1:${s.httpPort}/v1/services/shop/pay-v2/policy`, { method: 'DELETE' })).status, 204);
  assert.equal((await json('/v1/services/shop/pay-v2/policy')).loadBalancer, 'random');
});

test('Linkerd\u2019s own HTTPRoute (policy.linkerd.io) splits too, beside the Gateway API\u2019s', async () => {
  const LINKERD_ROUTES = api.installCrd(MESH_CRDS.linkerdHttproutes);
  deployment('books', ['10.65.0.1']);
  deployment('books-v2', ['10.65.1.1']);
  api.apply(LINKERD_ROUTES, { ...httpRoute('shop', 'books', 'books', [['books-v2', 1]]), apiVersion: 'policy.linkerd.io/v1beta3' });
  await within(3000, async () => (await json('/v1/services/shop/books')).split !== undefined);
  assert.deepEqual((await json('/v1/services/shop/books')).split.from, { kind: 'HTTPRoute', group: 'policy.linkerd.io', namespace: 'shop', name: 'books' });
  assert.deepEqual([...(await firstAnswers('books.shop.linkerd.local', 10)).keys()], ['10.65.1.1']);
  assert.ok(api.requests.includes('GET /apis/policy.linkerd.io/v1beta3'));
});

test('annotations set failover, locality and answer limit; Node podCIDRs give the client zone; hints.forZones are honoured', async () => {
  deployment('search', ['10.63.0.1', '10.63.0.2', '10.63.0.3'], {
    zones: ['zone-b', 'zone-a', 'zone-b'],
    annotations: { 'meshdns.io/locality': 'prefer-zone', 'meshdns.io/answer-limit': '1', 'meshdns.io/failover': 'search-dr.shop' },
  });
  deployment('search-dr', ['10.63.9.1']);
  await within(2000, async () => (await json('/v1/services/shop/search/policy')).locality === 'prefer-zone');
  // No Node places 127.0.0.1 yet: plain weighted order, one record.
  const before = await firstAnswers('search.shop.linkerd.local', 60);
  assert.ok(before.size > 1, JSON.stringify([...before]));
  // The node whose pod range holds the querying address is in zone-a.
  api.apply('nodes', node('node-a', 'zone-a', ['127.0.0.0/24']));
  await within(2000, async () => (await firstAnswers('search.shop.linkerd.local', 30)).get('10.63.0.2') === 30);
  // A hint sends 10.63.0.3 (in zone-b) to zone-a's clients too.
  const slice = endpointSlice('shop', 'search-1', 'search', [
    { address: '10.63.0.1', zone: 'zone-b' },
    { address: '10.63.0.2', zone: 'zone-a' },
    { address: '10.63.0.3', zone: 'zone-b' },
  ]);
  slice.endpoints[2].hints = { forZones: [{ name: 'zone-a' }] };
  api.apply('endpointslices', slice);
  await within(2000, async () => (await firstAnswers('search.shop.linkerd.local', 40)).has('10.63.0.3'));
  assert.equal((await firstAnswers('search.shop.linkerd.local', 60)).get('10.63.0.1'), undefined);
  // Failover from the annotation.
  api.apply('endpointslices', endpointSlice('shop', 'search-1', 'search', [{ address: '10.63.0.1', ready: false }]));
  await within(2000, async () => (await firstAnswers('search.shop.linkerd.local', 5)).get('10.63.9.1') === 5);
  assert.equal((await json('/v1/services/shop/search')).failover.answeredBy, 'search-dr.shop');
});

test('bad objects are logged once by name and skipped; the rest keeps working', async () => {
  api.apply(HTTPROUTES, httpRoute('shop', 'broken', 'cart', [['cart-v2', -3]]));
  api.apply(SPLITS, trafficSplit('shop', 'loop-a', 'loop-a', [['loop-b', 1]]));
  api.apply(SPLITS, trafficSplit('shop', 'loop-b', 'loop-b', [['loop-a', 1]]));
  deployment('loop-a', ['10.64.0.1']);
  deployment('loop-b', ['10.64.0.2']);
  api.apply(SPLITS, trafficSplit('shop', 'ghosts', 'pay-v2', [['nowhere', 1]]));
  api.apply('services', service('shop', 'podinfo-canary', { annotations: { 'meshdns.io/answer-limit': 'lots' } }));
  await within(3000, async () => s.logs.some((l) => l.includes('HTTPRoute shop/broken') && l.includes('weight -3')));
  await within(3000, async () => s.logs.some((l) => l.includes('TrafficSplit shop/loop-a') && l.includes('form a loop')));
  await within(3000, async () => s.logs.some((l) => l.includes('TrafficSplit shop/ghosts') && l.includes('nowhere.shop is not a known Service')));
  await within(3000, async () => s.logs.some((l) => l.includes('meshdns.io/answer-limit') && l.includes('lots')));
  // Loops answer their own instances; cart's TrafficSplit still works; re-syncs do not repeat the lines.
  assert.deepEqual([...(await firstAnswers('loop-a.shop.linkerd.local', 5)).keys()], ['10.64.0.1']);
  assert.ok((await shareOf('cart.shop.linkerd.local', ['10.61.1.1'], 100)) > 0.5);
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(s.logs.filter((l) => l.includes('HTTPRoute shop/broken')).length, 1);
  assert.equal(s.logs.filter((l) => l.includes('TrafficSplit shop/loop-a') && l.includes('form a loop')).length, 1);
});

test('more than a page of mesh objects (600 HTTPRoutes, pages of 500) are all followed', async () => {
  for (let i = 0; i < 600; i++) {
    api.apply('services', service('paged', `app-${i}`));
    api.apply(HTTPROUTES, httpRoute('paged', `app-${i}`, `app-${i}`, [['podinfo-canary.shop' as string, 1]]));
  }
  // Cross-namespace backendRefs name the namespace: these routes point at shop's canary, which a ReferenceGrant in shop allows.
  api.installCrd(MESH_CRDS.referencegrants);
  api.apply(crdResource(MESH_CRDS.referencegrants), {
    apiVersion: 'gateway.networking.k8s.io/v1beta1',
    kind: 'ReferenceGrant',
    metadata: { name: 'from-paged', namespace: 'shop' },
    spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'paged' }], to: [{ group: '', kind: 'Service' }] },
  });
  await within(5000, async () => (await json('/v1/services/paged/app-599')).split !== undefined && (await json('/v1/services/paged/app-0')).split !== undefined);
  // A re-list (history compacted while the watch was down) reads them in pages: none may be lost.
  // (Dropped, changed and compacted in one tick: the reconnect cannot come in between.)
  api.dropWatches();
  api.apply(HTTPROUTES, httpRoute('paged', 'app-0', 'app-0', [['podinfo-canary.shop', 2]]));
  api.expireHistory();
  await within(5000, async () => api.requests.some((r) => r.startsWith('GET /apis/gateway.networking.k8s.io/v1/httproutes?') && r.includes('continue=')));
  await new Promise((r) => setTimeout(r, 500));
  const split = await Promise.all([0, 299, 599].map(async (i) => (await json(`/v1/services/paged/app-${i}`)).split?.backends[0].service));
  assert.deepEqual(split, ['podinfo-canary.shop', 'podinfo-canary.shop', 'podinfo-canary.shop']);
  assert.deepEqual([...(await firstAnswers('app-599.paged.linkerd.local', 3)).keys()], CANARY);
});

test('a CRD removed: its objects are forgotten and the apex answers its own instances again', async () => {
  api.removeCrd(MESH_CRDS.httproutes);
  await within(3000, async () => (await json('/v1/services/shop/podinfo')).split === undefined);
  assert.deepEqual([...(await firstAnswers('podinfo.shop.linkerd.local', 10)).keys()], ['10.60.0.1']);
  const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  assert.match(metrics, /meshdns_kubernetes_objects\{cluster="local",resource="trafficsplits.split.smi-spec.io"\} [1-9]/);
});
