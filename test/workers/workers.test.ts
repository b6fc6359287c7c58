import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { buildQuery, decode, frame, tcpExchange, udpExchange } from '../support/dns-client.js';
import { startMeshdns } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';
import { within } from '../support/poll.js';
import { crdResource, endpointSlice, FakeKubeApiServer, httpRoute, MESH_CRDS, node, service } from '../support/fake-kube-apiserver.js';

const children = (pid: number): number[] =>
  execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);


test('--workers 2: both answer from replicas the primary keeps current; weighted order holds; metrics are summed', async () => {
  const s = await startMeshdns(['--upstream', 'none', '--workers', '2']);
  try {
    const workers = children(s.proc.pid!);
    assert.equal(workers.length, 2);
    assert.equal((await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status, 200);
    // A UDP socket per worker on the one port (SO_REUSEPORT), none held by the primary.
    const owners = [...execFileSync('ss', ['-Hulpn', `sport = :${s.dnsPort}`], { encoding: 'utf8' }).matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])).sort();
    assert.deepEqual(owners, [...workers].sort());
    // Zone-file services reach the workers.
    assert.equal(decode((await udpExchange(s.dnsPort, buildQuery('web.default.linkerd.local')))!).answers.length, 2);
    for (const [id, weight] of [['a', 60], ['b', 30], ['c', 10]] as const) {
      await api(s.httpPort, 'PUT', instancePath('pool', 'svc', id), { address: `10.60.0.${weight}`, weight, ports: [] });
    }
    const visible = await within(1000, async () => decode((await udpExchange(s.dnsPort, buildQuery('svc.pool.linkerd.local')))!).answers.length === 3);
    assert.ok(visible < 1000);
    const firsts = new Map<string, number>();
    const n = 3000;
    for (let i = 0; i < n; i++) {
      const first = decode((await udpExchange(s.dnsPort, buildQuery('svc.pool.linkerd.local', { id: i })))!).answers[0]!.address!;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    assert.ok(Math.abs((firsts.get('10.60.0.60') ?? 0) / n - 0.6) < 0.04, JSON.stringify([...firsts]));
    assert.ok(Math.abs((firsts.get('10.60.0.10') ?? 0) / n - 0.1) < 0.03, JSON.stringify([...firsts]));
    const replies = await tcpExchange(s.dnsPort, [Buffer.concat([frame(buildQuery('svc.pool.linkerd.local', { id: 1 })), frame(buildQuery('linkerd.local', { id: 2, type: 6 }))])], 2);
    assert.equal(replies.length, 2);
    // A deregistration reaches the workers too.
    await api(s.httpPort, 'DELETE', instancePath('pool', 'svc', 'c'));
    await within(1000, async () => decode((await udpExchange(s.dnsPort, buildQuery('svc.pool.linkerd.local')))!).answers.length === 2);
    // Policies reach the workers too, also for a service that has nothing but a policy.
    assert.equal((await api(s.httpPort, 'PUT', '/v1/services/pool/ghost/policy', { failover: ['svc.pool'] })).status, 200);
    await within(3000, async () => decode((await udpExchange(s.dnsPort, buildQuery('ghost.pool.linkerd.local')))!).answers.length === 2);
    const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
    const answered = [...metrics.matchAll(/^meshdns_dns_requests_total\{[^}]*transport="udp"[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    assert.ok(answered >= n + 2, `workers counted ${answered} UDP queries`);
    assert.match(metrics, /^meshdns_catalog_services \d+/m);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('a worker that dies is replaced and answers resume', async () => {
  const s = await startMeshdns(['--upstream', 'none', '--workers', '2']);
  try {
    const [victim] = children(s.proc.pid!);
    process.kill(victim!, 'SIGKILL');
    await s.waitForLog(/DNS worker died; starting another/);
    await within(5000, async () => children(s.proc.pid!).length === 2 && (await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status === 200);
    for (let i = 0; i < 20; i++) {
      const reply = await udpExchange(s.dnsPort, buildQuery('web.default.linkerd.local', { id: i }));
      assert.equal(decode(reply!).answers.length, 2);
    }
  } finally {
    await s.stop();
  }
});

test('--workers 2: Kubernetes splits, policies and Node zones reach the workers', async () => {
  const kube = await FakeKubeApiServer.start();
  kube.installCrd(MESH_CRDS.httproutes);
  for (const [name, address, zone] of [['web', '10.90.0.1', 'zone-b'], ['web-v2', '10.90.1.1', 'zone-a'], ['web-v2', '10.90.1.2', 'zone-b']] as const) {
    kube.apply('services', service('pool', name, { annotations: { 'meshdns.io/locality': 'prefer-zone' } }));
    kube.apply('endpointslices', endpointSlice('pool', `${name}-${address}`, name, [{ address, zone }]));
  }
  kube.apply(crdResource(MESH_CRDS.httproutes), httpRoute('pool', 'web', 'web', [['web', 0], ['web-v2', 1]]));
  const s = await startMeshdns(['--upstream', 'none', '--workers', '2', '--kubernetes', 'on', '--kubeconfig', kube.kubeconfig()]);
  const firsts = async (n: number): Promise<Set<string>> => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) seen.add(decode((await udpExchange(s.dnsPort, buildQuery('web.pool.linkerd.local', { id: i })))!).answers[0]!.address!);
    return seen;
  };
  try {
    // The split: only web-v2's instances, both of them first sometimes (no zone known for 127.0.0.1 yet).
    await within(5000, async () => [...(await firsts(40))].sort().join() === '10.90.1.1,10.90.1.2');
    // A Node places 127.0.0.1 in zone-a: web-v2's zone-a instance comes first in every worker.
    kube.apply('nodes', node('node-1', 'zone-a', ['127.0.0.0/16']));
    await within(3000, async () => [...(await firsts(40))].join() === '10.90.1.1');
  } finally {
    await s.stop();
    await kube.stop();
  }
});

test('--workers 2: SOA serials and IXFR history are the same whichever worker the secondary reaches', async () => {
  const { execFile } = await import('node:child_process');
  const digRaw = (port: number, args: string[]): Promise<string> =>
    new Promise((resolve) => execFile('dig', ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', ...args], (_err, stdout) => resolve(stdout)));
  const s = await startMeshdns(['--upstream', 'none', '--workers', '2', '--transfer-allow', '127.0.0.0/8']);
  try {
    const soa = async (): Promise<number> => Number((await digRaw(s.dnsPort, ['+short', 'linkerd.local', 'SOA'])).trim().split(/\s+/)[2]);
    const s0 = await soa();
    assert.equal((await api(s.httpPort, 'PUT', instancePath('pool', 'ix', 'a'), { address: '10.61.0.1', ports: [] })).status, 200);
    // Every worker holds the new serial (each UDP query reaches one of them).
    let s1 = 0;
    await within(5000, async () => {
      const seen = new Set(await Promise.all(Array.from({ length: 12 }, soa)));
      s1 = [...seen][0]!;
      return seen.size === 1 && s1 > s0;
    }, 50);
    // Transfers over TCP are spread over the workers: each answers IXFR from s0 with the one step.
    for (let i = 0; i < 6; i++) {
      const lines = (await digRaw(s.dnsPort, ['linkerd.local', `IXFR=${s0}`])).split('\n').filter((l) => l !== '' && !l.startsWith(';'));
      const serials = lines.filter((l) => /\sSOA\s/.test(l)).map((l) => Number(l.split(/\s+/)[6]));
      assert.deepEqual(serials, [s1, s0, s1, s1], lines.join('\n'));
      assert.ok(lines.some((l) => /^ix\.pool\.linkerd\.local\.\s+\d+\s+IN\s+A\s+10\.61\.0\.1$/.test(l)));
    }
  } finally {
    await s.stop();
  }
});

test('--workers 2: the primary builds no name tables, yet says once what the plans say: failover (log, metric)', async () => {
  const s = await startMeshdns(['--upstream', 'none', '--workers', '2']);
  try {
    const put = (svc: string, id: string, body: object): Promise<unknown> => api(s.httpPort, 'PUT', instancePath('fo', svc, id), { ports: [], ...body });
    await put('pay-dr', 'd1', { address: '10.61.1.1' });
    await put('pay', 'p1', { address: '10.61.0.1' });
    assert.equal((await api(s.httpPort, 'PUT', '/v1/services/fo/pay/policy', { failover: ['pay-dr.fo'] })).status, 200);
    // pay drained: its clients get the backup, and the primary (not each worker) says so.
    await put('pay', 'p1', { address: '10.61.0.1', weight: 0 });
    await within(2000, async () => decode((await udpExchange(s.dnsPort, buildQuery('pay.fo.linkerd.local')))!).answers[0]?.address === '10.61.1.1');
    await within(2000, async () => /^meshdns_services_failing_over 1$/m.test(await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text()));
    await s.waitForLog(/failing over to a backup service/);
    // Said once: by the primary, not again by each worker.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(s.logs.filter((l) => l.includes('failing over to a backup service')).length, 1);
    const line = JSON.parse(s.logs.find((l) => l.includes('failing over to a backup service'))!) as { service: string; backup: string };
    assert.deepEqual([line.service, line.backup], ['fo/pay', 'pay-dr.fo']);
    await put('pay', 'p1', { address: '10.61.0.1', weight: 100 });
    await within(2000, async () => /^meshdns_services_failing_over 0$/m.test(await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text()));
  } finally {
    await s.stop();
  }
});
