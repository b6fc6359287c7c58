import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { buildQuery, decode, udpExchange } from '../../support/dns-client.js';
import { crdResource, endpointSlice, FakeKubeApiServer, MESH_CRDS, service, type CustomResource, type KubeObject } from '../../support/fake-kube-apiserver.js';
import { repoRoot, startMeshdns, type MeshdnsProcess } from '../../support/meshdns-process.js';
import { within } from '../../support/poll.js';

/**
 * Mesh objects as users write them (issue 30) and namespaces kept apart (issue 23): manifests copied
 * verbatim from the projects users copy them from (test/fixtures/mesh-manifests/, each naming its source),
 * served through the list/watch API server with Services, EndpointSlices (targetRef Pods) and Pods (labels,
 * IPs) as a cluster would have them; the first answers of a plain client are compared with what the mesh
 * routes a request without headers for path /.
 */

let api: FakeKubeApiServer;
let s: MeshdnsProcess;

const CRD_OF_KIND: Record<string, CustomResource> = {
  'networking.istio.io/VirtualService': MESH_CRDS.virtualservices,
  'networking.istio.io/DestinationRule': MESH_CRDS.destinationrules,
  'policy.linkerd.io/HTTPRoute': MESH_CRDS.linkerdHttproutes,
  'gateway.networking.k8s.io/HTTPRoute': MESH_CRDS.httproutes,
  'gateway.networking.k8s.io/GRPCRoute': MESH_CRDS.grpcroutes,
  'gateway.networking.k8s.io/ReferenceGrant': MESH_CRDS.referencegrants,
};

/** Applies every document of a fixture, as `kubectl apply -n <namespace> -f` would. */
function applyManifest(file: string, namespace: string): KubeObject[] {
  const text = readFileSync(join(repoRoot, 'test', 'fixtures', 'mesh-manifests', file), 'utf8');
  const objects = parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
  for (const o of objects) {
    const group = String(o.apiVersion).split('/')[0];
    const crd = CRD_OF_KIND[`${group}/${String(o.kind)}`];
    assert.ok(crd !== undefined, `no CRD for ${String(o.apiVersion)} ${String(o.kind)}`);
    api.apply(crdResource(crd), { ...o, metadata: { ...o.metadata, namespace: o.metadata.namespace ?? namespace } });
  }
  return objects;
}

function pod(namespace: string, name: string, ip: string, labels: Record<string, string>): KubeObject {
  return { metadata: { namespace, name, labels }, spec: {}, status: { podIP: ip, podIPs: [{ ip }] } };
}

/** A Deployment's worth of a cluster: a Service, its Pods and an EndpointSlice pointing at them. */
function workload(namespace: string, serviceName: string, pods: { name: string; ip: string; labels: Record<string, string> }[]): void {
  api.apply('services', service(namespace, serviceName));
  for (const p of pods) api.apply('pods', pod(namespace, p.name, p.ip, p.labels));
  api.apply('endpointslices', endpointSlice(namespace, `${serviceName}-abcde`, serviceName, pods.map((p) => ({ address: p.ip, pod: p.name }))));
}

async function shares(name: string, n = 400, from?: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let k = 0; k < n; k++) {
    const reply = await udpExchange(s.dnsPort, buildQuery(name), 2000, '127.0.0.1', from);
    const first = reply === null ? 'lost' : (decode(reply).answers[0]?.address ?? 'none');
    counts.set(first, (counts.get(first) ?? 0) + 1 / n);
  }
  return counts;
}

function near(actual: Map<string, number>, expected: Record<string, number>, tolerance = 0.07): boolean {
  const keys = new Set([...actual.keys(), ...Object.keys(expected)]);
  return [...keys].every((k) => Math.abs((actual.get(k) ?? 0) - (expected[k] ?? 0)) <= tolerance);
}

async function expectShares(name: string, expected: Record<string, number>, withinMs = 1000, from?: string): Promise<void> {
  let last = new Map<string, number>();
  try {
    await within(withinMs, async () => near((last = await shares(name, 60, from)), expected, 0.2), 50);
  } catch {
    assert.fail(`${name}: not near ${JSON.stringify(expected)} within ${withinMs} ms: ${JSON.stringify(Object.fromEntries(last))}`);
  }
  const measured = await shares(name, 400, from);
  assert.ok(near(measured, expected), `${name}: ${JSON.stringify(Object.fromEntries(measured))}, expected ${JSON.stringify(expected)}`);
}

const json = async (path: string): Promise<any> => (await fetch(`http://127.0.0.1:${s.httpPort}${path}`)).json();

// bookinfo's reviews: one Service selecting three Deployments by `version`.
const REVIEWS = { v1: '10.70.1.1', v2: '10.70.1.2', v3: '10.70.1.3' };

before(async () => {
  api = await FakeKubeApiServer.start();
  for (const crd of Object.values(CRD_OF_KIND)) api.installCrd(crd);
  workload('default', 'reviews', [
    { name: 'reviews-v1-7d8f9c5b6-abcde', ip: REVIEWS.v1, labels: { app: 'reviews', version: 'v1', 'pod-template-hash': '7d8f9c5b6' } },
    { name: 'reviews-v2-5b6c7d8f9-fghij', ip: REVIEWS.v2, labels: { app: 'reviews', version: 'v2', 'pod-template-hash': '5b6c7d8f9' } },
    { name: 'reviews-v3-9c5b6d7f8-klmno', ip: REVIEWS.v3, labels: { app: 'reviews', version: 'v3', 'pod-template-hash': '9c5b6d7f8' } },
  ]);
  workload('default', 'productpage', [{ name: 'productpage-v1-1', ip: '10.70.2.1', labels: { app: 'productpage', version: 'v1' } }]);
  workload('test', 'backend-a-podinfo', [{ name: 'backend-a-podinfo-1', ip: '10.71.1.1', labels: { app: 'backend-a-podinfo' } }]);
  workload('test', 'backend-b-podinfo', [{ name: 'backend-b-podinfo-1', ip: '10.71.2.1', labels: { app: 'backend-b-podinfo' } }]);
  workload('test', 'frontend', [{ name: 'frontend-1', ip: '10.71.3.1', labels: { app: 'frontend' } }]);
  workload('test', 'podinfo-primary', [{ name: 'podinfo-primary-1', ip: '10.71.4.1', labels: { app: 'podinfo-primary' } }]);
  workload('test', 'podinfo-canary', [{ name: 'podinfo-canary-1', ip: '10.71.5.1', labels: { app: 'podinfo' } }]);
  workload('traffic-shift-demo', 'bb', [{ name: 'v1-1', ip: '10.72.1.1', labels: { app: 'bb', version: 'v1' } }]);
  workload('traffic-shift-demo', 'bb-v2', [{ name: 'v2-1', ip: '10.72.2.1', labels: { app: 'bb', version: 'v2' } }]);
  workload('gateway-conformance-mesh', 'echo', [{ name: 'echo-1', ip: '10.73.0.1', labels: { app: 'echo' } }]);
  workload('gateway-conformance-mesh', 'echo-v1', [{ name: 'echo-v1-1', ip: '10.73.1.1', labels: { app: 'echo', version: 'v1' } }]);
  workload('gateway-conformance-mesh', 'echo-v2', [{ name: 'echo-v2-1', ip: '10.73.2.1', labels: { app: 'echo', version: 'v2' } }]);
  s = await startMeshdns(['--upstream', 'none', '--kubernetes', 'on', '--kubeconfig', api.kubeconfig(), '--kubernetes-discovery-interval', '200ms', '--seed', '11']);
  await within(10_000, async () => (await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status === 200);
});
after(async () => {
  await s.stop();
  await api.stop();
});

test('Istio bookinfo: subsets from Pod labels; the canary walk 90/10 → 80/20 → 50/50 (v1/v3) → all v3 → all v1, each step within a second', async () => {
  applyManifest('istio-bookinfo-destination-rule-all.yaml', 'default');
  applyManifest('istio-bookinfo-virtual-service-reviews-90-10.yaml', 'default');
  await expectShares('reviews.default.linkerd.local', { [REVIEWS.v1]: 0.9, [REVIEWS.v2]: 0.1 }, 3000);
  const view = await json('/v1/services/default/reviews');
  assert.equal(view.split.rule, 'http[0]');
  assert.deepEqual(
    view.split.backends.map((b: { subset: { name: string; instances: number } }) => b.subset),
    [
      { name: 'v1', instances: 1 },
      { name: 'v2', instances: 1 },
    ],
  );
  applyManifest('istio-bookinfo-virtual-service-reviews-80-20.yaml', 'default');
  await expectShares('reviews.default.linkerd.local', { [REVIEWS.v1]: 0.8, [REVIEWS.v2]: 0.2 });
  applyManifest('istio-bookinfo-virtual-service-reviews-50-v3.yaml', 'default');
  await expectShares('reviews.default.linkerd.local', { [REVIEWS.v1]: 0.5, [REVIEWS.v3]: 0.5 });
  applyManifest('istio-bookinfo-virtual-service-reviews-v3.yaml', 'default');
  await expectShares('reviews.default.linkerd.local', { [REVIEWS.v3]: 1 });
  applyManifest('istio-bookinfo-virtual-service-all-v1.yaml', 'default');
  await expectShares('reviews.default.linkerd.local', { [REVIEWS.v1]: 1 });
  await expectShares('productpage.default.linkerd.local', { '10.70.2.1': 1 });
  // The subsets' counts: ratings and details have no Services here (left out, said once).
  const metrics = (await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text()) as string;
  assert.match(metrics, /meshdns_mesh_objects\{kind="VirtualService",state="followed"\} [1-9]/);
});

test('Istio reviews-jason-v2-v3: the header-matched exception is passed over (and said so); a plain client gets v3', async () => {
  applyManifest('istio-bookinfo-virtual-service-reviews-jason-v2-v3.yaml', 'default');
  await expectShares('reviews.default.linkerd.local', { [REVIEWS.v3]: 1 }, 3000);
  await s.waitForLog(/VirtualService default\/reviews.*http\[0\] matches only requests with certain headers/);
  assert.equal((await json('/v1/services/default/reviews')).split.rule, 'http[1]');
});

test('Linkerd dynamic request routing: a plain request stays on backend-a (the header rule is for x-request-id: alternative)', async () => {
  applyManifest('linkerd-dynamic-request-routing-httproute.yaml', 'test');
  await within(3000, async () => (await json('/v1/services/test/backend-a-podinfo')).split?.rule === 'rules[1]');
  await expectShares('backend-a-podinfo.test.linkerd.local', { '10.71.1.1': 1 });
  await s.waitForLog(/HTTPRoute \(policy\.linkerd\.io\) test\/backend-router.*rules\[0\] matches only requests with certain headers/);
});

test('Linkerd traffic shifting: bb 90 / bb-v2 10, then all to bb-v2', async () => {
  applyManifest('linkerd-traffic-shifting-90-10.yaml', 'traffic-shift-demo');
  await expectShares('bb.traffic-shift-demo.linkerd.local', { '10.72.1.1': 0.9, '10.72.2.1': 0.1 }, 3000);
  applyManifest('linkerd-traffic-shifting-100.yaml', 'traffic-shift-demo');
  await expectShares('bb.traffic-shift-demo.linkerd.local', { '10.72.2.1': 1 });
});

test('Gateway API mesh conformance grpcroute-weight: GRPCRoute with a Service parent splits echo 70/30', async () => {
  applyManifest('gateway-api-mesh-grpcroute-weight.yaml', 'gateway-conformance-mesh');
  await expectShares('echo.gateway-conformance-mesh.linkerd.local', { '10.73.1.1': 0.7, '10.73.2.1': 0.3 }, 3000);
  assert.equal((await json('/v1/services/gateway-conformance-mesh/echo')).split.from.kind, 'GRPCRoute');
});

test('Flagger: its generated VirtualService (gateways with mesh, match prefix /) keeps plain clients on the primary; delegation is not followed and said so', async () => {
  applyManifest('flagger-generated-virtual-service.yaml', 'test');
  await expectShares('frontend.test.linkerd.local', { '10.71.4.1': 1 }, 3000);
  applyManifest('flagger-delegation-virtual-service.yaml', 'test');
  await within(3000, async () => (await json('/v1/services/test/frontend')).split === undefined);
  await expectShares('frontend.test.linkerd.local', { '10.71.3.1': 1 });
  await s.waitForLog(/VirtualService test\/frontend.*delegates to another VirtualService/);
});

const httpRoute = (namespace: string, name: string, parent: { name: string; namespace?: string }, backend: { name: string; namespace?: string }): KubeObject => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { namespace, name },
  spec: { parentRefs: [{ group: '', kind: 'Service', port: 80, ...parent }], rules: [{ backendRefs: [{ port: 80, ...backend }] }] },
});

test('issue 23: a route in another namespace is a consumer route: only its namespace’s Pods get it; a cross-namespace backend needs a ReferenceGrant', async () => {
  workload('mesh', 'xns', [{ name: 'xns-1', ip: '10.74.1.1', labels: { app: 'xns' } }]);
  workload('attacker', 'evil', [{ name: 'evil-1', ip: '10.74.2.1', labels: { app: 'evil' } }]);
  // The clients: Pods whose IPs are the loopback addresses the queries come from.
  api.apply('pods', pod('attacker', 'curl-attacker', '127.0.0.21', { app: 'curl' }));
  api.apply('pods', pod('mesh', 'curl-mesh', '127.0.0.22', { app: 'curl' }));
  api.apply(crdResource(MESH_CRDS.httproutes), httpRoute('attacker', 'takeover', { name: 'xns', namespace: 'mesh' }, { name: 'evil' }));
  await within(3000, async () => (await json('/v1/services/mesh/xns')).split?.consumers?.[0]?.namespace === 'attacker');
  // The attacker's own Pods see their consumer route; the mesh's Pods, and clients that are no Pod, never do.
  await expectShares('xns.mesh.linkerd.local', { '10.74.2.1': 1 }, 3000, '127.0.0.21');
  await expectShares('xns.mesh.linkerd.local', { '10.74.1.1': 1 }, 1000, '127.0.0.22');
  await expectShares('xns.mesh.linkerd.local', { '10.74.1.1': 1 }, 1000, '127.0.0.1');

  // A producer route in shop pointing into attacker: not followed without a ReferenceGrant there.
  workload('shop', 'cart', [{ name: 'cart-1', ip: '10.74.3.1', labels: { app: 'cart' } }]);
  api.apply(crdResource(MESH_CRDS.httproutes), httpRoute('shop', 'to-evil', { name: 'cart' }, { name: 'evil', namespace: 'attacker' }));
  await s.waitForLog(/HTTPRoute shop\/to-evil.*backend evil\.attacker is in namespace attacker, and no ReferenceGrant there allows/, 3000);
  await expectShares('cart.shop.linkerd.local', { '10.74.3.1': 1 });
  api.apply(crdResource(MESH_CRDS.referencegrants), {
    apiVersion: 'gateway.networking.k8s.io/v1beta1',
    kind: 'ReferenceGrant',
    metadata: { namespace: 'attacker', name: 'allow-shop' },
    spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'shop' }], to: [{ group: '', kind: 'Service', name: 'evil' }] },
  });
  await expectShares('cart.shop.linkerd.local', { '10.74.2.1': 1 }, 3000);
});
