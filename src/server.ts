import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { CatalogProjection } from './answers/catalog-projection.js';
import { seededRandom, unpredictableRandom } from './answers/random.js';
import type { NameTable } from './answers/records.js';
import { Resolver } from './answers/resolver.js';
import { Catalog } from './catalog/catalog.js';
import { allowList, ConfigError, type Config } from './config/config.js';
import { UpstreamForwarder } from './dns/forward/forwarder.js';
import { ResponseCache } from './dns/forward/response-cache.js';
import { isOwnListener, resolvConfUpstreams } from './dns/forward/system-upstreams.js';
import { upstreamText, type Upstream } from './dns/forward/upstream.js';
import { formatHostPort, type ListenAddress } from './dns/listen-address.js';
import { QueryHandler } from './dns/query-handler.js';
import { TcpListener } from './dns/tcp-listener.js';
import { UdpListener } from './dns/udp-listener.js';
import { HttpServer } from './http/http-server.js';
import { DnsMetrics } from './observability/dns-metrics.js';
import { registerHealthMetrics } from './observability/health-metrics.js';
import { opsMetrics } from './observability/ops-metrics.js';
import { HealthMonitor } from './health/health-monitor.js';
import { KubernetesSource } from './sources/kubernetes/kubernetes-source.js';
import { loadKubeConfig } from './sources/kubernetes/kube-config.js';
import { kubernetesMetrics } from './observability/kubernetes-metrics.js';
import { ZoneDirectory, zoneKeys } from './sources/zonefile/zone-directory.js';
import { RestRegistry } from './sources/rest/registry.js';
import { registerRestRoutes } from './sources/rest/routes.js';
import { EtcdStore } from './store/etcd-store.js';
import { SqliteStore } from './store/sqlite-store.js';
import type { RegistrationStore } from './store/store.js';
import { readFileSync } from 'node:fs';

export interface RunningServer {
  readonly dns: readonly ListenAddress[];
  readonly http: ListenAddress;
  readonly catalog: Catalog;
  reloadZones(): void;
  /** Applies what can change live from a re-read config; returns the settings that need a restart. */
  applyConfig(next: Config): string[];
  stop(): Promise<void>;
}

/** Upstreams to use: the flag's, else resolv.conf's minus ourselves (a loop), else none. */
function chooseUpstreams(config: Config, listeners: readonly ListenAddress[], logger: Logger): Upstream[] {
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

function readApiToken(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`--api-token-file ${path}: ${(err as Error).message}`);
  }
  if (token === '') throw new ConfigError(`--api-token-file ${path}: the file is empty`);
  return token;
}

function openStore(config: Config, logger: Logger): RegistrationStore {
  if (config.store === 'etcd') {
    return new EtcdStore({ endpoints: config.etcd, prefix: config.etcdPrefix, deregisterAfterMs: config.deregisterAfterMs, callTimeoutMs: 2000, logger });
  }
  return new SqliteStore(config.dataDir, logger);
}

/**
 * Loads registrations. SQLite failing is fatal (a local disk problem to fix);
 * etcd being down is not: DNS serves zone data, /readyz says not ready, and
 * the load is retried with backoff until etcd answers.
 */
async function loadRegistrations(registry: RestRegistry, config: Config, logger: Logger, stopped: () => boolean): Promise<void> {
  if (config.store === 'sqlite') {
    try {
      await registry.start();
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
    return;
  }
  let delay = 500;
  for (;;) {
    try {
      await registry.start();
      return;
    } catch (err) {
      if (stopped()) return;
      logger.warn({ err: (err as Error).message, retryInMs: delay }, 'etcd not reachable; serving zone data meanwhile and retrying');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  }
}

export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const apiToken = readApiToken(config.apiTokenFile);
  let kube: ReturnType<typeof loadKubeConfig>;
  if (config.kubernetes !== 'off') {
    try {
      kube = loadKubeConfig(config.kubeconfig);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
    if (kube === undefined && config.kubernetes === 'on') {
      throw new ConfigError('--kubernetes on: no kubeconfig found (give --kubeconfig, set $KUBECONFIG, or run in a cluster)');
    }
  }

  const metricsRegistry = new Registry();
  collectDefaultMetrics({ register: metricsRegistry });
  const metrics = new DnsMetrics(metricsRegistry, { rate: config.queryLogRate, logger });
  let zonesRef: ZoneDirectory | undefined;
  let kubernetesRef: KubernetesSource | undefined;
  const ops = opsMetrics(metricsRegistry, () => zonesRef?.errors.size ?? 0, () => (kubernetesRef === undefined || kubernetesRef.synced ? 1 : 0));

  const catalog = new Catalog();
  const dynamicNames: NameTable = new Map();
  const resolver = new Resolver(dynamicNames);
  const meshZones = zoneKeys(config.domains);
  const projection = new CatalogProjection(catalog, dynamicNames, meshZones, config.ttl, {
    soft: { k: config.healthK, theta: config.healthTheta },
    allUnhealthy: config.allUnhealthy,
    onPanic: (service, panic, mode) => {
      if (panic) logger.warn({ service, mode }, mode === 'serve-all' ? 'every instance fails its probes: answering them all (panic mode)' : 'every instance fails its probes: answering none (--all-unhealthy serve-none)');
      else logger.info({ service }, 'service left panic mode');
    },
  });
  let health: HealthMonitor | undefined;
  const probeObserver = registerHealthMetrics(metricsRegistry, catalog, () => projection.inPanic.size, () => health?.stats() ?? { targets: 0, probes: 0, inFlight: 0, queued: 0, lagP99Ms: 0 });
  health = new HealthMonitor(catalog, logger, { concurrency: config.probeConcurrency, observer: probeObserver });

  let zonesLoaded = false;
  const zones = new ZoneDirectory({
    dir: config.zonesDir,
    meshZones,
    ttl: config.ttl,
    logger,
    onSnapshot: (snapshot) => {
      resolver.setStaticZones(snapshot.zones);
      try {
        catalog.replaceSource('zonefile', snapshot.instances);
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'zone file services were rejected by the catalog');
      }
      zonesLoaded = true;
    },
    onLoad: (ok) => ops.zoneReload(ok),
  });
  zonesRef = zones;
  zones.start();

  const upstreams = chooseUpstreams(config, config.dns, logger);
  const makeForwarder = (c: Config, list: Upstream[]): UpstreamForwarder | undefined =>
    list.length === 0
      ? undefined
      : new UpstreamForwarder({
          upstreams: list,
          timeoutMs: c.forwardTimeoutMs,
          cache: c.forwardCacheEntries > 0 ? new ResponseCache({ maxEntries: c.forwardCacheEntries, maxTtlSeconds: 3600 }) : null,
          logger,
        });
  const forwarder = makeForwarder(config, upstreams);
  catalog.onChange((keys) => {
    if (logger.isLevelEnabled('debug')) logger.debug({ services: [...keys].slice(0, 20), count: keys.size }, 'catalog changed');
  });
  const handler = new QueryHandler({
    resolver,
    random: config.seed === undefined ? unpredictableRandom() : seededRandom(config.seed),
    forwarder,
    forwardAllowed: allowList(config.forwardAllow),
    observer: metrics,
  });

  const registry = new RestRegistry({ store: openStore(config, logger), catalog, deregisterAfterMs: config.deregisterAfterMs, logger, probes: health });
  let stopped = false;
  const loading = loadRegistrations(registry, config, logger, () => stopped);
  if (config.store === 'sqlite') await loading;
  else loading.catch(() => undefined);

  let kubernetes: KubernetesSource | undefined;
  if (kube !== undefined) {
    kubernetes = new KubernetesSource({
      kubeConfig: kube.config,
      catalog,
      health,
      logger,
      namespaces: config.namespaces,
      labelSelector: config.kubernetesLabelSelector,
      podWeights: config.kubernetesPodWeights,
      metrics: { ...kubernetesMetrics(metricsRegistry), error: (resource, stage) => ops.kubernetesError(resource, stage) },
    });
    kubernetesRef = kubernetes;
    logger.info({ kubeconfig: kube.from }, 'Kubernetes source enabled');
    kubernetes.start();
  }

  const udp: UdpListener[] = [];
  const tcp: TcpListener[] = [];
  const bound: ListenAddress[] = [];
  const stopAll = async (): Promise<void> => {
    stopped = true;
    kubernetes?.stop();
    await Promise.all([...udp.map((l) => l.stop(3000)), ...tcp.map((l) => l.stop(3000))]);
    zones.stop();
    health?.stop();
    await registry.stop().catch(() => undefined);
  };
  try {
    for (const address of config.dns) {
      const u = new UdpListener(address, handler);
      udp.push(u);
      const actual = await u.start();
      // TCP on the port UDP got, so that port 0 (tests) gives one port for both.
      const t = new TcpListener({ ...address, port: actual.port }, handler, {
        idleTimeoutMs: config.tcpIdleTimeoutMs,
        maxConnections: config.tcpMaxConnections,
      });
      tcp.push(t);
      await t.start();
      bound.push(actual);
    }
  } catch (err) {
    await stopAll();
    throw new ConfigError(`cannot listen for DNS: ${(err as Error).message}`);
  }

  const http = new HttpServer({
    address: config.http,
    registry: metricsRegistry,
    logger,
    readiness: [() => (zonesLoaded ? null : 'zone files not loaded'), () => (registry.loaded ? null : `registrations not loaded from the ${config.store} store`),
      () => (kubernetes === undefined || kubernetes.synced ? null : 'Kubernetes: first list of Services and EndpointSlices not done'),
    ],
    routes: (app) => registerRestRoutes(app, { registry, catalog, apiToken, logger, onStoreError: (op) => ops.storeError(config.store, op) }),
  });
  let httpBound: ListenAddress;
  try {
    httpBound = await http.start();
  } catch (err) {
    await stopAll();
    throw new ConfigError(`cannot listen for HTTP on ${formatHostPort(config.http)}: ${(err as Error).message}`);
  }

  logger.info(
    {
      dns: bound.map(formatHostPort),
      http: formatHostPort(httpBound),
      domains: config.domains,
      zonesDir: config.zonesDir,
      zoneErrors: [...zones.errors.values()],
      upstreams: upstreams.map(upstreamText),
      forwarding: upstreams.length > 0 ? 'on' : 'off (names outside the zones are refused)',
      store: config.store,
      registrations: registry.size(),
      kubernetes: kube === undefined ? 'off' : kube.from,
    },
    'meshdns listening',
  );

  return {
    dns: bound,
    http: httpBound,
    catalog,
    reloadZones: () => zones.reload(),
    applyConfig: (next: Config) => {
      logger.level = next.logLevel;
      metrics.queryLog.rate = next.queryLogRate;
      const nextUpstreams = chooseUpstreams(next, bound, logger);
      handler.setForwarding(makeForwarder(next, nextUpstreams), allowList(next.forwardAllow));
      zones.reload();
      // Everything else is wired into listeners, stores and sources at start.
      const live = new Set(['logLevel', 'queryLogRate', 'upstreams', 'forwardAllow', 'forwardTimeoutMs', 'forwardCacheEntries']);
      return (Object.keys(next) as (keyof Config)[]).filter((k) => !live.has(k) && JSON.stringify(next[k]) !== JSON.stringify(config[k]));
    },
    stop: async () => {
      // HTTP first, so that no write is acknowledged after the store closes.
      await http.stop();
      await stopAll();
    },
  };
}
