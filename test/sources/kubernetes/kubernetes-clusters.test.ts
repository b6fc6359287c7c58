import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildQuery, decode, udpExchange } from '../../support/dns-client.js';
import { dig } from '../../support/dig.js';
import { endpointSlice, FakeKubeApiServer, node, service } from '../../support/fake-kube-apiserver.js';
import { runCli, startMeshdns, type MeshdnsProcess } from '../../support/meshdns-process.js';
import { within } from '../../support/poll.js';

/**
 * Issue 26: two clusters, each its own API server (the list/watch server, through the real client library): one
 * service across both, each client answered from its own cluster (placed by the clusters' Nodes), failover to the
 * other cluster and back, `clusters: all` by weight, and a remote cluster whose API dies keeps being answered.
 */
let east: FakeKubeApiServer;
let west: FakeKubeApiServer;
let s: MeshdnsProcess;

/** Clients bound to loopback addresses inside each cluster's Node podCIDR. */
const EAST_CLIENT = '127.0.1.5';
const WEST_CLIENT = '127.0.2.5';

const ready = async (server: MeshdnsProcess): Promise<boolean> => (await fetch(`http://127.0.0.1:${server.httpPort}/readyz`)).status === 200;

async function addresses(name: string, from: string, server = s): Promise<string[]> {
  const reply = await udpExchange(server.dnsPort, buildQuery(name), 2000, '127.0.0.1', from);
  return decode(reply!).answers.map((a) => a.address ?? '').sort();
}

const eastWeb = (readyFlag = true): ReturnType<typeof endpointSlice> =>
  endpointSlice('shop', 'web-east', 'web', [
    { address: '10.61.0.1', ready: readyFlag },
    { address: '10.61.0.2', ready: readyFlag },
  ]);

before(async () => {
  east = await FakeKubeApiServer.start();
  west = await FakeKubeApiServer.start();
  east.apply('nodes', node('east-1', 'zone-a', ['127.0.1.0/24']));
  west.apply('nodes', node('west-1', undefined, ['127.0.2.0/24']));
  east.apply('services', service('shop', 'web'));
  east.apply('endpointslices', eastWeb());
  west.apply('services', service('shop', 'web'));
  // 10.61.0.1 is in both clusters (overlapping Pod ranges): two instances, two names.
  west.apply('endpointslices', endpointSlice('shop', 'web-west', 'web', [{ address: '10.62.0.1' }, { address: '10.61.0.1' }]));
  west.apply('services', service('shop', 'only-west'));
  west.apply('endpointslices', endpointSlice('shop', 'only-west-1', 'only-west', [{ address: '10.62.1.1' }]));
  s = await startMeshdns(['--upstream', 'none', '--kubernetes', 'on', '--kubeconfig', east.kubeconfig(), '--cluster-name', 'east', '--kubernetes-cluster', `west=${west.kubeconfig()}`]);
  await within(5000, () => ready(s));
  await within(5000, async () => (await addresses('web.shop.linkerd.local', WEST_CLIENT)).join() === '10.61.0.1,10.62.0.1');
});
after(async () => {
  await s?.stop();
  await east?.stop();
  await west?.stop();
});

test('one service across two clusters: each client gets its own cluster\'s instances (placed by the Nodes), others the local cluster\'s', async () => {
  assert.deepEqual(await addresses('web.shop.linkerd.local', EAST_CLIENT), ['10.61.0.1', '10.61.0.2']);
  assert.deepEqual(await addresses('web.shop.linkerd.local', WEST_CLIENT), ['10.61.0.1', '10.62.0.1']);
  // A client no Node places is in the local cluster (--cluster-name).
  assert.deepEqual(await addresses('web.shop.linkerd.local', '127.0.0.1'), ['10.61.0.1', '10.61.0.2']);
  // A service only the other cluster has is answered to everyone (prefer-local: nothing local, so the others').
  assert.deepEqual(await addresses('only-west.shop.linkerd.local', EAST_CLIENT), ['10.62.1.1']);
});

test('a remote cluster is only listed and watched, for what deploy/kubernetes/remote grants its service account', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { parseAllDocuments } = await import('yaml');
  const { repoRoot } = await import('../../support/meshdns-process.js');
  const docs = parseAllDocuments(readFileSync(join(repoRoot, 'deploy', 'kubernetes', 'remote', 'rbac.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[] });
  const rules = docs.find((d) => d.kind === 'ClusterRole')!.rules!;
  const granted = (group: string, resource: string): boolean => rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes('list') && r.verbs.includes('watch'));
  assert.ok(west.requests.length > 0);
  for (const request of west.requests) {
    const [method, url] = request.split(' ') as [string, string];
    assert.equal(method, 'GET', request);
    const path = url.split('?')[0]!;
    // API discovery is every account's (system:discovery): /api, /apis and /apis/<group>/<version>.
    if (/^\/apis?(?:\/[a-z0-9.-]+\/[a-z0-9]+)?$/.test(path)) continue;
    const m = /^\/api\/v1\/(?:namespaces\/[^/]+\/)?([a-z]+)$/.exec(path) ?? /^\/apis\/([a-z0-9.-]+)\/[a-z0-9]+\/(?:namespaces\/[^/]+\/)?([a-z]+)$/.exec(path);
    assert.ok(m !== null, `${request}: not a list or watch`);
    const [group, resource] = m.length === 2 ? ['', m[1]!] : [m[1]!, m[2]!];
    assert.ok(granted(group, resource), `${request}: not granted by deploy/kubernetes/remote`);
  }
});

test('instance names stay unique across clusters: <name>.<cluster>.<svc> for the other cluster\'s, SRV targets with glue', async () => {
  assert.equal((await dig(s.dnsPort, ['+short', '10-61-0-1.web.shop.linkerd.local'])).raw.trim(), '10.61.0.1');
  assert.equal((await dig(s.dnsPort, ['+short', '10-61-0-1.west.web.shop.linkerd.local'])).raw.trim(), '10.61.0.1');
  assert.equal((await dig(s.dnsPort, ['+short', '10-62-0-1.west.web.shop.linkerd.local'])).raw.trim(), '10.62.0.1');
  // The cluster label is an empty non-terminal (NODATA, not NXDOMAIN); a name in no cluster is NXDOMAIN.
  const ent = await dig(s.dnsPort, ['west.web.shop.linkerd.local']);
  assert.equal(ent.status, 'NOERROR');
  assert.equal(ent.answer.length, 0);
  assert.equal((await dig(s.dnsPort, ['10-62-0-1.web.shop.linkerd.local'])).status, 'NXDOMAIN');
  assert.equal((await dig(s.dnsPort, ['10-62-0-1.north.web.shop.linkerd.local'])).status, 'NXDOMAIN');
  const srv = await dig(s.dnsPort, ['-b', WEST_CLIENT, '_http._tcp.web.shop.linkerd.local', 'SRV']);
  assert.deepEqual(srv.answer.map((l) => l.split(/\s+/).slice(4).join(' ')).sort(), ['0 100 8080 10-61-0-1.west.web.shop.linkerd.local.', '0 100 8080 10-62-0-1.west.web.shop.linkerd.local.']);
  assert.ok(srv.additional.some((l) => /^10-62-0-1\.west\.web\.shop\.linkerd\.local\.\s+\d+\s+IN\s+A\s+10\.62\.0\.1$/.test(l)), srv.raw);
  // PTRs name each cluster's instance by its own name: the local one and the other cluster's under its label.
  assert.equal((await dig(s.dnsPort, ['+short', '-x', '10.62.0.1'])).raw.trim(), '10-62-0-1.west.web.shop.linkerd.local.');
  assert.deepEqual((await dig(s.dnsPort, ['+short', '-x', '10.61.0.1'])).raw.trim().split('\n').sort(), ['10-61-0-1.web.shop.linkerd.local.', '10-61-0-1.west.web.shop.linkerd.local.']);
});

test('all of a cluster\'s endpoints unready: its clients fail over to the other cluster within a second, and back', async () => {
  east.apply('endpointslices', eastWeb(false));
  const took = await within(1000, async () => (await addresses('web.shop.linkerd.local', EAST_CLIENT)).join() === '10.61.0.1,10.62.0.1');
  assert.ok(took < 1000);
  east.apply('endpointslices', eastWeb(true));
  await within(1000, async () => (await addresses('web.shop.linkerd.local', EAST_CLIENT)).join() === '10.61.0.1,10.61.0.2');
});

test('clusters: all (the meshdns.io/clusters annotation) merges both clusters by weight: shares within a few points over 2,000 answers', async () => {
  east.apply('services', service('shop', 'web', { annotations: { 'meshdns.io/clusters': 'all' } }));
  await within(2000, async () => (await addresses('web.shop.linkerd.local', EAST_CLIENT)).length === 3);
  const first = new Map<string, number>();
  for (let i = 0; i < 2000; i++) {
    const reply = decode((await udpExchange(s.dnsPort, buildQuery('web.shop.linkerd.local'), 2000, '127.0.0.1', EAST_CLIENT))!);
    const a = reply.answers[0]!.address!;
    first.set(a, (first.get(a) ?? 0) + 1);
  }
  // Four instances of equal weight, two per cluster; 10.61.0.1 is in both, one record (RFC 2181 §5): three records.
  const share = (a: string): number => (first.get(a) ?? 0) / 2000;
  assert.ok(Math.abs(share('10.62.0.1') - 1 / 3) < 0.05, JSON.stringify([...first]));
  assert.ok(Math.abs(share('10.61.0.2') - 1 / 3) < 0.05, JSON.stringify([...first]));
  east.apply('services', service('shop', 'web'));
  await within(2000, async () => (await addresses('web.shop.linkerd.local', EAST_CLIENT)).join() === '10.61.0.1,10.61.0.2');
});

test('the other cluster\'s API dies: its instances are still answered, /readyz stays 200, the metric says the cluster is not synced', async () => {
  await west.stop();
  await within(5000, async () => /meshdns_kubernetes_synced\{cluster="west"\} 0/.test(await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text()), 100);
  // And it stays so while the API is down (retries do not flip it back).
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 300));
    assert.match(await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text(), /meshdns_kubernetes_synced\{cluster="west"\} 0/);
  }
  assert.deepEqual(await addresses('web.shop.linkerd.local', WEST_CLIENT), ['10.61.0.1', '10.62.0.1']);
  assert.deepEqual(await addresses('only-west.shop.linkerd.local', EAST_CLIENT), ['10.62.1.1']);
  assert.equal(await ready(s), true);
  assert.match(await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text(), /meshdns_kubernetes_synced\{cluster="east"\} 1/);
  // A restart while it is down is ready within seconds (the local cluster alone decides readiness).
  const again = await startMeshdns(['--upstream', 'none', '--kubernetes', 'on', '--kubeconfig', east.kubeconfig(), '--cluster-name', 'east', '--kubernetes-cluster', `west=${west.kubeconfig()}`]);
  try {
    const took = await within(5000, () => ready(again), 50);
    assert.ok(took < 5000);
    assert.deepEqual(await addresses('web.shop.linkerd.local', EAST_CLIENT, again), ['10.61.0.1', '10.61.0.2']);
  } finally {
    await again.stop();
  }
});

test('two clusters with one name, or a cluster name that is not a DNS label: the start stops with one line naming the flag', async () => {
  const twice = await runCli(['serve', '--upstream', 'none', '--cluster-name', 'east', '--kubernetes-cluster', `east=${east.kubeconfig()}`, '--dns', '127.0.0.1:0', '--http', '127.0.0.1:0']);
  assert.notEqual(twice.code, 0);
  assert.match(twice.stderr, /--kubernetes-cluster east: the name is already given to the local cluster/);
  const bad = await runCli(['serve', '--upstream', 'none', '--kubernetes-cluster', `West_1=${east.kubeconfig()}`, '--dns', '127.0.0.1:0', '--http', '127.0.0.1:0']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--kubernetes-cluster "West_1": a cluster name must be a DNS label/);
  const missing = await runCli(['serve', '--upstream', 'none', '--kubernetes-cluster', 'west=/nonexistent/west.kubeconfig', '--dns', '127.0.0.1:0', '--http', '127.0.0.1:0']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /--kubernetes-cluster west=\/nonexistent\/west.kubeconfig: no such file/);
  // A broken kubeconfig: the error says where, never the token it holds.
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const file = join(mkdtempSync(join(tmpdir(), 'meshdns-kc-')), 'west.kubeconfig');
  writeFileSync(file, 'apiVersion: v1\nusers:\n- name: u\n  user:\n    token: sekrit-token-1234\n  : [broken\n');
  const broken = await runCli(['serve', '--upstream', 'none', '--kubernetes-cluster', `west=${file}`, '--dns', '127.0.0.1:0', '--http', '127.0.0.1:0']);
  assert.notEqual(broken.code, 0);
  assert.match(broken.stderr, /--kubernetes-cluster west=\S+: not a usable kubeconfig/);
  assert.doesNotMatch(broken.stderr + broken.stdout, /sekrit-token-1234/);
});

test('three clusters by a config file: a cluster added by SIGHUP is watched without a restart, one dropped leaves the answers', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const [a, b, c] = await Promise.all([FakeKubeApiServer.start(), FakeKubeApiServer.start(), FakeKubeApiServer.start()]);
  for (const [cluster, server, address] of [['a', a, '10.71.0.1'], ['b', b, '10.72.0.1'], ['c', c, '10.73.0.1']] as const) {
    server.apply('services', service('shop', 'cart'));
    server.apply('endpointslices', endpointSlice('shop', `cart-${cluster}`, 'cart', [{ address }]));
  }
  const file = join(mkdtempSync(join(tmpdir(), 'meshdns-clusters-')), 'meshdns.yaml');
  const config = (remotes: string[]): string => `cluster-name: a\nkubeconfig: ${a.kubeconfig()}\nkubernetes: "on"\nupstream: none\nkubernetes-cluster:\n${remotes.map((r) => `  - ${r}\n`).join('')}`;
  writeFileSync(file, config([`b=${b.kubeconfig()}`]));
  const p = await startMeshdns(['--config', file]);
  try {
    await within(5000, () => ready(p));
    // `all` shows every cluster's instances to one client.
    const all = async (): Promise<string> => {
      const res = (await (await fetch(`http://127.0.0.1:${p.httpPort}/v1/services/shop/cart`)).json()) as { instances: { address: string; cluster: string }[] };
      return res.instances.map((i) => `${i.cluster}:${i.address}`).sort().join(',');
    };
    await within(5000, async () => (await all()) === 'a:10.71.0.1,b:10.72.0.1');
    writeFileSync(file, config([`b=${b.kubeconfig()}`, `c=${c.kubeconfig()}`]));
    p.proc.kill('SIGHUP');
    await within(5000, async () => (await all()) === 'a:10.71.0.1,b:10.72.0.1,c:10.73.0.1', 50);
    assert.equal((await dig(p.dnsPort, ['+short', '10-73-0-1.c.cart.shop.linkerd.local'])).raw.trim(), '10.73.0.1');
    const clusters = (await (await fetch(`http://127.0.0.1:${p.httpPort}/v1/clusters`)).json()) as { clusters: { name: string; local: boolean; connected: boolean }[] };
    assert.deepEqual(clusters.clusters.map((x) => `${x.name}:${x.local}:${x.connected}`), ['a:true:true', 'b:false:true', 'c:false:true']);
    writeFileSync(file, config([`c=${c.kubeconfig()}`]));
    p.proc.kill('SIGHUP');
    await within(5000, async () => (await all()) === 'a:10.71.0.1,c:10.73.0.1', 50);
    assert.equal((await dig(p.dnsPort, ['10-72-0-1.b.cart.shop.linkerd.local'])).status, 'NXDOMAIN');
    assert.doesNotMatch(p.logs.join('\n'), /needs a restart[^\n]*kubernetes-cluster/);
  } finally {
    await p.stop();
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  }
});

test('a REST registration in a given cluster (a VM in a site): named <id>.<cluster>, answered to that cluster\'s clients first (--client-cluster)', async () => {
  const p = await startMeshdns(['--upstream', 'none', '--cluster-name', 'east', '--client-cluster', '127.0.3.0/24=dc1']);
  try {
    const put = async (id: string, address: string, cluster?: string): Promise<number> =>
      (await fetch(`http://127.0.0.1:${p.httpPort}/v1/services/billing/ledger/instances/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address, ports: [], ...(cluster === undefined ? {} : { cluster }) }) })).status;
    assert.equal(await put('vm1', '10.81.0.1', 'dc1'), 200);
    assert.equal(await put('pod1', '10.81.1.1'), 200);
    // Naming the local cluster is the same as naming none.
    assert.equal(await put('pod2', '10.81.1.2', 'east'), 200);
    assert.equal(await put('bad', '10.81.1.3', 'DC_1'), 400);
    assert.equal((await dig(p.dnsPort, ['+short', 'vm1.dc1.ledger.billing.linkerd.local'])).raw.trim(), '10.81.0.1');
    assert.equal((await dig(p.dnsPort, ['+short', 'pod2.ledger.billing.linkerd.local'])).raw.trim(), '10.81.1.2');
    assert.deepEqual(await addresses('ledger.billing.linkerd.local', '127.0.3.9', p), ['10.81.0.1']);
    assert.deepEqual(await addresses('ledger.billing.linkerd.local', '127.0.0.1', p), ['10.81.1.1', '10.81.1.2']);
    // local-only by the REST policy: dc1's clients never get the local instances, even with dc1's VM drained.
    assert.equal((await fetch(`http://127.0.0.1:${p.httpPort}/v1/services/billing/ledger/policy`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clusters: 'local-only' }) })).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${p.httpPort}/v1/services/billing/ledger/instances/vm1`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address: '10.81.0.1', ports: [], cluster: 'dc1', weight: 0 }) })).status, 200);
    const empty = await dig(p.dnsPort, ['-b', '127.0.3.9', 'ledger.billing.linkerd.local']);
    assert.equal(empty.status, 'NOERROR');
    assert.equal(empty.answer.length, 0);
    assert.deepEqual(await addresses('ledger.billing.linkerd.local', '127.0.0.1', p), ['10.81.1.1', '10.81.1.2']);
    const view = (await (await fetch(`http://127.0.0.1:${p.httpPort}/v1/services`)).json()) as { services: { name: string; clusters: Record<string, number> }[] };
    assert.deepEqual(view.services.find((x) => x.name === 'ledger')!.clusters, { dc1: 1, east: 2 });
  } finally {
    await p.stop();
  }
});

test('the console (real Chromium) shows each instance\'s cluster and each cluster\'s sync state, a dead API as stale', async () => {
  const { chromium } = await import('playwright-core');
  const [a, b] = await Promise.all([FakeKubeApiServer.start(), FakeKubeApiServer.start()]);
  a.apply('services', service('shop', 'cart'));
  a.apply('endpointslices', endpointSlice('shop', 'cart-a', 'cart', [{ address: '10.91.0.1' }]));
  b.apply('services', service('shop', 'cart'));
  b.apply('endpointslices', endpointSlice('shop', 'cart-b', 'cart', [{ address: '10.92.0.1' }]));
  const p = await startMeshdns(['--upstream', 'none', '--kubernetes', 'on', '--kubeconfig', a.kubeconfig(), '--cluster-name', 'a', '--kubernetes-cluster', `b=${b.kubeconfig()}`]);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  try {
    await within(5000, () => ready(p));
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${p.httpPort}/ui/`);
    await page.waitForSelector('section[data-service="shop/cart"] tr[data-instance="10-92-0-1.b"]', { timeout: 5000 });
    assert.match((await page.textContent('section[data-service="shop/cart"] tr[data-instance="10-92-0-1.b"]'))!, /kubernetes @b/);
    assert.doesNotMatch((await page.textContent('section[data-service="shop/cart"] tr[data-instance="10-91-0-1"]'))!, /@/);
    await page.waitForSelector('#clusters [data-cluster="b"].ok', { timeout: 5000 });
    assert.match((await page.textContent('#clusters [data-cluster="a"]'))!, /a \(local\): synced/);
    await b.stop();
    await page.waitForSelector('#clusters [data-cluster="b"].stale', { timeout: 12_000 }).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}\nclusters: ${await page.innerHTML('#clusters')}\napi: ${await (await fetch(`http://127.0.0.1:${p.httpPort}/v1/clusters`)).text()}`);
    });
    assert.match((await page.textContent('#clusters [data-cluster="b"]'))!, /API not answering, last state served/);
    // Its instance is still there, and still answered.
    assert.ok(await page.$('section[data-service="shop/cart"] tr[data-instance="10-92-0-1.b"]'));
  } finally {
    await browser.close();
    await p.stop();
    await a.stop();
    await b.stop().catch(() => undefined);
  }
});

for (const workers of [[], ['--workers', '2']]) test(`each cluster's mesh objects split a service for its own clients; a cluster without one follows the local cluster's${workers.length > 0 ? ' (--workers 2: the splits reach the workers)' : ''}`, async () => {
  const { crdResource, httpRoute, MESH_CRDS } = await import('../../support/fake-kube-apiserver.js');
  const [a, b] = await Promise.all([FakeKubeApiServer.start(), FakeKubeApiServer.start()]);
  const ROUTES = crdResource(MESH_CRDS.httproutes);
  for (const [server, net, nodeCidr] of [[a, 95, '127.0.1.0/24'], [b, 96, '127.0.2.0/24']] as const) {
    server.installCrd(MESH_CRDS.httproutes);
    server.apply('nodes', node(`n-${net}`, undefined, [nodeCidr]));
    for (const [name, host] of [['web', 0], ['web-v1', 1], ['web-v2', 2]] as const) {
      server.apply('services', service('shop', name));
      server.apply('endpointslices', endpointSlice('shop', `${name}-x`, name, [{ address: `10.${net}.${host}.1` }]));
    }
  }
  a.apply(ROUTES, httpRoute('shop', 'web-split', 'web', [['web-v1', 100]]));
  b.apply(ROUTES, httpRoute('shop', 'web-split', 'web', [['web-v2', 100]]));
  const p = await startMeshdns(['--upstream', 'none', '--kubernetes', 'on', '--kubeconfig', a.kubeconfig(), '--cluster-name', 'a', '--kubernetes-cluster', `b=${b.kubeconfig()}`, ...workers]);
  try {
    await within(5000, () => ready(p));
    await within(5000, async () => (await addresses('web.shop.linkerd.local', WEST_CLIENT, p)).join() === '10.96.2.1', 50);
    assert.deepEqual(await addresses('web.shop.linkerd.local', EAST_CLIENT, p), ['10.95.1.1']);
    assert.deepEqual(await addresses('web.shop.linkerd.local', '127.0.0.1', p), ['10.95.1.1']);
    // b's route gone: b's clients follow the local cluster's split, answered from b's own instances first.
    b.remove(ROUTES, 'shop', 'web-split');
    await within(3000, async () => (await addresses('web.shop.linkerd.local', WEST_CLIENT, p)).join() === '10.96.1.1', 50);
    assert.deepEqual(await addresses('web.shop.linkerd.local', EAST_CLIENT, p), ['10.95.1.1']);
  } finally {
    await p.stop();
    await Promise.all([a.stop(), b.stop()]);
  }
});
