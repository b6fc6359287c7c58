import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { dig } from '../../support/dig.js';
import { crdResource, FakeKubeApiServer, type CustomResource, type KubeObject } from '../../support/fake-kube-apiserver.js';
import { startMeshdns, type MeshdnsProcess } from '../../support/meshdns-process.js';
import { within } from '../../support/poll.js';

/**
 * Issue 26: the Multi-Cluster Services API served under clusterset.local exactly as KEP-1645's DNS specification
 * says, from ServiceImports and imported EndpointSlices of two source clusters, through the list/watch API server
 * and the real client library, checked with dig.
 */
const SERVICE_IMPORTS: CustomResource = { group: 'multicluster.x-k8s.io', versions: ['v1beta1', 'v1alpha1'], kind: 'ServiceImport', plural: 'serviceimports' };

let api: FakeKubeApiServer;
let s: MeshdnsProcess;

/** The ServiceImport of KEP-1645's example (its spec as the KEP gives it). */
function serviceImport(namespace: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceImport', metadata: { name, namespace }, spec: { sessionAffinity: 'None', ...spec } };
}

/** An imported EndpointSlice as KEP-1645 shows one: the service-name and source-cluster labels, no kubernetes.io/service-name. */
function importedSlice(namespace: string, name: string, service: string, cluster: string | undefined, ports: { name: string; port: number }[], endpoints: { address: string; hostname?: string; ready?: boolean }[]): KubeObject {
  return {
    metadata: {
      name,
      namespace,
      labels: { 'multicluster.kubernetes.io/service-name': service, ...(cluster === undefined ? {} : { 'multicluster.kubernetes.io/source-cluster': cluster }) },
    },
    addressType: 'IPv4',
    ports: ports.map((p) => ({ ...p, protocol: 'TCP' })),
    endpoints: endpoints.map((e) => ({ addresses: [e.address], conditions: { ready: e.ready ?? true }, ...(e.hostname === undefined ? {} : { hostname: e.hostname }) })),
  };
}

const resource = crdResource(SERVICE_IMPORTS);

before(async () => {
  api = await FakeKubeApiServer.start();
  api.installCrd(SERVICE_IMPORTS);
  api.apply(resource, serviceImport('my-ns', 'my-svc', { ips: ['42.42.42.42'], type: 'ClusterSetIP', ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }));
  api.apply('endpointslices', importedSlice('my-ns', 'imported-my-svc-cluster-b-1', 'my-svc', 'us-west2-prod', [{ name: 'http', port: 80 }], [{ address: '10.1.2.3' }]));
  api.apply(resource, serviceImport('my-ns', 'db', { type: 'Headless', ports: [{ name: 'sql', protocol: 'TCP', port: 5432 }] }));
  api.apply('endpointslices', importedSlice('my-ns', 'imported-db-west', 'db', 'us-west2-prod', [{ name: 'sql', port: 5432 }], [{ address: '10.1.2.3', hostname: 'db-0' }, { address: '10.1.2.4' }]));
  api.apply('endpointslices', importedSlice('my-ns', 'imported-db-eu', 'db', 'eu-1', [{ name: 'sql', port: 5432 }], [{ address: '10.2.0.5', hostname: 'db-0' }, { address: '10.2.0.6', hostname: 'db-1', ready: false }]));
  // Bad objects: logged once and left out, the rest served.
  api.apply(resource, serviceImport('my-ns', 'noip', { type: 'ClusterSetIP', ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }));
  api.apply('endpointslices', importedSlice('my-ns', 'imported-db-unlabelled', 'db', undefined, [{ name: 'sql', port: 5432 }], [{ address: '10.9.9.9' }]));
  s = await startMeshdns(['--upstream', 'none', '--kubernetes', 'on', '--kubeconfig', api.kubeconfig(), '--reverse-cidr', '42.42.42.0/24']);
  await within(5000, async () => (await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status === 200);
  await within(5000, async () => (await dig(s.dnsPort, ['+short', 'my-svc.my-ns.svc.clusterset.local'])).raw.trim() === '42.42.42.42');
});
after(async () => {
  await s?.stop();
  await api?.stop();
});

const short = async (name: string, type = 'A'): Promise<string[]> => (await dig(s.dnsPort, ['+short', name, type])).raw.trim().split('\n').filter((l) => l !== '').sort();

test('dns-version, a ClusterSetIP service: A, SRV to the service name, PTR of the ClusterSetIP (v1beta1, as discovery offers it)', async () => {
  assert.deepEqual(await short('dns-version.clusterset.local', 'TXT'), ['"1.0.0"']);
  assert.deepEqual(await short('my-svc.my-ns.svc.clusterset.local'), ['42.42.42.42']);
  const srv = await dig(s.dnsPort, ['_http._tcp.my-svc.my-ns.svc.clusterset.local', 'SRV']);
  assert.deepEqual(srv.answer.map((l) => l.split(/\s+/).slice(4).join(' ')), ['0 100 80 my-svc.my-ns.svc.clusterset.local.']);
  assert.ok(srv.additional.some((l) => /^my-svc\.my-ns\.svc\.clusterset\.local\.\s+\d+\s+IN\s+A\s+42\.42\.42\.42$/.test(l)), srv.raw);
  assert.deepEqual(await short('42.42.42.42.in-addr.arpa', 'PTR'), ['my-svc.my-ns.svc.clusterset.local.']);
  assert.match(s.logs.join('\n'), /multicluster\.x-k8s\.io\/v1beta1/);
  // No per-cluster service names for a ClusterSetIP service; the SOA comes with the NXDOMAIN.
  const nx = await dig(s.dnsPort, ['us-west2-prod.my-svc.my-ns.svc.clusterset.local', 'A']);
  assert.equal(nx.status, 'NXDOMAIN');
  assert.ok(nx.authority.some((l) => /\sSOA\s/.test(l)), nx.raw);
  const nodata = await dig(s.dnsPort, ['my-svc.my-ns.svc.clusterset.local', 'AAAA']);
  assert.equal(nodata.status, 'NOERROR');
  assert.equal(nodata.answer.length, 0);
  assert.ok(nodata.authority.some((l) => /\sSOA\s/.test(l)));
});

test('a headless import across two source clusters: every ready endpoint, <hostname>.<clusterid> names, SRV per endpoint, <clusterid> with no address', async () => {
  assert.deepEqual(await short('db.my-ns.svc.clusterset.local'), ['10.1.2.3', '10.1.2.4', '10.2.0.5']);
  assert.deepEqual(await short('db-0.us-west2-prod.db.my-ns.svc.clusterset.local'), ['10.1.2.3']);
  assert.deepEqual(await short('db-0.eu-1.db.my-ns.svc.clusterset.local'), ['10.2.0.5']);
  assert.deepEqual(await short('10-1-2-4.us-west2-prod.db.my-ns.svc.clusterset.local'), ['10.1.2.4']);
  // Not ready: not answered.
  assert.equal((await dig(s.dnsPort, ['db-1.eu-1.db.my-ns.svc.clusterset.local'])).status, 'NXDOMAIN');
  const cluster = await dig(s.dnsPort, ['us-west2-prod.db.my-ns.svc.clusterset.local', 'A']);
  assert.equal(cluster.status, 'NOERROR');
  assert.equal(cluster.answer.length, 0);
  const srv = await dig(s.dnsPort, ['_sql._tcp.db.my-ns.svc.clusterset.local', 'SRV']);
  assert.deepEqual(srv.answer.map((l) => l.split(/\s+/).slice(4).join(' ')).sort(), [
    '0 100 5432 10-1-2-4.us-west2-prod.db.my-ns.svc.clusterset.local.',
    '0 100 5432 db-0.eu-1.db.my-ns.svc.clusterset.local.',
    '0 100 5432 db-0.us-west2-prod.db.my-ns.svc.clusterset.local.',
  ]);
  assert.equal(srv.additional.filter((l) => /\sIN\s+A\s/.test(l)).length, 3, srv.raw);
});

test('an endpoint that becomes unready leaves within a second; an import deleted is NXDOMAIN', async () => {
  api.apply('endpointslices', importedSlice('my-ns', 'imported-db-eu', 'db', 'eu-1', [{ name: 'sql', port: 5432 }], [{ address: '10.2.0.5', hostname: 'db-0', ready: false }]));
  await within(1000, async () => (await short('db.my-ns.svc.clusterset.local')).join() === '10.1.2.3,10.1.2.4');
  assert.equal((await dig(s.dnsPort, ['db-0.eu-1.db.my-ns.svc.clusterset.local'])).status, 'NXDOMAIN');
  api.remove(resource, 'my-ns', 'db');
  await within(1000, async () => (await dig(s.dnsPort, ['db.my-ns.svc.clusterset.local'])).status === 'NXDOMAIN');
});

test('bad objects are logged once and skipped: a ClusterSetIP import with no IPs, a slice without its source cluster', async () => {
  const nx = await dig(s.dnsPort, ['noip.my-ns.svc.clusterset.local']);
  assert.equal(nx.status, 'NXDOMAIN');
  assert.ok(nx.authority.some((l) => /\sSOA\s/.test(l)));
  const logs = s.logs.join('\n');
  assert.equal(logs.split('ServiceImport skipped').length - 1, 1, 'logged once');
  assert.match(logs, /"object":"ServiceImport my-ns\/noip"/);
  assert.equal(logs.split('imported EndpointSlice skipped').length - 1, 1, 'logged once');
  assert.match(logs, /"object":"EndpointSlice my-ns\/imported-db-unlabelled"/);
  assert.doesNotMatch((await short('db.my-ns.svc.clusterset.local')).join(), /10\.9\.9\.9/);
});
