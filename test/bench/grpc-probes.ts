/**
 * 5,000 instances with gRPC health checks every second, each against a target of its own (127.x.y.z, one
 * channel each), served by a real grpc-js health server in another process: does probing keep up? Reports the
 * probe rate against the schedule, the p99 schedule lag and the prober's CPU. Run: npm run bench:grpc-probes
 * (env BENCH_INSTANCES, BENCH_SECONDS).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pino } from 'pino';
import { CatalogProjection } from '../../src/answers/catalog-projection.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { keyOf } from '../../src/wire/name.js';
import { HealthMonitor } from '../../src/health/health-monitor.js';
import { repoRoot } from '../support/meshdns-process.js';

const instances = Number(process.env.BENCH_INSTANCES ?? 5_000);
const intervalMs = 1000;
const seconds = Number(process.env.BENCH_SECONDS ?? 20);

const targets = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test', 'bench', 'grpc-probe-targets.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise<number>((resolve) => targets.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { port: number }).port)));

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
  const svc = `svc-${i % 500}`;
  const id = `i${i}`;
  catalog.upsert('bench', svc, { id, source: 'rest', address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, ports: [], weight: 100, health: 'healthy' });
  const target = `127.${1 + ((i >> 16) & 255)}.${(i >> 8) & 255}.${i & 255}:${port}`;
  monitor.track({ namespace: 'bench', service: svc, source: 'rest', id }, { grpc: target, grpcService: i % 2 === 0 ? '' : 'bench.v1.Svc', grpcTls: false, intervalMs, timeoutMs: 800, healthyThreshold: 2, unhealthyThreshold: 3 });
}

// Skip the first intervals (first probes spread over one; channels connect), then measure.
await new Promise((r) => setTimeout(r, 3 * intervalMs));
const startProbes = probes;
const startFailures = failures;
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
console.log(`gRPC checks: instances ${instances}, each its own target, interval ${intervalMs} ms, measured ${elapsed.toFixed(1)} s`);
console.log(`probe rate ${achieved.toFixed(0)}/s of ${scheduled.toFixed(0)}/s scheduled (${((100 * achieved) / scheduled).toFixed(1)}%), failures while measured ${failures - startFailures}`);
console.log(`schedule lag p99 ${stats.lagP99Ms.toFixed(0)} ms`);
console.log(`prober CPU ${(((cpu.user + cpu.system) / 1e6 / elapsed) * 100).toFixed(0)}% of one core (${(((cpu.user + cpu.system) / (probes - startProbes))).toFixed(0)} µs a probe)`);
process.exit(0);
