import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { dig } from '../../support/dig.js';
import { endpointSlice, FakeKubeApiServer, service } from '../../support/fake-kube-apiserver.js';
import { startMeshdns, type MeshdnsProcess } from '../../support/meshdns-process.js';
import { within } from '../../support/poll.js';

/** Issue 23, the Kubernetes source's low cases, against the list/watch API server. */
let api: FakeKubeApiServer;
let s: MeshdnsProcess;
before(async () => {
  api = await FakeKubeApiServer.start();
  // A kubeconfig as `kubectl proxy` users write it: plain http, no insecure-skip-tls-verify.
  const kubeconfig = api.kubeconfig();
  writeFileSync(kubeconfig, readFileSync(kubeconfig, 'utf8').replace(', insecure-skip-tls-verify: true', ''));
  s = await startMeshdns(['--upstream', 'none', '--kubernetes', 'on', '--kubeconfig', kubeconfig]);
});
after(async () => {
  await s.stop();
  await api.stop();
});

test('a kubeconfig with an http:// server works as kubectl has it (said once: no TLS); /readyz turns 200', async () => {
  await within(5000, async () => (await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status === 200);
  await s.waitForLog(/"level":"warn".*plain HTTP/);
});

test('a Service without endpoints is NODATA, not NXDOMAIN (the name exists, as CoreDNS answers it)', async () => {
  api.apply('services', service('edge', 'empty'));
  await within(3000, async () => (await dig(s.dnsPort, ['empty.edge.linkerd.local', 'A'])).status === 'NOERROR');
  const r = await dig(s.dnsPort, ['empty.edge.linkerd.local', 'A']);
  assert.equal(r.answer.length, 0);
  assert.match(r.authority[0]!, /SOA/);
  api.remove('services', 'edge', 'empty');
  await within(3000, async () => (await dig(s.dnsPort, ['empty.edge.linkerd.local', 'A'])).status === 'NXDOMAIN');
});

test('one invalid port leaves out only its SRV name: the endpoint keeps its address and other ports', async () => {
  api.apply('services', service('edge', 'ports'));
  api.apply('endpointslices', endpointSlice('edge', 'ports-1', 'ports', [{ address: '10.80.0.1' }], { ports: [{ name: 'http', port: 8080 }, { name: 'Bad_Name', port: 9090 }] }));
  await within(3000, async () => (await dig(s.dnsPort, ['+short', 'ports.edge.linkerd.local'])).raw.trim() === '10.80.0.1');
  assert.equal((await dig(s.dnsPort, ['_http._tcp.ports.edge.linkerd.local', 'SRV'])).answer.length, 1);
  await s.waitForLog(/EndpointSlice port left out/);
});

test('an ExternalName that is not a DNS name is not served (said once); its name is NODATA', async () => {
  api.apply('services', service('edge', 'ext', { spec: { type: 'ExternalName', externalName: 'bad name\\with spaces.example' } }));
  await s.waitForLog(/ExternalName Service not served/, 3000);
  const r = await dig(s.dnsPort, ['ext.edge.linkerd.local', 'CNAME']);
  assert.equal(r.status, 'NOERROR');
  assert.equal(r.answer.length, 0);
  api.apply('services', service('edge', 'ext2', { spec: { type: 'ExternalName', externalName: 'api.example.com' } }));
  await within(3000, async () => (await dig(s.dnsPort, ['ext2.edge.linkerd.local', 'CNAME'])).answer.some((l) => l.endsWith('api.example.com.')));
});
