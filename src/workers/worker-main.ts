import type { Logger } from 'pino';
import { AggregatorRegistry, collectDefaultMetrics, register } from 'prom-client';
import { compactAfterLoad, handBackMemoryPeriodically, registerMemoryLimitMetrics } from '../observability/memory-limits.js';
import { Catalog } from '../catalog/catalog.js';
import type { Config } from '../config/config.js';
import { applyLiveSettings, createAnswerEngine, listenDns } from '../answer-engine.js';
import { DnsMetrics } from '../observability/dns-metrics.js';
import { applyChanges, applySnapshot, type StateMessage, type WorkerMessage } from './replication.js';

type PrimaryMessage = StateMessage | { type: 'shutdown' } | { type: 'reload'; config: Config };

/**
 * A DNS worker of `--workers N`: answers on the shared listeners from a catalog replica that its primary keeps
 * current (the protocol is in replication.ts: snapshot, then bind, then ordered changes). Metrics go to
 * prom-client's global registry, which the primary aggregates across workers.
 */
export async function runWorker(config: Config, logger: Logger): Promise<void> {
  const send = (m: WorkerMessage): void => void process.send?.(m);
  collectDefaultMetrics();
  registerMemoryLimitMetrics(register, { heap: true, container: false });
  // Constructing one installs prom-client's handler that answers the primary's metric requests.
  new AggregatorRegistry();
  const metrics = new DnsMetrics(register, { rate: config.queryLogRate, logger });
  const catalog = new Catalog();
  const plane = createAnswerEngine(config, logger, catalog, { observer: metrics, ownsCatalog: false });
  let stopping = false;
  let listeners: Awaited<ReturnType<typeof listenDns>> | undefined;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await listeners?.stop(3000);
    plane.zones.stop();
    process.exit(0);
  };
  let seq = -1;
  let awaitingSnapshot = false;
  /** State messages, applied one after the other (a snapshot is applied over several turns of the event loop). */
  let queue: Promise<void> = Promise.resolve();
  const apply = async (m: StateMessage): Promise<void> => {
    if (m.type === 'snapshot') {
      await applySnapshot(catalog, m);
      if (m.serials !== undefined) plane.setSerials(m.serials, true);
      seq = m.seq;
      awaitingSnapshot = false;
      if (listeners === undefined) {
        // The first snapshot is the whole catalog at once: its garbage is collected before the worker answers.
        logger.info(compactAfterLoad(), 'DNS worker heap compacted after its first snapshot');
        handBackMemoryPeriodically();
        await listen();
      }
      else send({ type: 'applied', seq });
      return;
    }
    // Changes before the first snapshot, or while a fresh one is on its way, are in it already.
    if (seq < 0 || awaitingSnapshot) return;
    if (m.seq !== seq + 1) {
      // Out of order: keep answering from the last consistent state and ask for the whole state again.
      awaitingSnapshot = true;
      logger.warn({ expected: seq + 1, got: m.seq }, 'DNS worker missed a catalog change; asking its primary for a full snapshot');
      send({ type: 'resync', expected: seq + 1, got: m.seq });
      return;
    }
    seq = m.seq;
    if (m.type === 'catalog') {
      applyChanges(catalog, m);
      if (m.serials !== undefined) plane.setSerials(m.serials);
    }
    else if (m.type === 'client-zones') catalog.setClientZoneRanges(m.ranges, null);
    else if (m.type === 'cluster-set') catalog.setClusterSet(m.services);
    else catalog.setClientNamespaces(m.entries, null);
  };
  const listen = async (): Promise<void> => {
    try {
      // Each worker its own UDP socket on the shared port (SO_REUSEPORT); TCP stays with the cluster's shared
      // listener (connections are few and long-lived; the primary's round robin spreads them).
      listeners = await listenDns(withAssignedPorts(config), plane.handler, metrics, { reusePort: true });
    } catch (err) {
      send({ type: 'failed', message: (err as Error).message });
      process.exit(2);
    }
    send({ type: 'listening', seq, bound: listeners.bound, udpIo: listeners.udpIo });
  };
  process.on('message', (m: PrimaryMessage | { type?: string }) => {
    const type = m.type;
    if (type === 'snapshot' || type === 'catalog' || type === 'client-zones' || type === 'client-namespaces') {
      queue = queue.then(() => apply(m as StateMessage)).catch((err: unknown) => {
        logger.error({ err: (err as Error).message }, 'DNS worker could not apply its primary\'s state; asking for a full snapshot');
        awaitingSnapshot = true;
        send({ type: 'resync', expected: seq + 1, got: -1 });
      });
    } else if (type === 'shutdown') void stop();
    else if (type === 'reload') {
      applyLiveSettings(plane, (m as { config: Config }).config, listeners?.bound ?? [], logger, metrics);
    }
  });
  // The primary coordinates shutdown; a terminal's Ctrl-C reaches every process of the group.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  process.on('SIGHUP', () => undefined);
  // Orphaned (the primary died): stop answering from a replica nobody updates.
  process.on('disconnect', () => void stop());
  // Ready for the state: nothing is bound until the snapshot is applied.
  send({ type: 'hello' });
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
