import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { Catalog } from './catalog/catalog.js';
import { ConfigError, flagsNeedingRestart, type Config } from './config/config.js';
import { upstreamText } from './dns/forward/upstream.js';
import { formatHostPort, type ListenAddress } from './config/listen-address.js';
import { HttpServer } from './http/http-server.js';
import { DnsMetrics } from './observability/dns-metrics.js';
import { registerHealthMetrics, serviceInstancesChunks } from './observability/health-metrics.js';
import { opsMetrics } from './observability/ops-metrics.js';
import { compactAfterLoad, handBackMemoryPeriodically, memoryLimits, registerMemoryLimitMetrics } from './observability/memory-limits.js';
import { HealthMonitor } from './health/health-monitor.js';
import { KubernetesClusters, type SourceFactory } from './sources/kubernetes/kubernetes-clusters.js';
import { describeKubeConfig, findKubeConfig, loadKubeConfig, plainHttpServers, type KubeConfigSource } from './sources/kubernetes/kube-config.js';
import { kubernetesMetrics } from './observability/kubernetes-metrics.js';
import type { ZoneDirectory } from './sources/zonefile/zone-directory.js';
import { applyLiveSettings, createAnswerEngine, listenDns, type DnsListeners } from './answer-engine.js';
import { WorkerPool } from './workers/worker-pool.js';
import { RestRegistry } from './sources/rest/registry.js';
import { readCheck, registerRestRoutes } from './sources/rest/routes.js';
import { registerConsoleRoutes } from './console/console-routes.js';
import { Access } from './sources/rest/access.js';
import { readAccessTokens } from './sources/rest/access-config.js';
import { readHttpTls } from './config/secret-files.js';
import { openStore } from './store/open-store.js';
import { loadRegistrations } from './sources/rest/load-registrations.js';
import { zoneKeys } from './sources/zonefile/zone-directory.js';

export interface RunningServer {
  readonly dns: readonly ListenAddress[];
  readonly http: ListenAddress;
  readonly catalog: Catalog;
  reloadZones(): void;
  /** Lame duck: /readyz fails from now on while everything else keeps working (the first step of a shutdown). */
  enterLameDuck(): void;
  /** Applies what can change live from a re-read config; returns the settings that need a restart. */
  applyConfig(next: Config): string[];
  stop(): Promise<void>;
}


export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const access = new Access(readAccessTokens(config), config.apiReadAuth);
  const tls = readHttpTls(config, (warning) => logger.warn(warning));
  let kube: { source: KubeConfigSource; config: Awaited<ReturnType<typeof loadKubeConfig>> } | undefined;
  if (config.kubernetes !== 'off') {
    try {
      const source = findKubeConfig(config.kubeconfig);
      if (source !== undefined) kube = { source, config: await loadKubeConfig(source) };
    } catch (err) {
      // A kubeconfig holds credentials: the parser's first line says where it stopped; the lines after it
      // quote the file, so they never reach the output.
      const first = ((err as Error).message ?? '').split('\n')[0]!.trim();
      throw new ConfigError(config.kubeconfig === undefined ? first : `--kubeconfig ${config.kubeconfig}: ${first.startsWith('--kubeconfig') ? first.replace(/^--kubeconfig \S+: /, '') : `not a usable kubeconfig: ${first}`}`);
    }
    if (kube === undefined && config.kubernetes === 'on') {
      throw new ConfigError('--kubernetes on: no kubeconfig found (give --kubeconfig, set $KUBECONFIG, or run in a cluster)');
    }
  }
  const pooled = config.workers > 1;

  const metricsRegistry = new Registry();
  // With workers, process and DNS metrics come from them (summed); the primary adds the rest.
  if (!pooled) collectDefaultMetrics({ register: metricsRegistry });
  // The container's limit from here; heap limits from each process that has a heap of answers (with workers, they
  // report their own, summed like the heap they use).
  registerMemoryLimitMetrics(metricsRegistry, { heap: !pooled, container: true });
  const metrics = pooled ? undefined : new DnsMetrics(metricsRegistry, { rate: config.queryLogRate, logger });
  // The parts the gauges read at scrape time, once they exist (the metrics come first, so that every part can
  // count its own events from the start).
  const parts: { zones?: ZoneDirectory; clusters?: KubernetesClusters; registry?: RestRegistry; plane?: ReturnType<typeof createAnswerEngine> } = {};
  const ops = opsMetrics(
    metricsRegistry,
    () => parts.zones?.errors.size ?? 0,
    () => parts.clusters?.syncStates() ?? [[config.clusterName, 1]],
    () => parts.registry?.invalid.size ?? 0,
    () => parts.plane?.states.failingOver.size ?? 0,
    () => (parts.registry === undefined || parts.registry.following ? 1 : 0),
  );

  const watchesKubernetes = kube !== undefined || config.kubernetesClusters.length > 0;
  ops.initialize(config.store, kube === undefined ? config.kubernetesClusters.map((c) => c.name) : [config.clusterName, ...config.kubernetesClusters.map((c) => c.name)]);
  const catalog = new Catalog({
    onRejected: (r) => {
      ops.skipped('instance');
      logger.error({ service: `${r.namespace}/${r.service}`, source: r.source, id: r.id, problem: r.reason }, 'instance skipped: the catalog cannot hold it');
    },
  });
  const plane = createAnswerEngine(config, logger, catalog, {
    observer: metrics,
    ownsCatalog: true,
    // With workers the primary answers nothing: they build the name tables, each from its replica.
    answers: !pooled,
    onZoneLoad: (ok) => ops.zoneReload(ok),
    onSkippedRecord: () => ops.skipped('record'),
  });
  parts.plane = plane;
  const zones = plane.zones;
  parts.zones = zones;
  let health: HealthMonitor | undefined;
  const probeObserver = registerHealthMetrics(metricsRegistry, catalog, () => plane.states.inPanic.size, () => health?.stats() ?? { targets: 0, probes: 0, inFlight: 0, queued: 0, lagP99Ms: 0 });
  health = new HealthMonitor(catalog, logger, { concurrency: config.probeConcurrency, observer: probeObserver });
  catalog.onChange((keys) => {
    if (logger.isLevelEnabled('debug')) logger.debug({ services: [...keys].slice(0, 20), count: keys.size }, 'catalog changed');
  });

  const meshZones = zoneKeys(config.domains);
  const pool = pooled ? new WorkerPool(config.workers, catalog, logger, config.dns.some((a) => a.port === 0), () => plane.serials.entries()) : undefined;
  const store = await openStore(config, logger, (reason) => ops.storeResync(config.store, reason));
  // Replicas of one etcd store share their zone serials (the largest stamped wins), so a secondary that moves from
  // one replica to another never sees the serial go back. The plane stamped its serials before this listener runs.
  const sharedSerials = store.serials;
  if (sharedSerials !== undefined) {
    sharedSerials.onSerial((zoneKey, serial) => {
      if (plane.adoptSerial(zoneKey, serial)) pool?.sendSerials();
    });
    catalog.onChange(() => {
      for (const [zoneKey, serial] of plane.serials.entries()) sharedSerials.publish(zoneKey, serial);
    });
  }
  const registry = new RestRegistry({ store, catalog, deregisterAfterMs: config.deregisterAfterMs, logger, probes: health, zoneKeys: meshZones, localCluster: config.clusterName });
  parts.registry = registry;
  let stopped = false;
  let attempted!: () => void;
  const firstAttempt = new Promise<void>((resolve) => (attempted = resolve));
  // The load's garbage would otherwise set the resident size: collected once the start has built everything else
  // too (below), or at once when the load ends after the start (etcd unreachable at first).
  let started = false;
  const loaded = (): void => {
    if (started) logger.info(compactAfterLoad(), 'heap compacted after the registrations were loaded');
  };
  loadRegistrations(registry, config, logger, () => stopped, attempted, loaded).catch(() => undefined);
  // SQLite opens in milliseconds: wait for that first attempt, so what is stored is answered from the first query.
  if (config.store === 'sqlite') await firstAttempt;

  let clusters: KubernetesClusters | undefined;
  let listeners: DnsListeners | undefined;
  let stopTrims = (): void => undefined;
  const stopAll = async (): Promise<void> => {
    stopped = true;
    stopTrims();
    clusters?.stop();
    await Promise.all([listeners?.stop(3000), pool?.stop(5000)]);
    zones.stop();
    plane.notifier.stop();
    plane.serials.save();
    health?.stop();
    await registry.stop().catch(() => undefined);
  };
  if (watchesKubernetes) {
    const { KubernetesSource } = await import('./sources/kubernetes/kubernetes-source.js');
    const forCluster = kubernetesMetrics(metricsRegistry);
    const makeSource: SourceFactory = (kubeConfig, cluster, log) =>
      new KubernetesSource({
        kubeConfig,
        catalog,
        health,
        logger: log,
        namespaces: config.namespaces,
        labelSelector: config.kubernetesLabelSelector,
        podWeights: config.kubernetesPodWeights,
        meshObjects: config.kubernetesMeshObjects,
        discoveryIntervalMs: config.kubernetesDiscoveryIntervalMs,
        nodes: config.kubernetesNodes,
        clusterDomain: config.clusterDomain,
        ...(cluster === undefined ? { clusterSet: config.clustersetDomain !== undefined, onFirstLists: () => logger.info(compactAfterLoad(), 'heap compacted after the first Kubernetes lists') } : { cluster }),
        metrics: { ...forCluster(cluster ?? config.clusterName), error: (resource, stage) => ops.kubernetesError(resource, stage, cluster ?? config.clusterName) },
      });
    const local = kube === undefined ? undefined : makeSource(kube.config, undefined, logger);
    clusters = new KubernetesClusters(config.clusterName, local, catalog, logger, makeSource);
    parts.clusters = clusters;
    if (kube !== undefined) {
      logger.info({ kubeconfig: describeKubeConfig(kube.source), cluster: config.clusterName }, 'Kubernetes source enabled');
      const plain = plainHttpServers(kube.config);
      if (plain.length > 0) logger.warn({ servers: plain }, 'the Kubernetes API server is plain HTTP (as kubectl proxy serves it): no TLS protects that connection');
    }
    try {
      await clusters.start(config.kubernetesClusters);
    } catch (err) {
      await stopAll();
      throw err;
    }
  }
  let bound: ListenAddress[];
  try {
    if (pool !== undefined) bound = await pool.start();
    else {
      listeners = await listenDns(config, plane.handler, metrics);
      bound = listeners.bound;
    }
  } catch (err) {
    await stopAll();
    throw err instanceof ConfigError ? err : new ConfigError(`cannot listen for DNS: ${(err as Error).message}`);
  }

  let lameDuck = false;
  const http = new HttpServer({
    address: config.http,
    metrics: async () => {
      const head = (pool === undefined ? '' : (await pool.metrics()) + '\n') + (await metricsRegistry.metrics()) + '\n';
      return Readable.from(
        (function* () {
          yield Buffer.from(head);
          yield* serviceInstancesChunks(catalog);
        })(),
      );
    },
    contentType: metricsRegistry.contentType,
    requestTimeoutMs: config.httpRequestTimeoutMs,
    tls,
    logger,
    readiness: [
      () => (lameDuck ? 'shutting down: lame duck, still answering DNS until the load balancers have let go' : null),
      () => (plane.zonesLoaded() ? null : 'zone files not loaded'),
      () => (registry.loaded ? null : `registrations not loaded from the ${config.store} store`),
      () => (!registry.loaded || registry.following ? null : `the ${config.store} store is not being followed (re-listing after a watch that could not resume); other replicas' changes are not applied yet`),
      () => (clusters === undefined || clusters.synced ? null : 'Kubernetes: first list of Services and EndpointSlices not done'),
      () => (pool === undefined || pool.ready ? null : 'DNS workers not all listening'),
    ],
    onRefused: (r) => {
      // Writes refused before routing (a bad URL, headers too large) get their audit line like any other write.
      if (r.method === 'GET' || r.method === 'HEAD' || !(r.path ?? '').startsWith('/v1/')) return;
      ops.apiWrite(r.method ?? 'unknown', r.status);
      logger.info({ audit: 'write', token: null, client: r.client, method: r.method ?? null, path: r.path, status: r.status }, 'API write');
    },
    notes: [() => (registry.invalid.size === 0 ? null : `${registry.invalid.size} stored registration(s) no longer validate and are not answered: ${[...registry.invalid].slice(0, 5).map(([k, why]) => `${k} (${why})`).join('; ')}`)],
    routes: (app) => {
      registerRestRoutes(app, {
        registry,
        catalog,
        access,
        logger,
        onStoreError: (op) => ops.storeError(config.store, op),
        zoneKeys: meshZones,
        statics: plane.resolver,
        soft: { k: config.healthK, theta: config.healthTheta },
        allUnhealthy: config.allUnhealthy,
        onWrite: (method, status) => ops.apiWrite(method, status),
        clusterName: config.clusterName,
        clusters: () => clusters?.states() ?? [],
      });
      registerConsoleRoutes(app, {
        catalog,
        soft: { k: config.healthK, theta: config.healthTheta },
        allUnhealthy: config.allUnhealthy,
        mayRead: readCheck(access),
        stillMayRead: (authorization) => access.read(authorization).ok,
        onAccessChange: (listener) => access.onReplace(listener),
      });
    },
  });
  let httpBound: ListenAddress;
  try {
    httpBound = await http.start();
  } catch (err) {
    await stopAll();
    throw new ConfigError(`cannot listen for HTTP on ${formatHostPort(config.http)}: ${(err as Error).message}`);
  }
  // One compaction once the start has built what it builds (the registrations' load, the workers' snapshots, the
  // HTTP routes), before the log line below: one taken right after the load left what the rest of the start made
  // to the collector, and one start in three at 100,000 instances then held 11 MB more heap and 20–30 MB more
  // resident. With workers, the snapshots the primary made for them are that garbage.
  started = true;
  if (registry.loaded || pool !== undefined) logger.info(compactAfterLoad(), pool === undefined ? 'heap compacted after the registrations were loaded' : 'heap compacted after the registrations were loaded and the DNS workers took their snapshots');
  stopTrims = handBackMemoryPeriodically();

  const limits = memoryLimits();
  const udpIo = pooled ? pool?.udpIo : listeners?.udpIo;
  logger.info(
    {
      dns: bound.map(formatHostPort),
      http: formatHostPort(httpBound),
      workers: pooled ? config.workers : 1,
      udpIo: udpIo?.io ?? null,
      udpIoReason: udpIo?.reason ?? null,
      domains: config.domains,
      zonesDir: config.zonesDir,
      zoneErrors: [...zones.errors.values()],
      upstreams: plane.upstreams.map(upstreamText),
      forwarding: plane.upstreams.length > 0 ? 'on' : 'off (names outside the zones are refused)',
      store: config.store,
      registrations: registry.size(),
      kubernetes: kube === undefined ? 'off' : describeKubeConfig(kube.source),
      memoryLimitMb: limits.containerBytes === undefined ? null : Math.round(limits.containerBytes / 2 ** 20),
      heapLimitMb: Math.round(limits.heapLimitBytes / 2 ** 20),
    },
    'meshdns listening',
  );

  return {
    dns: bound,
    http: httpBound,
    catalog,
    enterLameDuck: () => {
      lameDuck = true;
    },
    reloadZones: () => {
      zones.reload();
      pool?.reload(config);
    },
    applyConfig: (next: Config) => {
      // Tokens and the certificate are re-read on SIGHUP (a rotated Secret, a cert-manager renewal); a broken
      // file keeps what is in force and says why.
      // Fail closed: a reload that would leave the API with fewer locks than the running config (no token
      // source at all where there were tokens) is refused like a broken file.
      try {
        const tokens = readAccessTokens(next);
        if (tokens.length === 0 && access.size > 0) {
          throw new ConfigError('the reloaded config names no API token (--api-tokens, --api-token-file) where the running one does; that would open the API, so the tokens in force stay (restart to drop them)');
        }
        const nextTls = readHttpTls(next, (warning) => logger.warn(warning));
        access.replace(tokens);
        if (nextTls !== undefined) http.setTls(nextTls);
        ops.accessReload(true);
        logger.info({ tokens: access.size, tls: nextTls !== undefined }, 'API tokens and TLS certificate re-read');
      } catch (err) {
        ops.accessReload(false);
        logger.error({ err: (err as Error).message }, 'could not re-read the API tokens or the TLS certificate; keeping the ones in force');
      }
      applyLiveSettings(plane, next, bound, logger, metrics);
      // Clusters added or dropped start or stop now (their kubeconfigs are read first; a bad one is logged).
      if (clusters !== undefined) void clusters.reload(next.kubernetesClusters);
      pool?.reload(next);
      // What the flag table does not mark live is wired into listeners, stores and sources at start.
      return flagsNeedingRestart(config, next);
    },
    stop: async () => {
      // HTTP first, so that no write is acknowledged after the store closes.
      await http.stop();
      await stopAll();
    },
  };
}
