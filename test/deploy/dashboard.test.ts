import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { buildQuery, udpExchange } from '../support/dns-client.js';
import { endpointSlice, FakeKubeApiServer, crdResource, httpRoute, MESH_CRDS, service } from '../support/fake-kube-apiserver.js';
import { freePort } from '../support/free-port.js';
import { KnotServer } from '../support/knot.js';
import { repoRoot, startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { ProbeTarget } from '../support/probe-target.js';
import { api, instancePath } from '../support/rest-client.js';
import { within } from '../support/poll.js';

/**
 * The shipped Grafana dashboard (deploy/kubernetes/components/grafana-dashboard/meshdns.json): every query parses
 * (promtool), names only metrics meshdns exports, and returns data from a real Prometheus (Debian `prometheus`)
 * scraping a meshdns under load that has every source at work (Kubernetes with a mesh split, REST writes, health
 * probes, forwarding to a real upstream).
 */
interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}
const dashboard = JSON.parse(readFileSync(join(repoRoot, 'deploy', 'kubernetes', 'components', 'grafana-dashboard', 'meshdns.json'), 'utf8')) as { panels: Panel[] };
const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
/** Grafana's range variable, as Prometheus sees it after Grafana substitutes it (a scrape every second here). */
const concrete = (expr: string): string => expr.replaceAll('$__rate_interval', '5s');

let upstream: KnotServer;
let kube: FakeKubeApiServer;
let target: ProbeTarget;
let s: MeshdnsProcess;
let prometheus: ChildProcess;
let promPort: number;

before(async () => {
  upstream = await KnotServer.start({ 'example.test': '$TTL 60\n@ SOA ns hostmaster 1 60 60 60 60\n@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.10\n' }, 'www.example.test');
  kube = await FakeKubeApiServer.start();
  kube.installCrd(MESH_CRDS.httproutes);
  for (const [name, address] of [['web', '10.95.0.1'], ['web-canary', '10.95.0.2']] as const) {
    kube.apply('services', service('shop', name));
    kube.apply('endpointslices', endpointSlice('shop', `${name}-1`, name, [{ address }]));
  }
  kube.apply(crdResource(MESH_CRDS.httproutes), httpRoute('shop', 'canary', 'web', [['web', 90], ['web-canary', 10]]));
  target = await ProbeTarget.start();
  s = await startMeshdns(['--upstream', `127.0.0.1:${upstream.port}`, '--kubernetes', 'on', '--kubeconfig', kube.kubeconfig(), '--kubernetes-discovery-interval', '200ms']);
  await within(10_000, async () => (await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status === 200);
  promPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'meshdns-prometheus-'));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({ global: { scrape_interval: '1s', evaluation_interval: '1s' }, scrape_configs: [{ job_name: 'meshdns', static_configs: [{ targets: [`127.0.0.1:${s.httpPort}`] }] }] }),
  );
  prometheus = spawn('prometheus', ['--config.file', join(dir, 'prometheus.yml'), '--storage.tsdb.path', join(dir, 'data'), '--web.listen-address', `127.0.0.1:${promPort}`], { stdio: 'ignore' });
});
after(async () => {
  prometheus?.kill();
  await s?.stop();
  await kube?.stop();
  await upstream?.stop();
  await target?.stop();
});

test('every dashboard query parses (promtool check rules)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshdns-dashboard-'));
  const rules = { groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `meshdns:dashboard_query_${i}`, expr: concrete(q.expr) })) }] };
  writeFileSync(join(dir, 'rules.yaml'), stringify(rules));
  execFileSync('promtool', ['check', 'rules', join(dir, 'rules.yaml')], { encoding: 'utf8' });
});

test('every metric a query names is one meshdns exports', async () => {
  const exported = new Set([...((await api(s.httpPort, 'GET', '/metrics')).body as string).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  for (const { panel, expr } of queries) {
    const names = [...expr.matchAll(/\b((?:meshdns|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));
    assert.ok(names.length > 0, `${panel}: ${expr}`);
    for (const name of names) assert.ok(exported.has(name), `${panel}: ${name} is not exported`);
  }
});

test('a real Prometheus scraping a meshdns under load returns data for every panel query', async () => {
  // Load from every side: answers, NXDOMAIN, forwarded (cached the second time), a short packet, REST writes
  // (accepted and refused), and an instance with an HTTP health check.
  assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'api', 'a'), { address: '10.95.1.1', ports: [], check: { http: target.url, interval: '200ms', timeout: '100ms' } })).status, 200);
  assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'api', 'bad'), { address: 'nope', ports: [] })).status, 400);
  const until = Date.now() + 8000;
  let sent = 0;
  while (Date.now() < until) {
    const name = ['web.shop.linkerd.local', 'api.shop.linkerd.local', 'nothing.shop.linkerd.local', 'www.example.test'][sent++ % 4]!;
    await udpExchange(s.dnsPort, buildQuery(name, { id: sent & 0xffff, type: sent % 8 === 0 ? 28 : 1 }), 1000);
    if (sent % 500 === 0) await udpExchange(s.dnsPort, Buffer.from([1, 2, 3]), 50).catch(() => null);
  }
  const empty: string[] = [];
  await within(
    20_000,
    async () => {
      empty.length = 0;
      for (const { panel, expr } of queries) {
        const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(concrete(expr).replaceAll('[5s]', '[30s]'))}`);
        const body = (await res.json()) as { status: string; data: { result: unknown[] } };
        if (body.status !== 'success' || body.data.result.length === 0) empty.push(`${panel}: ${expr}`);
      }
      return empty.length === 0;
    },
    1000,
  ).catch(() => assert.fail(`no data for:\n${empty.join('\n')}`));
});
