import type { Logger } from 'pino';
import { AggregatorRegistry, collectDefaultMetrics, register } from 'prom-client';
import { Catalog } from '../catalog/catalog.js';
import type { Config } from '../config/config.js';
import { createDnsPlane, listenDns } from '../dns-plane.js';
import { DnsMetrics } from '../observability/dns-metrics.js';
import { applySnapshot, type CatalogMessage, type ClientZonesMessage, type ClientNamespacesMessage } from './replication.js';
import type { WorkerMessage } from './worker-pool.js';

type PrimaryMessage = CatalogMessage | ClientZonesMessage | { type: 'shutdown' } | { type: 'reload'; config: Config };

/**
 * A DNS worker of `--workers N`: answers on the shared listeners from a
 * catalog replica that its primary keeps current. Metrics go to prom-client's
 * global registry, which the primary aggregates across workers.
 */
export async function runWorker(config: Config, logger: Logger): Promise<void> {
  const send = (m: WorkerMessage): void => void process.send?.(m);
  collectDefaultMetrics();
  // Constructing one installs prom-client's handler that answers the primary's metric requests.
  new AggregatorRegistry();
  const metrics = new DnsMetrics(register, { rate: config.queryLogRate, logger });
  const catalog = new Catalog();
  const plane = createDnsPlane(config, logger, catalog, { observer: metrics, zonesFeedCatalog: false });
  let stopping = false;
  let listeners: Awaited<ReturnType<typeof listenDns>> | undefined;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await listeners?.stop(3000);
    plane.zones.stop();
    process.exit(0);
  };
  process.on('message', (m: PrimaryMessage | { type?: string }) => {
    if (m.type === 'catalog') applySnapshot(catalog, m as CatalogMessage);
    else if (m.type === 'client-zones') catalog.setClientZoneRanges((m as ClientZonesMessage).ranges);
    else if (m.type === 'client-namespaces') catalog.setClientNamespaces((m as ClientNamespacesMessage).entries);
    else if (m.type === 'shutdown') void stop();
    else if (m.type === 'reload') {
      const next = (m as { config: Config }).config;
      logger.level = next.logLevel;
      metrics.queryLog.rate = next.queryLogRate;
      plane.applyForwarding(next, listeners?.bound ?? []);
      plane.zones.reload();
    }
  });
  // The primary coordinates shutdown; a terminal's Ctrl-C reaches every process of the group.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  process.on('SIGHUP', () => undefined);
  // Orphaned (the primary died): stop answering from a replica nobody updates.
  process.on('disconnect', () => void stop());
  try {
    // Each worker its own UDP socket on the shared port (SO_REUSEPORT); TCP stays with the cluster's shared
    // listener (connections are few and long-lived; the primary's round robin spreads them).
    listeners = await listenDns(withAssignedPorts(config), plane.handler, metrics, { reusePort: true });
  } catch (err) {
    send({ type: 'failed', message: (err as Error).message });
    process.exit(2);
  }
  send({ type: 'listening', bound: listeners.bound });
}

/**
 * The first worker binds --dns addresses given with port 0 and reports the ports; the primary starts the
 * others with them in MESHDNS_WORKER_DNS_PORTS, so every worker's socket joins the same port.
 */
function withAssignedPorts(config: Config): Config {
  const assigned = process.env.MESHDNS_WORKER_DNS_PORTS;
  if (assigned === undefined) return config;
  const ports = JSON.parse(assigned) as number[];
  return { ...config, dns: config.dns.map((a, i) => ({ ...a, port: ports[i] ?? a.port })) };
}
