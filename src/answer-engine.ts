import type { Logger } from 'pino';
import { ZoneSerials } from './answers/zone-serials.js';
import { ZoneHistory } from './answers/zone-history.js';
import { ClientClusters } from './answers/client-clusters.js';
import { clusterSetZone } from './answers/clusterset-zone.js';
import type { ClusterSetService } from './catalog/clusterset.js';
import type { StaticZone } from './answers/resolver.js';
import { Notifier } from './dns/notifier.js';
import { readTsigKeyFile } from './config/tsig-key-file.js';
import type { DnsMetrics } from './observability/dns-metrics.js';
import { CatalogProjection } from './answers/catalog-projection.js';
import { watchPlanStates, type PlanStateView } from './answers/plan-states.js';
import type { SkippedRecord } from './answers/instance-names.js';
import { seededRandom, unpredictableRandom } from './answers/random.js';
import { VersionedNameTable } from './answers/name-table.js';
import { Resolver } from './answers/resolver.js';
import { ReverseNames, reverseZoneOf } from './answers/reverse-names.js';
import { ClientZones } from './answers/client-zones.js';
import { keyOf } from './wire/name.js';
import type { Catalog } from './catalog/catalog.js';
import { allowList, ConfigError, type Config, type RrlConfig } from './config/config.js';
import { UpstreamForwarder } from './dns/forward/forwarder.js';
import { ResponseCache } from './dns/forward/response-cache.js';
import { isOwnListener, resolvConfUpstreams } from './dns/forward/system-upstreams.js';
import { upstreamText, type Upstream } from './dns/forward/upstream.js';
import { nameServerAddresses, type ListenAddress } from './config/listen-address.js';
import { QueryHandler, type QueryObserver } from './dns/query-handler.js';
import { TcpListener } from './dns/tcp-listener.js';
import { UdpListener, type UdpRateLimit } from './dns/udp-listener.js';
import { chooseUdpIo, type UdpIoChoice } from './dns/udp-batch.js';
import { ResponseRateLimiter } from './dns/rate-limit/response-rate-limiter.js';
import { ZoneDirectory, zoneKeys } from './sources/zonefile/zone-directory.js';

/** Upstreams to use: the flag's, else resolv.conf's minus ourselves (a loop), else none. */
export function chooseUpstreams(config: Config, listeners: readonly ListenAddress[], logger: Logger): Upstream[] {
  if (config.upstreams !== undefined) {
    for (const u of config.upstreams) {
      if (isOwnListener(u, listeners)) {
        throw new ConfigError(`--upstream ${upstreamText(u)} is this server's own listener: forwarding to it would loop`);
      }
    }
    return [...config.upstreams];
  }
  const system = resolvConfUpstreams();
  const usable = system.filter((u) => !isOwnListener(u, listeners));
  if (usable.length < system.length) {
    logger.warn({ skipped: system.filter((u) => !usable.includes(u)).map(upstreamText) }, 'resolv.conf names this server itself; skipping it to avoid a forwarding loop');
  }
  return usable;
}

export interface AnswerEngine {
  readonly resolver: Resolver;
  /** Panic and failover states of the plans (the name tables', or the primary's own without them). */
  readonly states: PlanStateView;
  readonly zones: ZoneDirectory;
  readonly handler: QueryHandler;
  readonly upstreams: Upstream[];
  /** The mesh zones' SOA serials (transfers, NOTIFY). */
  readonly serials: ZoneSerials;
  readonly notifier: Notifier;
  /**
   * A serial another replica of a shared store stamped: taken when above ours (secondaries told). False when not
   * (nothing to pass on).
   */
  adoptSerial(zoneKey: string, serial: number): boolean;
  /** A worker takes its primary's serials; `snapshot`: after a whole snapshot (the zones' history starts over). */
  setSerials(entries: readonly (readonly [string, number])[], snapshot?: boolean): void;
  zonesLoaded(): boolean;
  /** Re-applies forwarding settings from a reloaded config. */
  applyForwarding(next: Config, listeners: readonly ListenAddress[]): void;
}

/**
 * What a SIGHUP changes in a process that answers (the single process, or each worker): the log level, the query
 * log, forwarding, and the zone files read again. One place for both, so they cannot drift apart.
 */
export function applyLiveSettings(plane: AnswerEngine, next: Config, listeners: readonly ListenAddress[], logger: Logger, metrics: DnsMetrics | undefined): void {
  logger.level = next.logLevel;
  if (metrics !== undefined) metrics.queryLog.rate = next.queryLogRate;
  plane.applyForwarding(next, listeners);
  plane.zones.reload();
}

/**
 * Everything that turns the catalog and zone files into answers: name
 * tables, projection, zone directory, resolver, forwarder, query handler.
 * One per process that answers (the single process, or each worker); the
 * primary of a worker pool builds one too, for zone-file services and panic
 * state, without listeners.
 */
export function createAnswerEngine(
  config: Config,
  logger: Logger,
  catalog: Catalog,
  opts: {
    observer?: QueryObserver;
    ownsCatalog: boolean;
    /**
     * False for a worker pool's primary: it answers no DNS, so it builds no name tables (its workers do, each a
     * replica) and keeps only the plans' panic and failover states and the records that cannot be built.
     */
    answers?: boolean;
    onZoneLoad?: (ok: boolean) => void;
    onSkippedRecord?: () => void;
  },
): AnswerEngine {
  const answers = opts.answers ?? true;
  // Mesh zone serials: the process that owns the catalog stamps each change and keeps the last across restarts;
  // workers take the primary's (replication).
  const serials = opts.ownsCatalog ? ZoneSerials.inDataDir(zoneKeys(config.domains), config.dataDir) : new ZoneSerials(zoneKeys(config.domains), undefined);
  const dynamicNames = new VersionedNameTable();
  const meshZones = zoneKeys(config.domains);
  const reverseZones = config.reverseCidrs.map((cidr) => keyOf(reverseZoneOf(cidr)));
  const reverse = config.reverseLookups && answers ? new ReverseNames(config.ttl, reverseZones) : undefined;
  const resolver = new Resolver(dynamicNames, reverse);
  // Consumer routes: the namespace of the Pod at the client's address (Pods are watched when routes need them).
  resolver.namespaceOf = (address) => catalog.clientNamespaceOf(address);
  // What changed between serials, for IXFR: kept only where transfers are allowed (it costs each rebuild a diff).
  const history = config.transferAllow.length > 0 && answers ? new ZoneHistory() : undefined;
  /**
   * Serials moved (a change stamped, or a primary's taken): the records gathered since are the version step from
   * the serials `before`; undefined: the history starts over.
   */
  const serialsMoved = (before: ReadonlyMap<string, number> | undefined): void => {
    for (const apex of resolver.zoneApexes()) serials.patch(apex);
    if (history === undefined) return;
    for (const zoneKey of meshZones) {
      const from = before?.get(zoneKey);
      const to = serials.serialOf(zoneKey);
      if (from === undefined || to === undefined) history.reset(zoneKey);
      else history.commit(zoneKey, from, to);
    }
  };
  const soft = { k: config.healthK, theta: config.healthTheta };
  const onPanic = (service: string, panic: boolean, mode: 'serve-all' | 'serve-none'): void => {
    // Workers apply the same catalog: only the process that owns it speaks of it.
    if (!opts.ownsCatalog) return;
    if (panic) logger.warn({ service, mode }, mode === 'serve-all' ? 'every instance fails its probes: answering them all (panic mode)' : 'every instance fails its probes: answering none (--all-unhealthy serve-none)');
    else logger.info({ service }, 'service left panic mode');
  };
  const onFailover = (service: string, backup: string | undefined): void => {
    if (!opts.ownsCatalog) return;
    if (backup !== undefined) logger.warn({ service, backup }, 'no instance to answer: failing over to a backup service');
    else logger.info({ service }, 'failover ended: answering the service\'s own instances');
  };
  const onSkipped = ({ service, instance, reason }: SkippedRecord): void => {
    if (!opts.ownsCatalog) return;
    opts.onSkippedRecord?.();
    logger.error({ service, instance, problem: reason }, 'record left out of the answers; the rest of the service is answered');
  };
  const states: PlanStateView = answers
    ? new CatalogProjection(catalog, dynamicNames, meshZones, config.ttl, {
        reverse,
        onRebuilt: history === undefined ? undefined : (zoneKey, svcKey, before, after) => history.rebuilt(zoneKey, svcKey, before, after),
        soft,
        allUnhealthy: config.allUnhealthy,
        multiCluster: config.kubernetesClusters.length > 0 || config.clientClusters.length > 0,
        onPanic,
        onFailover,
        onSkipped,
      })
    : watchPlanStates(catalog, meshZones, { soft, allUnhealthy: config.allUnhealthy, onPanic, onFailover, onSkipped });
  let loaded = false;
  // The static zones: the zone files' and, with --clusterset-domain, the cluster-set zone built from ServiceImports.
  let fileZones: readonly StaticZone[] = [];
  let clusterSet: StaticZone | undefined;
  const setStatic = (): void => resolver.setStaticZones(clusterSet === undefined ? fileZones : [...fileZones.filter((z) => z.apex.key !== clusterSet!.apex.key), clusterSet]);
  // The cluster-set zone is for answering: a worker pool's primary answers nothing and builds none.
  if (config.clustersetDomain !== undefined && answers) {
    const domainKey = keyOf(config.clustersetDomain);
    const build = (services: readonly ClusterSetService[]): void => {
      const built = clusterSetZone(domainKey, services, config.ttl);
      clusterSet = built.zone;
      reverse?.setService('\u0000clusterset', built.ptr);
      setStatic();
    };
    build(catalog.clusterSet());
    catalog.onClusterSet(build);
  }
  const zones = new ZoneDirectory({
    dir: config.zonesDir,
    meshZones,
    ttl: config.ttl,
    nsAddresses: nameServerAddresses(config.nsAddresses, config.dns),
    reverseZones,
    logger,
    onSnapshot: (snapshot) => {
      fileZones = snapshot.zones;
      setStatic();
      // A zone file's SOA carries the file's serial: a mesh zone's is the catalog's. Zone-file records are not
      // tracked one by one: the history starts over (an IXFR from before is answered with the whole zone).
      serialsMoved(undefined);
      if (opts.ownsCatalog) {
        try {
          catalog.replaceSource('zonefile', snapshot.instances);
        } catch (err) {
          logger.error({ err: (err as Error).message }, 'zone file services were rejected by the catalog');
        }
      }
      loaded = true;
    },
    onLoad: opts.onZoneLoad,
    quiet: !opts.ownsCatalog,
  });
  zones.start();

  const tsigKey = config.tsigKeyFile === undefined ? undefined : readTsigKeyFile(config.tsigKeyFile);
  const notifier = new Notifier(config.notify, (key) => resolver.zoneApexes().find((a) => a.key === key), logger, tsigKey);
  if (opts.ownsCatalog) {
    // Every change of what the zones serve: a new serial in each mesh zone (after the name tables were rebuilt),
    // and the secondaries told.
    catalog.onChange(() => {
      const before = new Map(serials.entries());
      serials.bump();
      serialsMoved(before);
      notifier.changed(meshZones);
    });
  }
  // The zone files loaded above (synchronously, before the listener) are the first version, served under the
  // zone file's serial: what their load gathered is not a step to the next (counted as the next serial's additions,
  // Knot refused that IXFR step and fell back to AXFR).
  for (const zoneKey of meshZones) history?.reset(zoneKey);
  // Each mesh zone is announced once loaded, as BIND and Knot announce theirs at start.
  if (opts.ownsCatalog) notifier.changed(meshZones);

  const makeForwarder = (c: Config, list: Upstream[]): UpstreamForwarder | undefined =>
    list.length === 0
      ? undefined
      : new UpstreamForwarder({
          upstreams: list,
          timeoutMs: c.forwardTimeoutMs,
          maxConcurrent: c.forwardMaxConcurrent,
          cache: c.forwardCacheEntries > 0 ? new ResponseCache({ maxEntries: c.forwardCacheEntries, maxTtlSeconds: 3600 }) : null,
          logger,
        });
  const upstreams = chooseUpstreams(config, config.dns, logger);
  const clientZones = new ClientZones(config.clientZones);
  clientZones.setLearnt(catalog.clientZoneRanges());
  // The same Node ranges place clients in their clusters (policy clusters).
  const clientClusters = new ClientClusters(config.clusterName, config.clientClusters);
  clientClusters.setNodeRanges(catalog.clientZoneRanges());
  catalog.onClientZoneRanges((ranges) => {
    clientZones.setLearnt(ranges);
    clientClusters.setNodeRanges(ranges);
  });
  resolver.clusterOf = (address) => clientClusters.clusterOf(address);
  const handler = new QueryHandler({
    resolver,
    random: config.seed === undefined ? unpredictableRandom() : seededRandom(config.seed),
    forwarder: makeForwarder(config, upstreams),
    forwardAllowed: allowList(config.forwardAllow),
    observer: opts.observer,
    answerLimit: config.answerLimit,
    // Asked only for prefer-zone sets; the ranges may come later, from Kubernetes Nodes.
    zoneOf: (address, family) => clientZones.zoneOf(address, family),
    transferAllowed: config.transferAllow.length === 0 ? undefined : allowList(config.transferAllow),
    tsigKey,
    zoneChanges: history === undefined ? undefined : (zoneKey, since) => history.since(zoneKey, since),
  });
  return {
    resolver,
    states,
    zones,
    handler,
    upstreams,
    zonesLoaded: () => loaded,
    serials,
    notifier,
    adoptSerial: (zoneKey, serial) => {
      const before = new Map(serials.entries());
      if (!serials.raise(zoneKey, serial)) return false;
      serialsMoved(before);
      notifier.changed([zoneKey]);
      return true;
    },
    setSerials: (entries, snapshot = false) => {
      const before = new Map(serials.entries());
      serials.set(entries);
      serialsMoved(snapshot ? undefined : before);
    },
    applyForwarding: (next, listeners) => handler.setForwarding(makeForwarder(next, chooseUpstreams(next, listeners, logger)), allowList(next.forwardAllow)),
  };
}

export interface DnsListeners {
  readonly bound: ListenAddress[];
  /** How UDP is read and written, and why. */
  readonly udpIo: UdpIoChoice;
  stop(graceMs: number): Promise<void>;
}

/** Attempts at a port-0 address: the UDP port the kernel picks may already be taken for TCP. */
const EPHEMERAL_ATTEMPTS = 20;

/** UDP and TCP on every --dns address; TCP on the port UDP got, so port 0 gives one port for both. */
export async function listenDns(config: Config, handler: QueryHandler, observer?: QueryObserver, opts: { reusePort?: boolean } = {}): Promise<DnsListeners> {
  const udp: UdpListener[] = [];
  const tcp: TcpListener[] = [];
  const bound: ListenAddress[] = [];
  const stop = async (graceMs: number): Promise<void> => {
    await Promise.all([...udp.map((l) => l.stop(graceMs)), ...tcp.map((l) => l.stop(graceMs))]);
  };
  const tcpOptions = { idleTimeoutMs: config.tcpIdleTimeoutMs, maxConnections: config.tcpMaxConnections, maxConnectionsPerClient: config.tcpMaxConnectionsPerClient };
  const rateLimit = udpRateLimit(config.rrl, observer);
  let udpIo: UdpIoChoice;
  try {
    udpIo = chooseUdpIo(config.udpIo);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  observer?.udpIo?.(udpIo.io);
  try {
    for (const address of config.dns) {
      for (let attempt = 1; ; attempt++) {
        const u = new UdpListener(address, handler, rateLimit, opts.reusePort ?? false, udpIo.io);
        const actual = await u.start();
        const t = new TcpListener({ ...address, port: actual.port }, handler, tcpOptions);
        try {
          await t.start();
        } catch (err) {
          await u.stop(0);
          // With port 0 the UDP port is the kernel's pick; a client socket may hold the same TCP port. Pick again.
          if (address.port === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < EPHEMERAL_ATTEMPTS) continue;
          throw err;
        }
        udp.push(u);
        tcp.push(t);
        bound.push(actual);
        break;
      }
    }
  } catch (err) {
    await stop(0);
    throw new ConfigError(`cannot listen for DNS: ${(err as Error).message}`);
  }
  return { bound, udpIo, stop };
}

/** One limiter for every UDP listener of the process, so a client cannot multiply its allowance by listener. */
function udpRateLimit(rrl: RrlConfig, observer: QueryObserver | undefined): UdpRateLimit | undefined {
  if (rrl.responsesPerSecond === 0) return undefined;
  const limiter = new ResponseRateLimiter({ ...rrl, exempt: allowList(rrl.exempt) });
  return { limiter, limited: (action) => observer?.rateLimited(action) };
}
