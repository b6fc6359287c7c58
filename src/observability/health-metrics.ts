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
    name: 'meshdns_splits',
    help: 'Services whose names answer a traffic split (a mesh object in force for every client or for some namespaces)',
    registers: [registry],
    collect() {
      // A count, not catalog.keys(): that sorts every service key (a few MB a scrape at 30,000 services).
      this.set(catalog.splitCount);
    },
  });
  new Gauge({
    name: 'meshdns_catalog_services',
    help: 'Services in the catalog',
    registers: [registry],
    collect() {
      this.set(catalog.serviceCount);
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

/**
 * meshdns_service_instances{namespace,service,state}, one series per service and state present, written as
 * Prometheus text straight from the catalog. Through prom-client each scrape hashed a label set per series into
 * the gauge's storage and formatted each line from ~8 intermediate objects: at 33,334 services a scrape left ~30
 * MB of garbage that lived long enough to be promoted, and the heap grew by that between collections (issue 29).
 * Here the lines are written into chunks of CHUNK bytes, handed out one at a time as the response drains: a scrape
 * holds a chunk at a time, not the whole text (2.8 MB at 33,334 services, 13 MB of garbage a scrape when built whole).
 * Names are DNS labels (checked where they enter the catalog); they are escaped anyway, as the exposition format asks.
 */
export function* serviceInstancesChunks(catalog: Catalog): Generator<Buffer> {
  let chunk = Buffer.allocUnsafe(CHUNK);
  let at = chunk.write(
    '# HELP meshdns_service_instances Instances of each service by state (healthy, unhealthy, draining): one series per service and state present\n' +
      '# TYPE meshdns_service_instances gauge\n',
  );
  for (const svc of catalog.all()) {
    let healthy = 0;
    let unhealthy = 0;
    let draining = 0;
    for (const i of svc.instances.values()) {
      const state = instanceState(i);
      if (state === 'healthy') healthy++;
      else if (state === 'unhealthy') unhealthy++;
      else draining++;
    }
    const namespace = escapeLabel(svc.namespace);
    const service = escapeLabel(svc.name);
    // Room for the service's three lines (~80 octets of fixed text each, and the names: ASCII DNS labels, doubled
    // to spare): a chunk is handed out before a line could run past its end.
    if (at + 3 * (120 + 2 * (namespace.length + service.length)) > CHUNK) {
      yield chunk.subarray(0, at);
      chunk = Buffer.allocUnsafe(CHUNK);
      at = 0;
    }
    at = writeSeries(chunk, at, namespace, service, 'healthy', healthy);
    at = writeSeries(chunk, at, namespace, service, 'unhealthy', unhealthy);
    at = writeSeries(chunk, at, namespace, service, 'draining', draining);
  }
  yield chunk.subarray(0, at);
}

const CHUNK = 64 * 1024;

/** One line of meshdns_service_instances at `at` (none for a count of 0); where the next goes. */
function writeSeries(chunk: Buffer, at: number, namespace: string, service: string, state: string, count: number): number {
  if (count === 0) return at;
  let to = at + chunk.write('meshdns_service_instances{namespace="', at, 'latin1');
  to += chunk.write(namespace, to);
  to += chunk.write('",service="', to, 'latin1');
  to += chunk.write(service, to);
  to += chunk.write('",state="', to, 'latin1');
  to += chunk.write(state, to, 'latin1');
  to += chunk.write('"} ', to, 'latin1');
  to += chunk.write(String(count), to, 'latin1');
  chunk[to] = 0x0a;
  return to + 1;
}

/** A label value in the text format: backslash, double quote and newline escaped. */
function escapeLabel(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}
