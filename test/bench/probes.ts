/**
 * 10,000 instances with HTTP checks every 5 s against local targets: does
 * probing keep up? Reports achieved probe rate against the schedule, p99
 * schedule lag and the CPU the prober used. Run: npm run bench:probes
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pino } from 'pino';
import { CatalogProjection } from '../../src/answers/catalog-projection.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { keyOf } from '../../src/wire/name.js';
import { HealthMonitor } from '../../src/health/health-monitor.js';
import { repoRoot } from '../support/meshdns-process.js';

const instances = Number(process.env.BENCH_INSTANCES ?? 10_000);
const intervalMs = 5000;
const seconds = Number(process.env.BENCH_SECONDS ?? 30);

const targets = spawn(process.execPath, [join(repoRoot, 'test', 'bench', 'probe-targets.mjs'), '8'], { stdio: ['ignore', 'pipe', 'inherit'] });
const ports = await new Promise<number[]>((resolve) => targets.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { ports: number[] }).ports)));

const catalog = new Catalog();
new CatalogProjection(catalog, new Map(), [keyOf('linkerd.local')], 5);
let probes = 0;
let failures = 0;
const monitor = new HealthMonitor(catalog, pino({ level: 'warn' }), {
  concurrency: 256,
  observer: (_kind, result) => {
    probes++;
    if (!result.ok) failures++;
  },
});
for (let i = 0; i < instances; i++) {
  const svc = `svc-${i % 1000}`;
  const id = `i${i}`;
  catalog.upsert('bench', svc, { id, source: 'rest', address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, ports: [], weight: 100, health: 'healthy' });
  monitor.track({ namespace: 'bench', service: svc, source: 'rest', id }, { http: `http://127.0.0.1:${ports[i % ports.length]}/healthz`, intervalMs, timeoutMs: 1000, healthyThreshold: 2, unhealthyThreshold: 3 });
}

// Skip the first interval (first probes are spread over it), then measure.
await new Promise((r) => setTimeout(r, intervalMs));
const startProbes = probes;
const cpuStart = process.cpuUsage();
const t0 = Date.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
const elapsed = (Date.now() - t0) / 1000;
const cpu = process.cpuUsage(cpuStart);
const stats = monitor.stats();
monitor.stop();
targets.kill();

const achieved = (probes - startProbes) / elapsed;
const scheduled = instances / (intervalMs / 1000);
console.log(`instances ${instances}, interval ${intervalMs} ms, measured ${elapsed.toFixed(1)} s`);
console.log(`probe rate ${achieved.toFixed(0)}/s of ${scheduled.toFixed(0)}/s scheduled (${((100 * achieved) / scheduled).toFixed(1)}%), failures ${failures}`);
console.log(`schedule lag p99 ${stats.lagP99Ms.toFixed(0)} ms`);
console.log(`prober CPU ${(((cpu.user + cpu.system) / 1e6 / elapsed) * 100).toFixed(0)}% of one core`);
process.exit(0);
