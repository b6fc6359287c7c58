/**
 * Soak: minutes of steady DNS load at half the measured peak, with 100 REST
 * registrations or deregistrations a second and health probes flipping, on
 * 1,000 live services. It fails (exit 1) if a live name gets anything but
 * NOERROR, more than 0.1% of queries are lost, a REST write fails, or the
 * resident memory grows more than 10% after warm-up; it reports event-loop lag.
 * Memory is judged by peaks: V8 lets the heap grow until a major collection,
 * so RSS is a sawtooth; after a warm-up of 30% of the run, the highest RSS of
 * the second half of the rest may exceed that of the first half by 10% at most.
 * Run: npm run soak (env SOAK_SECONDS=600, SOAK_QPS=<default: half the peak>,
 * SOAK_CHURN=100 per second, SOAK_WORKERS=<meshdns --workers>).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMeshdns } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';

const seconds = Number(process.env.SOAK_SECONDS ?? 600);
const churnPerSecond = Number(process.env.SOAK_CHURN ?? 100);
const workers = process.env.SOAK_WORKERS;
const SERVICES = 1000;
const PROBED = 40;
const dir = mkdtempSync(join(tmpdir(), 'meshdns-soak-'));

const address = (svc: number, i: number): string => `10.${100 + Math.floor(svc / 250)}.${svc % 250}.${i + 1}`;

// ---- live names only: every query should get NOERROR
const queries: string[] = [];
for (let q = 0; q < 20_000; q++) {
  const s = (q * 7919) % SERVICES;
  queries.push(q % 10 < 7 ? `svc-${s}.soak.linkerd.local A` : `_http._tcp.svc-${s}.soak.linkerd.local SRV`);
}
const queryFile = join(dir, 'queries.txt');
writeFileSync(queryFile, queries.join('\n') + '\n');

interface PerfResult {
  qps: number;
  sent: number;
  completed: number;
  lost: number;
  rcodes: Record<string, number>;
  avgMs: number;
}

function parsePerf(out: string): PerfResult {
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  const rcodes: Record<string, number> = {};
  const line = /Response codes:\s+(.*)/.exec(out)?.[1] ?? '';
  for (const m of line.matchAll(/([A-Z]+) (\d+)/g)) rcodes[m[1]!] = Number(m[2]);
  return {
    qps: num(/Queries per second:\s+([\d.]+)/),
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    rcodes,
    avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
  };
}

const perfArgs = (port: number, secs: number): string[] => ['-s', '127.0.0.1', '-p', String(port), '-d', queryFile, '-l', String(secs), '-c', '8', '-q', '500'];

// ---- probe targets that flip between healthy and failing, staggered
const targets: { server: Server; port: number; healthy: boolean }[] = [];
for (let i = 0; i < PROBED; i++) {
  const t = { server: createServer((_req, res) => res.writeHead(t.healthy ? 200 : 503).end()), port: 0, healthy: true };
  await new Promise<void>((r) => t.server.listen(0, '127.0.0.1', () => r()));
  t.port = (t.server.address() as { port: number }).port;
  targets.push(t);
}

const s = await startMeshdns(['--upstream', 'none', '--zones', mkdtempSync(join(tmpdir(), 'meshdns-soak-zones-')), '--data-dir', join(dir, 'data'), ...(workers ? ['--workers', workers] : [])]);
const rssKb = (): number => {
  let total = 0;
  const pids = [s.proc.pid!];
  try {
    pids.push(...execFileSync('pgrep', ['-P', String(s.proc.pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number));
  } catch {
    // no children: one process
  }
  for (const pid of pids) total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return total;
};

for (let svc = 0; svc < SERVICES; svc++) {
  await Promise.all([50, 30, 20].map((weight, i) => api(s.httpPort, 'PUT', instancePath('soak', `svc-${svc}`, `i${i}`), { address: address(svc, i), weight, ports: [{ name: 'http', port: 8080 }] })));
}
for (let i = 0; i < PROBED; i++) {
  const res = await api(s.httpPort, 'PUT', instancePath('soak', `svc-${i}`, 'probed'), {
    address: `10.99.0.${i + 1}`,
    ports: [{ name: 'http', port: 8080 }],
    check: { http: `http://127.0.0.1:${targets[i]!.port}/health`, interval: '1s', timeout: '500ms' },
  });
  if (res.status !== 200) throw new Error(`probed registration failed: ${JSON.stringify(res.body)}`);
}
console.log(`registered ${SERVICES * 3} live instances and ${PROBED} probed ones; RSS ${(rssKb() / 1024).toFixed(0)} MB`);

const peak = parsePerf(execFileSync('dnsperf', perfArgs(s.dnsPort, 5), { encoding: 'utf8' })).qps;
const rate = Number(process.env.SOAK_QPS ?? Math.round(peak / 2));
console.log(`peak ${peak.toFixed(0)} qps; soaking ${seconds} s at ${rate} qps with ${churnPerSecond} registrations or deregistrations per second and ${PROBED} probe targets flipping`);

// ---- the soak
const perf = spawn('dnsperf', [...perfArgs(s.dnsPort, seconds), '-Q', String(rate)], { stdio: ['ignore', 'pipe', 'inherit'] });
let perfOut = '';
perf.stdout.on('data', (d: Buffer) => (perfOut += d.toString()));
const perfDone = new Promise<void>((r) => perf.on('exit', () => r()));

const started = Date.now();
const running = (): boolean => Date.now() - started < seconds * 1000;
let restOps = 0;
const restErrors: string[] = [];
const churn = (async () => {
  const live = new Set<number>();
  let next = 0;
  while (running()) {
    const tick = Date.now();
    // Keep about 500 churn instances: register new ones, deregister old ones, alternately.
    const removing = live.size >= 500 || (live.size > 0 && restOps % 2 === 1);
    const k = removing ? live.values().next().value! : next++;
    const path = instancePath('soak', `svc-${k % SERVICES}`, `churn-${k}`);
    const res = removing ? await api(s.httpPort, 'DELETE', path) : await api(s.httpPort, 'PUT', path, { address: `10.200.${(k >> 8) & 255}.${k & 255}`, weight: 10, ports: [{ name: 'http', port: 8080 }] });
    if (res.status !== (removing ? 204 : 200)) restErrors.push(`${removing ? 'DELETE' : 'PUT'} ${path}: ${res.status}`);
    if (removing) live.delete(k);
    else live.add(k);
    restOps++;
    const wait = 1000 / churnPerSecond - (Date.now() - tick);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
})();
const flips = setInterval(() => {
  const t = targets[Math.floor(Math.random() * targets.length)]!;
  t.healthy = !t.healthy;
}, 500);

interface Sample {
  at: number;
  rssMb: number;
  heapMb: number;
  lagP99Ms: number;
}
/** prom-client samples the loop with a 10 ms timer and records whole intervals: the lag is what exceeds them. */
const LAG_RESOLUTION_MS = 10;
const metric = (text: string, name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+-]+)`, 'm').exec(text)?.[1] ?? NaN);
const samples: Sample[] = [];
while (running()) {
  await new Promise((r) => setTimeout(r, 5000));
  const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  const lag = Math.max(0, metric(metrics, 'nodejs_eventloop_lag_p99_seconds') * 1000 - LAG_RESOLUTION_MS);
  samples.push({ at: (Date.now() - started) / 1000, rssMb: rssKb() / 1024, heapMb: metric(metrics, 'nodejs_heap_size_used_bytes') / 2 ** 20, lagP99Ms: lag });
  const last = samples[samples.length - 1]!;
  console.log(`t=${last.at.toFixed(0).padStart(4)} s  RSS ${last.rssMb.toFixed(0)} MB  heap used ${last.heapMb.toFixed(0)} MB  event-loop lag p99 ${last.lagP99Ms.toFixed(1)} ms  REST ops ${restOps}`);
}
await churn;
clearInterval(flips);
await perfDone;
const probes = /meshdns_probes_total\{kind="http",result="fail[^}]*\} (\d+)/.exec(await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text())?.[1] ?? '?';
await s.stop();
for (const t of targets) t.server.close();

// ---- verdict
const r = parsePerf(perfOut);
const warm = samples.filter((x) => x.at >= seconds * 0.3);
const half = Math.floor(warm.length / 2);
const peakOf = (xs: Sample[]): number => Math.max(...xs.map((x) => x.rssMb));
const floorOf = (xs: Sample[]): number => Math.min(...xs.map((x) => x.rssMb));
const [early, late] = [warm.slice(0, half), warm.slice(half)];
const growth = (peakOf(late) - peakOf(early)) / peakOf(early);
const lags = samples.map((x) => x.lagP99Ms).sort((a, b) => a - b);
const notNoerror = Object.entries(r.rcodes).filter(([k]) => k !== 'NOERROR').reduce((n, [, v]) => n + v, 0);
const lostShare = r.lost / r.sent;
console.log('');
console.log(`queries: ${r.sent} sent at ${r.qps.toFixed(0)} qps, ${r.completed} answered, ${r.lost} lost (${(lostShare * 100).toFixed(3)}%), response codes ${JSON.stringify(r.rcodes)}, avg latency ${r.avgMs.toFixed(3)} ms`);
console.log(`REST: ${restOps} registrations and deregistrations (${(restOps / seconds).toFixed(0)}/s), ${restErrors.length} failed; failed HTTP probes seen: ${probes}`);
console.log(`RSS after warm-up (${warm[0]?.at.toFixed(0)} s on): peak ${peakOf(early).toFixed(0)} MB then ${peakOf(late).toFixed(0)} MB (${(growth * 100).toFixed(1)}%), floor ${floorOf(early).toFixed(0)} MB then ${floorOf(late).toFixed(0)} MB`);
console.log(`event-loop lag p99 per 5 s window: median ${lags[Math.floor(lags.length / 2)]!.toFixed(1)} ms, worst ${lags[lags.length - 1]!.toFixed(1)} ms`);
const failures = [
  notNoerror > 0 ? `${notNoerror} answers other than NOERROR for live names` : '',
  lostShare > 0.001 ? `${(lostShare * 100).toFixed(3)}% of queries lost` : '',
  restErrors.length > 0 ? `REST failures: ${restErrors.slice(0, 3).join('; ')}` : '',
  !(growth <= 0.1) ? `RSS peaks grew ${(growth * 100).toFixed(1)}% after warm-up` : '',
].filter(Boolean);
console.log(failures.length === 0 ? 'soak passed' : `soak FAILED: ${failures.join('; ')}`);
process.exit(failures.length === 0 ? 0 : 1);
