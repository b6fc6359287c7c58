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
      this.reset();
      for (const svc of catalog.all()) for (const i of svc.instances.values()) this.inc({ source: i.source, state: instanceState(i) });
    },
  });
  new Gauge({
    name: 'meshdns_service_instances',
    help: 'Instances of each service by state (healthy, unhealthy, draining): one series per service and state present',
    labelNames: ['namespace', 'service', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const svc of catalog.all()) for (const i of svc.instances.values()) this.inc({ namespace: svc.namespace, service: svc.name, state: instanceState(i) });
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
