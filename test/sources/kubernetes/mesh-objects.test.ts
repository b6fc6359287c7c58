import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertDestinationRule, convertHttpRoute, convertTrafficSplit, convertVirtualService, serviceOfHost, type SlimRoute } from '../../../src/sources/kubernetes/mesh-objects.js';
import { resolveSplits, type SplitContext } from '../../../src/sources/kubernetes/split-resolver.js';
import { parsePolicyAnnotations } from '../../../src/sources/kubernetes/policy-annotations.js';
import { convertNode, convertSlice } from '../../../src/sources/kubernetes/slim-objects.js';
import { destinationRule, endpointSlice, httpRoute, node, trafficSplit, virtualService } from '../../support/fake-kube-apiserver.js';

test('VirtualService and TrafficSplit host names: short, svc.ns, svc.ns.svc and the cluster FQDN; others are not Services', () => {
  assert.equal(serviceOfHost('web', 'shop', 'cluster.local'), 'shop/web');
  assert.equal(serviceOfHost('web.pay', 'shop', 'cluster.local'), 'pay/web');
  assert.equal(serviceOfHost('web.pay.svc', 'shop', 'cluster.local'), 'pay/web');
  assert.equal(serviceOfHost('web.pay.svc.cluster.local.', 'shop', 'cluster.local'), 'pay/web');
  assert.equal(serviceOfHost('web.pay.svc.corp.example', 'shop', 'corp.example'), 'pay/web');
  assert.equal(serviceOfHost('web.pay.svc.cluster.local', 'shop', 'corp.example'), undefined);
  assert.equal(serviceOfHost('api.example.com', 'shop', 'cluster.local'), undefined);
  assert.equal(serviceOfHost('*.shop.svc.cluster.local', 'shop', 'cluster.local'), undefined);
});

test('HTTPRoute: Service parents only, first rule, weight default 1, namespaces default to the route\u2019s', () => {
  const r = convertHttpRoute(httpRoute('shop', 'canary', 'web', [['web-primary', 90], ['web-canary', undefined]]))!.value!;
  assert.deepEqual([r.parents, r.backends, r.rule], [[{ service: 'shop/web', audience: '*' }], [{ service: 'shop/web-primary', weight: 90 }, { service: 'shop/web-canary', weight: 1 }], 'rules[0]']);
  const gatewayRoute = { metadata: { namespace: 'shop', name: 'ingress' }, spec: { parentRefs: [{ name: 'public-gw' }], rules: [{ backendRefs: [{ name: 'web' }] }] } };
  assert.deepEqual(convertHttpRoute(gatewayRoute), { key: 'shop/ingress', value: undefined });
  assert.match(convertHttpRoute(httpRoute('shop', 'neg', 'web', [['web-primary', -5]]))!.value!.problem!, /weight -5 is not a whole number/);
  assert.match(convertHttpRoute(httpRoute('shop', 'nan', 'web', [['web-primary', 'ten' as unknown as number]]))!.value!.problem!, /weight "ten"/);
});

test('TrafficSplit (v1alpha2 numbers, v1alpha1 quantities) and VirtualService (lone destination, same destinations add up, subsets apart, gateways without mesh ignored)', () => {
  const ts = convertTrafficSplit('cluster.local')(trafficSplit('shop', 'ts', 'web', [['web-v1', 900], ['web-v2', '100m']]))!.value!;
  assert.deepEqual([ts.parents, ts.backends], [[{ service: 'shop/web', audience: '*' }], [{ service: 'shop/web-v1', weight: 900 }, { service: 'shop/web-v2', weight: 0.1 }]]);
  const vs = convertVirtualService('cluster.local');
  assert.deepEqual(vs(virtualService('shop', 'vs', ['web.shop.svc.cluster.local'], [['web-v2.shop.svc.cluster.local', undefined]]))!.value!.backends, [{ service: 'shop/web-v2', weight: 1 }]);
  assert.deepEqual(vs(virtualService('shop', 'vs', ['web'], [['web', 70], ['web', 20], ['web-v2', 10]]))!.value!.backends, [{ service: 'shop/web', weight: 90 }, { service: 'shop/web-v2', weight: 10 }]);
  // Subsets of one host stay apart (a DestinationRule says which instances each holds).
  const subsets = { metadata: { namespace: 'shop', name: 'r' }, spec: { hosts: ['web'], http: [{ route: [{ destination: { host: 'web', subset: 'v1' }, weight: 90 }, { destination: { host: 'web', subset: 'v2' }, weight: 10 }] }] } };
  assert.deepEqual(vs(subsets)!.value!.backends, [{ service: 'shop/web', weight: 90, subset: 'v1' }, { service: 'shop/web', weight: 10, subset: 'v2' }]);
  assert.deepEqual(vs(virtualService('shop', 'vs', ['web'], [['web-v2', 10]], { gateways: ['istio-system/public'] })), { key: 'shop/vs', value: undefined });
  assert.equal(vs(virtualService('shop', 'vs', ['web'], [['web-v2', 10]], { gateways: ['mesh', 'istio-system/public'] }))!.value!.problem, undefined);
  assert.match(vs(virtualService('shop', 'vs', ['web'], [['api.example.com', 10]]))!.value!.problem!, /not a Service of this cluster/);
  const dr = convertDestinationRule('cluster.local');
  assert.equal(dr(destinationRule('shop', 'd', 'web', 'ROUND_ROBIN'))!.value!.loadBalancer, 'round-robin');
  assert.equal(dr(destinationRule('shop', 'd', 'web', 'RANDOM'))!.value!.loadBalancer, 'random');
  assert.equal(dr(destinationRule('shop', 'd', 'web', 'LEAST_REQUEST'))!.value!.loadBalancer, 'weighted');
  assert.equal(dr(destinationRule('shop', 'd', 'web', undefined))!.value!.loadBalancer, undefined);
});

const route = (kind: SlimRoute['kind'], namespace: string, name: string, apexes: string[], backends: [string, number][], created = ''): SlimRoute => ({
  kind,
  group: 'test.example',
  namespace,
  name,
  created,
  parents: apexes.map((service) => ({ service, audience: service.startsWith(`${namespace}/`) ? ('*' as const) : [namespace] })),
  backends: backends.map(([service, weight]) => ({ service, weight })),
  notes: [],
});

/** What the source knows, for resolution in isolation: every reference granted (or none), no subsets. */
const context = (known: (k: string) => boolean, granted = true): SplitContext => ({ known, granted: () => granted, subset: () => undefined });

test('resolution: the most specific object wins an apex, unknown backends are left out, loops are dropped, each reported', () => {
  const known = (k: string): boolean => !k.endsWith('/ghost');
  const { splits, problems } = resolveSplits(
    [
      route('VirtualService', 'shop', 'vs', ['shop/web'], [['shop/web-v1', 1]], '2026-01-01T00:00:00Z'),
      route('HTTPRoute', 'shop', 'hr', ['shop/web'], [['shop/web-v2', 1]], '2026-02-01T00:00:00Z'),
      route('HTTPRoute', 'client', 'consumer', ['shop/web'], [['shop/web-v3', 1]], '2025-01-01T00:00:00Z'),
      route('TrafficSplit', 'shop', 'ts', ['shop/api'], [['shop/api-v1', 5], ['shop/ghost', 5]]),
      route('TrafficSplit', 'shop', 'a', ['shop/a'], [['shop/b', 1]]),
      route('TrafficSplit', 'shop', 'b', ['shop/b'], [['shop/a', 1]]),
      route('TrafficSplit', 'shop', 'c', ['shop/c'], [['shop/a', 1]]),
      route('HTTPRoute', 'shop', 'zero', ['shop/z'], [['shop/z1', 0]]),
      { ...route('HTTPRoute', 'shop', 'broken', [], []), problem: 'rules[0].backendRefs[0].weight -1 is not a whole number ≥ 0' },
      route('HTTPRoute', 'shop', 'orphan', ['shop/ghost'], [['shop/web-v1', 1]]),
    ],
    context(known),
  );
  assert.deepEqual(splits.get('shop/web')!.origin, { kind: 'HTTPRoute', group: 'test.example', namespace: 'shop', name: 'hr' });
  assert.deepEqual(splits.get('shop/api')!.backends, [{ service: 'shop/api-v1', weight: 5 }]);
  assert.equal(splits.has('shop/a'), false);
  assert.equal(splits.has('shop/b'), false);
  assert.deepEqual(splits.get('shop/c')!.backends, [{ service: 'shop/a', weight: 1 }], 'pointing into a loop is not a loop');
  assert.equal(splits.has('shop/z'), false);
  const text = problems.map((p) => `${p.object}: ${p.message}`).join('\n');
  assert.match(text, /VirtualService shop\/vs: web\.shop is split by the more specific HTTPRoute shop\/hr/);
  // A route in another namespace is a consumer route: it splits web.shop for its own namespace's clients only.
  assert.deepEqual(splits.get('shop/web')!.consumers, [{ namespace: 'client', backends: [{ service: 'shop/web-v3', weight: 1 }], origin: { kind: 'HTTPRoute', group: 'test.example', namespace: 'client', name: 'consumer' } }]);
  assert.deepEqual(splits.get('shop/web')!.backends, [{ service: 'shop/web-v2', weight: 1 }]);
  assert.match(text, /TrafficSplit shop\/ts: backend ghost\.shop is not a known Service/);
  assert.match(text, /TrafficSplit shop\/a: the splits of .* form a loop/);
  assert.match(text, /TrafficSplit shop\/b: the splits of .* form a loop/);
  assert.match(text, /HTTPRoute shop\/zero: every backend has weight 0/);
  assert.match(text, /HTTPRoute shop\/broken: rules\[0\]/);
  assert.match(text, /HTTPRoute shop\/orphan: parent Service ghost\.shop is not known/);
  assert.equal(splits.has('shop/ghost'), false);
});

test('policy annotations: each field, a bad one reported and left out, the rest kept', () => {
  assert.equal(parsePolicyAnnotations({ 'other.io/x': '1' }, 'shop', 'web'), undefined);
  const p = parsePolicyAnnotations(
    { 'meshdns.io/load-balancer': 'round-robin', 'meshdns.io/failover': 'web.dr, web-v1.shop', 'meshdns.io/locality': 'nearest', 'meshdns.io/answer-limit': '2' },
    'shop',
    'web',
  )!;
  assert.deepEqual(p.fields, { loadBalancer: 'round-robin', failover: ['web.dr', 'web-v1.shop'], answerLimit: 2 });
  assert.deepEqual(p.problems, ['meshdns.io/locality "nearest": expected off or prefer-zone']);
  assert.match(parsePolicyAnnotations({ 'meshdns.io/failover': 'web.shop' }, 'shop', 'web')!.problems[0]!, /not another service/);
});

test('Nodes give zones of pod ranges; EndpointSlice hints.forZones are kept', () => {
  assert.deepEqual(convertNode(node('n1', 'eu-1a', ['10.244.1.0/24', 'fd00:1::/64'])), { key: 'n1', value: { zone: 'eu-1a', podCidrs: ['10.244.1.0/24', 'fd00:1::/64'] } });
  // No zone label: it places clients in its cluster (several clusters), in no zone.
  assert.deepEqual(convertNode(node('n2', undefined, ['10.244.2.0/24'])), { key: 'n2', value: { zone: '', podCidrs: ['10.244.2.0/24'] } });
  assert.deepEqual(convertNode(node('n4', 'eu-1a', [])), { key: 'n4', value: undefined });
  // Host-network clients (NodeLocal DNSCache) query from the Node's own address.
  const withAddress = { ...node('n3', 'eu-1c', ['10.244.3.0/24']), status: { addresses: [{ type: 'InternalIP', address: '192.168.1.3' }, { type: 'Hostname', address: 'n3' }] } };
  assert.deepEqual(convertNode(withAddress)!.value!.podCidrs, ['10.244.3.0/24', '192.168.1.3/32']);
  const slice = endpointSlice('shop', 'web-1', 'web', [{ address: '10.0.0.1', zone: 'eu-1b' }]);
  slice.endpoints[0].hints = { forZones: [{ name: 'eu-1a' }] };
  assert.deepEqual(convertSlice(slice)!.value!.endpoints.at(0).hintZones, ['eu-1a']);
});
