import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { dig } from '../support/dig.js';
import { endpointSlice, FakeKubeApiServer, service } from '../support/fake-kube-apiserver.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';
import { runCommand } from '../support/run-command.js';
import { within } from '../support/poll.js';

/** dig -x and nslookup of instance addresses from each source, IPv4 and IPv6; owned and foreign reverse ranges. */
let kube: FakeKubeApiServer;
let s: MeshdnsProcess;

before(async () => {
  kube = await FakeKubeApiServer.start();
  kube.apply('services', service('shop', 'cart'));
  kube.apply('endpointslices', endpointSlice('shop', 'cart-1', 'cart', [{ address: '10.40.0.7' }]));
  s = await startMeshdns(['--upstream', 'none', '--kubernetes', 'on', '--kubeconfig', kube.kubeconfig(), '--reverse-cidr', '10.0.0.0/8', '--reverse-cidr', 'fd00::/8']);
  await within(5000, async () => (await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status === 200);
  assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'vm', 'vm-1'), { address: '10.50.0.9', ports: [] })).status, 200);
  assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'vm', 'vm-6'), { address: 'fd00::9', ports: [] })).status, 200);
  assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'other', 'o-1'), { address: '192.0.2.9', ports: [] })).status, 200);
});
after(async () => {
  await s.stop();
  await kube.stop();
});

test('dig -x answers the instance name, authoritatively, for zone-file, Kubernetes and REST instances, IPv4 and IPv6', async () => {
  for (const [address, target] of [
    ['10.0.0.11', 'web-1.web.default.linkerd.local.'],
    ['fd00::1:21', 'fd00-0-0-0-0-0-1-21.api.default.linkerd.local.'],
    ['10.40.0.7', '10-40-0-7.cart.shop.linkerd.local.'],
    ['10.50.0.9', 'vm-1.vm.shop.linkerd.local.'],
    ['fd00::9', 'vm-6.vm.shop.linkerd.local.'],
    ['192.0.2.9', 'o-1.other.shop.linkerd.local.'],
  ]) {
    const r = await dig(s.dnsPort, ['-x', address]);
    assert.equal(r.status, 'NOERROR', address);
    assert.ok(r.flags.includes('aa'), `${address}: aa`);
    assert.deepEqual(r.answer.map((l) => l.split(/\s+/).pop()), [target], address);
  }
});

test('a deregistered address stops answering; one shared by two services has a PTR each', async () => {
  assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'twin', 't-1'), { address: '10.50.0.9', ports: [] })).status, 200);
  const both = await dig(s.dnsPort, ['-x', '10.50.0.9']);
  assert.deepEqual(both.answer.map((l) => l.split(/\s+/).pop()).sort(), ['t-1.twin.shop.linkerd.local.', 'vm-1.vm.shop.linkerd.local.']);
  assert.equal((await api(s.httpPort, 'DELETE', instancePath('shop', 'twin', 't-1'))).status, 204);
  assert.equal((await api(s.httpPort, 'DELETE', instancePath('shop', 'vm', 'vm-1'))).status, 204);
  const gone = await dig(s.dnsPort, ['-x', '10.50.0.9']);
  assert.equal(gone.status, 'NXDOMAIN');
});

test('inside --reverse-cidr: unknown addresses NXDOMAIN with the reverse zone SOA, the names above a PTR exist; outside: refused without upstream', async () => {
  const unknown = await dig(s.dnsPort, ['-x', '10.99.0.1']);
  assert.equal(unknown.status, 'NXDOMAIN');
  assert.match(unknown.authority[0]!, /^10\.in-addr\.arpa\.\s+\d+\s+IN\s+SOA\s+ns\.dns\.linkerd\.local\./);
  const ent = await dig(s.dnsPort, ['0.40.10.in-addr.arpa', 'PTR']);
  assert.equal(ent.status, 'NOERROR', 'an empty non-terminal above a PTR name');
  const v6 = await dig(s.dnsPort, ['-x', 'fd00::abcd']);
  assert.equal(v6.status, 'NXDOMAIN');
  assert.match(v6.authority[0]!, /^d\.f\.ip6\.arpa\./);
  assert.equal((await dig(s.dnsPort, ['-x', '198.51.100.1'])).status, 'REFUSED');
});

test('nslookup finds names and addresses both ways', async () => {
  const forward = await runCommand('nslookup', ['-port=' + s.dnsPort, 'web-1.web.default.linkerd.local', '127.0.0.1'], { timeoutMs: 10_000 });
  assert.match(forward.stdout, /Address: 10\.0\.0\.11/);
  const reverse = await runCommand('nslookup', ['-port=' + s.dnsPort, '10.40.0.7', '127.0.0.1'], { timeoutMs: 10_000 });
  assert.match(reverse.stdout, /7\.0\.40\.10\.in-addr\.arpa\s+name = 10-40-0-7\.cart\.shop\.linkerd\.local\./);
});
