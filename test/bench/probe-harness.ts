import { pino } from 'pino';
import { CatalogProjection } from '../../src/answers/catalog-projection.js';
import { Catalog } from '../../src/catalog/catalog.js';
import type { CheckSpec } from '../../src/catalog/check-spec.js';
import { keyOf } from '../../src/wire/name.js';
import { HealthMonitor } from '../../src/health/health-monitor.js';

/**
 * The probe benchmarks' common part: `instances` instances, each with the check `checkOf(i)`, probed by the
 * real health monitor; the first intervals skipped (first probes spread over one; connections made), then the
 * achieved rate against the schedule, the p99 schedule lag and the prober's CPU measured over `seconds`.
 */
export async function measureProbing(opts: { instances: number; intervalMs: number; seconds: number; skipIntervals: number; checkOf: (i: number) => CheckSpec }): Promise<string[]> {
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
  for (let i = 0; i < opts.instances; i++) {
    const svc = `svc-${i % 1000}`;
    const id = `i${i}`;
    catalog.upsert('bench', svc, { id, source: 'rest', address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, ports: [], weight: 100, health: 'healthy' });
    monitor.track({ namespace: 'bench', service: svc, source: 'rest', id }, opts.checkOf(i));
  }
  await new Promise((r) => setTimeout(r, opts.skipIntervals * opts.intervalMs));
  const startProbes = probes;
  const startFailures = failures;
  const cpuStart = process.cpuUsage();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, opts.seconds * 1000));
  const elapsed = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const stats = monitor.stats();
  monitor.stop();
  const measured = probes - startProbes;
  const achieved = measured / elapsed;
  const scheduled = opts.instances / (opts.intervalMs / 1000);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return [
    `instances ${opts.instances}, interval ${opts.intervalMs} ms, measured ${elapsed.toFixed(1)} s`,
    `probe rate ${achieved.toFixed(0)}/s of ${scheduled.toFixed(0)}/s scheduled (${((100 * achieved) / scheduled).toFixed(1)}%), failures while measured ${failures - startFailures}`,
    `schedule lag p99 ${stats.lagP99Ms.toFixed(0)} ms`,
    `prober CPU ${((cpuSeconds / elapsed) * 100).toFixed(0)}% of one core (${((cpuSeconds * 1e6) / Math.max(1, measured)).toFixed(0)} µs a probe)`,
  ];
}
