import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProbe } from '../../../src/sources/kubernetes/annotations.js';
import { convertPod, convertService, convertSlice } from '../../../src/sources/kubernetes/slim-objects.js';
import { endpointSlice, parseLabelSelector, service } from '../../support/fake-kube-apiserver.js';

test('slices: only what answers need is kept; unknown readiness means ready; SCTP and unnamed ports are skipped', () => {
  const raw = endpointSlice('ns', 's-1', 'svc', [{ address: '10.0.0.1', ready: null }, { address: '10.0.0.2', ready: false }], {
    ports: [{ name: 'http', port: 80 }, { name: 'sig', port: 5060, protocol: 'SCTP' }, { name: '', port: 81 }],
    annotations: { 'meshdns.io/weight': '25' },
  });
  raw.metadata.managedFields = [{ manager: 'kube-controller-manager', fieldsV1: { big: 'x'.repeat(1000) } }];
  const slim = convertSlice(raw)!;
  assert.equal(slim.key, 'ns/s-1');
  assert.deepEqual(slim.value!.ports, [{ name: 'http', port: 80, protocol: 'tcp' }]);
  assert.equal(slim.value!.weight, 25);
  assert.deepEqual([...slim.value!.endpoints].map((e) => e.ready), [true, false]);
  assert.ok(JSON.stringify(slim.value).length < 400);
  assert.equal(convertSlice({ ...raw, addressType: 'FQDN' })!.value, undefined);
});

test('services: ExternalName and publishNotReadyAddresses; pods: weight, labels (shared between Pods) and addresses', () => {
  assert.equal(convertService(service('ns', 'x', { spec: { type: 'ExternalName', externalName: 'a.example.com' } }))!.value!.externalName, 'a.example.com');
  assert.equal(convertService(service('ns', 'x', { spec: { publishNotReadyAddresses: true } }))!.value!.publishNotReadyAddresses, true);
  assert.equal(convertPod({ metadata: { namespace: 'ns', name: 'p', annotations: { 'meshdns.io/weight': '5' } } })!.value!.weight, 5);
  assert.equal(convertPod({ metadata: { namespace: 'ns', name: 'p', annotations: { 'meshdns.io/weight': 'heavy' } } })!.value!.weight, undefined);
  const a = convertPod({ metadata: { namespace: 'ns', name: 'a', labels: { app: 'reviews', version: 'v1' } }, status: { podIP: '10.1.0.1', podIPs: [{ ip: '10.1.0.1' }, { ip: 'fd00::1' }] } })!.value!;
  const b = convertPod({ metadata: { namespace: 'ns', name: 'b', labels: { version: 'v1', app: 'reviews' } }, status: { podIP: '10.1.0.2' } })!.value!;
  assert.deepEqual(a.labels, { app: 'reviews', version: 'v1' });
  assert.equal(a.labels, b.labels, 'one object for one label set');
  assert.deepEqual(a.ips, ['10.1.0.1', 'fd00::1']);
  // A host-network Pod's address is its Node's: it names no namespace.
  assert.deepEqual(convertPod({ metadata: { namespace: 'ns', name: 'h' }, spec: { hostNetwork: true }, status: { podIP: '192.168.1.3' } })!.value!.ips, []);
});

test('probe annotations', () => {
  assert.deepEqual(parseProbe({ 'meshdns.io/probe': 'http:/healthz:8080' }), { kind: 'http', path: '/healthz', port: 8080, intervalMs: 5000, timeoutMs: 1000 });
  assert.deepEqual(parseProbe({ 'meshdns.io/probe': 'tcp:5432', 'meshdns.io/probe-interval': '10s', 'meshdns.io/probe-timeout': '2s' }), { kind: 'tcp', path: '', port: 5432, intervalMs: 10000, timeoutMs: 2000 });
  assert.equal(parseProbe({}), undefined);
  assert.deepEqual(parseProbe({ 'meshdns.io/probe': 'grpc:9090/pay.v1.Payments' }), { kind: 'grpc', path: 'pay.v1.Payments', port: 9090, intervalMs: 5000, timeoutMs: 1000 });
  assert.ok(parseProbe({ 'meshdns.io/probe': 'grpc:' }) instanceof Error);
  assert.ok(parseProbe({ 'meshdns.io/probe': 'tcp:70000' }) instanceof Error);
});

test('the fake API server understands label selectors the way kube-apiserver does', () => {
  const sel = parseLabelSelector('app=web,tier!=db,env in (prod, stage),!legacy,team');
  assert.equal(sel({ app: 'web', env: 'prod', team: 'a' }), true);
  assert.equal(sel({ app: 'web', env: 'dev', team: 'a' }), false);
  assert.equal(sel({ app: 'web', env: 'prod', team: 'a', legacy: '1' }), false);
  assert.equal(sel({ app: 'web', env: 'prod', team: 'a', tier: 'db' }), false);
  assert.equal(sel({ app: 'web', env: 'prod' }), false);
});

test('slices: endpoints packed between watch events read back as the API gave them, rare fields included', () => {
  const raw = endpointSlice('ns', 's-1', 'svc', [
    { address: '10.0.0.1', pod: 'web-a', zone: 'eu-1a' },
    { address: '10.0.0.2', ready: false, serving: true, terminating: true, hostname: 'db-0' },
    { address: '10.0.0.3', pod: 'web-c' },
  ]);
  (raw.endpoints as Record<string, unknown>[])[2]!.hints = { forZones: [{ name: 'eu-1b' }, { name: 'eu-1c' }] };
  const packed = convertSlice(raw)!.value!.endpoints;
  assert.equal(packed.length, 3);
  assert.deepEqual([...packed], [
    { address: '10.0.0.1', ready: true, serving: true, terminating: false, zone: 'eu-1a', pod: 'web-a' },
    { address: '10.0.0.2', ready: false, serving: true, terminating: true, zone: undefined, pod: undefined, hostname: 'db-0' },
    { address: '10.0.0.3', ready: true, serving: true, terminating: false, zone: undefined, pod: 'web-c', hintZones: ['eu-1b', 'eu-1c'] },
  ]);
  assert.equal(packed.hasPod('web-c'), true);
  assert.equal(packed.hasPod('web-b'), false);
  assert.deepEqual([...convertSlice({ ...raw, endpoints: [] })!.value!.endpoints], []);
});
