import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Catalog } from '../catalog/catalog.js';
import { instanceState } from '../catalog/types.js';
import type { ProbeObserver } from '../health/health-monitor.js';
import type { SchedulerStats } from '../health/probe-scheduler.js';

/**
 * Probe and catalog metrics. Gauges are computed when Prometheus scrapes,
 * from the catalog itself, so they can never drift from what DNS answers.
 */
export function registerHealthMetrics(
  registry: Registry,
  catalog: Catalog,
  servicesInPanic: () => number,
  schedulerStats: () => SchedulerStats,
): ProbeObserver {
  const probes = new Counter({ name: 'meshdns_probes_total', help: 'Health probes run, by kind (http, tcp, grpc) and result (pass, fail)', labelNames: ['kind', 'result'], registers: [registry] });
  const duration = new Histogram({
    name: 'meshdns_probe_duration_seconds',
    help: 'Health probe duration',
    labelNames: ['kind'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'meshdns_catalog_instances',
    help: 'Instances in the catalog by source and state',
    labelNames: ['source', 'state'],
    registers: [registry],
    collect() {
      // Counted here, set once per label set: an inc() per instance hashed a label object each, ~5 MB of garbage a
      // scrape at 100,000 instances.
      const counts = new Map<string, number>();
      for (const svc of catalog.all()) for (const i of svc.instances.values()) {
        const key = `${i.source}\u0000${instanceState(i)}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      this.reset();
      for (const [key, n] of counts) {
        const [source, state] = key.split('\u0000') as [string, string];
        this.set({ source, state }, n);
      }
    },
  });
  new Gauge({
    name: 'meshdns_service_instances',
    help: 'Instances of each service by state (healthy, unhealthy, draining): one series per service and state present',
    labelNames: ['namespace', 'service', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      // One set() per service and state present, counted first: an inc() per instance was three times the label
      // hashing (at 100,000 instances a scrape made ~30 MB of garbage with the source gauge above).
      const counts = new Map<string, number>();
      for (const svc of catalog.all()) {
        counts.clear();
        for (const i of svc.instances.values()) {
          const state = instanceState(i);
          counts.set(state, (counts.get(state) ?? 0) + 1);
        }
        for (const [state, n] of counts) this.set({ namespace: svc.namespace, service: svc.name, state }, n);
      }
    },
  });
  new Gauge({
    name: 'meshdns_splits',
    help: 'Services whose names answer a traffic split (a mesh object in force for every client or for some namespaces)',
    registers: [registry],
    collect() {
      let n = 0;
      for (const key of catalog.keys()) if (catalog.splitOf(key) !== undefined) n++;
      this.set(n);
    },
  });
  new Gauge({
    name: 'meshdns_catalog_services',
    help: 'Services in the catalog',
    registers: [registry],
    collect() {
      let n = 0;
      for (const _ of catalog.all()) n++;
      this.set(n);
    },
  });
  new Gauge({
    name: 'meshdns_services_in_panic',
    help: 'Services whose every instance fails its probes (answered per --all-unhealthy)',
    registers: [registry],
    collect() {
      this.set(servicesInPanic());
    },
  });
  new Gauge({
    name: 'meshdns_probe_schedule_lag_p99_seconds',
    help: 'How far behind schedule recent probes started (99th percentile)',
    registers: [registry],
    collect() {
      this.set(schedulerStats().lagP99Ms / 1000);
    },
  });
  return (kind, result) => {
    probes.inc({ kind, result: result.ok ? 'pass' : 'fail' });
    duration.observe({ kind }, result.durationMs / 1000);
  };
}
