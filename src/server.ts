import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
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
import { ZoneDirectory, zoneKeys } from './sources/zonefile/zone-directory.js';

export interface RunningServer {
  readonly dns: readonly ListenAddress[];
  readonly http: ListenAddress;
  readonly catalog: Catalog;
  reloadZones(): void;
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

function kubernetesWanted(config: Config): boolean {
  if (config.kubernetes === 'off') return false;
  if (config.kubernetes === 'on') return true;
  return (
    config.kubeconfig !== undefined ||
    process.env.KUBERNETES_SERVICE_HOST !== undefined ||
    (process.env.KUBECONFIG ?? '') !== '' ||
    existsSync(join(homedir(), '.kube', 'config'))
  );
}

export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  if (config.store === 'etcd') {
    throw new ConfigError('--store etcd: the etcd registration store is not part of this build yet; use --store sqlite');
  }
  if (config.kubernetes === 'on') {
    throw new ConfigError('--kubernetes on: the Kubernetes source is not part of this build yet; use --kubernetes off');
  }
  if (kubernetesWanted(config)) {
    logger.warn('a kubeconfig or in-cluster environment was found, but the Kubernetes source is not part of this build yet; serving zone files only');
  }

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = new DnsMetrics(registry);

  const catalog = new Catalog();
  const dynamicNames: NameTable = new Map();
  const resolver = new Resolver(dynamicNames);
  const meshZones = zoneKeys(config.domains);
  new CatalogProjection(catalog, dynamicNames, meshZones, config.ttl);

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
  });
  zones.start();

  const upstreams = chooseUpstreams(config, config.dns, logger);
  const forwarder =
    upstreams.length === 0
      ? undefined
      : new UpstreamForwarder({
          upstreams,
          timeoutMs: config.forwardTimeoutMs,
          cache: config.forwardCacheEntries > 0 ? new ResponseCache({ maxEntries: config.forwardCacheEntries, maxTtlSeconds: 3600 }) : null,
          logger,
        });
  const handler = new QueryHandler({
    resolver,
    random: config.seed === undefined ? unpredictableRandom() : seededRandom(config.seed),
    forwarder,
    forwardAllowed: allowList(config.forwardAllow),
    observer: metrics,
  });

  const udp: UdpListener[] = [];
  const tcp: TcpListener[] = [];
  const bound: ListenAddress[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all([...udp.map((l) => l.stop(3000)), ...tcp.map((l) => l.stop(3000))]);
    zones.stop();
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
    registry,
    readiness: [() => (zonesLoaded ? null : 'zone files not loaded')],
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
    },
    'meshdns listening',
  );

  return {
    dns: bound,
    http: httpBound,
    catalog,
    reloadZones: () => zones.reload(),
    stop: async () => {
      await stopAll();
      await http.stop();
    },
  };
}
