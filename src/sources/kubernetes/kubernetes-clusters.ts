import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Catalog } from '../../catalog/catalog.js';
import { ConfigError } from '../../config/config.js';
import type { KubeConfig } from './kube-client.js';
import type { KubernetesSource } from './kubernetes-source.js';
import { loadKubeConfig, plainHttpServers } from './kube-config.js';

/** One watched cluster: the local one (`--kubeconfig`, `--cluster-name`) or another (`--kubernetes-cluster`). */
export interface WatchedCluster {
  readonly name: string;
  readonly kubeconfig: string;
}

/** Makes the source of one cluster (undefined cluster: the local one) from its loaded kubeconfig. */
export type SourceFactory = (kubeConfig: KubeConfig, cluster: string | undefined, logger: Logger) => KubernetesSource;

/**
 * The Kubernetes sources of every watched cluster. The local one is what readiness waits for; each other
 * cluster has its own reflectors, retries and state, and one that is down, slow or refusing keeps its last
 * instances answered (its instances leave only when it answers again without them, or when it is unwatched).
 * Clusters named or dropped by a config reload start or stop without a restart.
 */
export class KubernetesClusters {
  /** Each remote cluster's source, with its kubeconfig's path and content (a rotated Secret changes the content). */
  private readonly remotes = new Map<string, { kubeconfig: string; content: string; source: KubernetesSource }>();

  constructor(
    private readonly localName: string,
    readonly local: KubernetesSource | undefined,
    private readonly catalog: Catalog,
    private readonly logger: Logger,
    private readonly makeSource: SourceFactory,
  ) {}

  /** Loads each cluster's kubeconfig first (a bad one stops the start, naming the flag), then starts them all. */
  async start(clusters: readonly WatchedCluster[]): Promise<void> {
    const loaded = await Promise.all(clusters.map(async (c) => ({ cluster: c, ...(await loadRemote(c)) })));
    this.local?.start();
    for (const { cluster, kubeConfig, content } of loaded) this.startRemote(cluster, kubeConfig, content);
  }

  /**
   * A reloaded config's clusters: new ones start, dropped ones stop and their instances leave, changed
   * kubeconfigs restart. A kubeconfig that cannot be read leaves that cluster as it was, and says so.
   */
  async reload(clusters: readonly WatchedCluster[]): Promise<void> {
    const wanted = new Map(clusters.map((c) => [c.name, c]));
    for (const [name, held] of [...this.remotes]) {
      const next = wanted.get(name);
      if (next !== undefined) {
        // Read the kubeconfig before letting the old connection go: unchanged (same file, same content), nothing to do.
        try {
          const { kubeConfig, content } = await loadRemote(next);
          if (next.kubeconfig === held.kubeconfig && content === held.content) continue;
          this.stopRemote(name);
          this.startRemote(next, kubeConfig, content);
          this.logger.info({ cluster: name }, 'cluster kubeconfig changed: reconnected');
        } catch (err) {
          this.logger.error({ cluster: name, err: (err as Error).message }, 'cluster kubeconfig not re-read; the cluster stays watched as it was');
        }
        continue;
      }
      this.stopRemote(name);
    }
    for (const c of clusters) {
      if (this.remotes.has(c.name)) continue;
      try {
        const { kubeConfig, content } = await loadRemote(c);
        this.startRemote(c, kubeConfig, content);
      } catch (err) {
        this.logger.error({ cluster: c.name, err: (err as Error).message }, 'cluster not added: its kubeconfig cannot be read');
      }
    }
  }

  /** The local cluster listed (readiness waits for this one only). */
  get synced(): boolean {
    return this.local === undefined || this.local.synced;
  }

  /** Each cluster with 1 while its API answers and its lists are done, else 0 (for meshdns_kubernetes_synced). */
  syncStates(): [string, number][] {
    const out: [string, number][] = [[this.localName, this.local === undefined || this.local.connected ? 1 : 0]];
    for (const [name, { source }] of this.remotes) out.push([name, source.connected ? 1 : 0]);
    return out;
  }

  /** Each cluster and what it says of itself, for the console and GET /v1/clusters. */
  states(): { name: string; local: boolean; synced: boolean; connected: boolean; lastSync: number }[] {
    const out = this.local === undefined ? [] : [{ name: this.localName, local: true, synced: this.local.synced, connected: this.local.connected, lastSync: this.local.lastSync }];
    for (const [name, { source }] of this.remotes) out.push({ name, local: false, synced: source.synced, connected: source.connected, lastSync: source.lastSync });
    return out;
  }

  stop(): void {
    this.local?.stop();
    for (const { source } of this.remotes.values()) source.stop();
  }

  private startRemote(cluster: WatchedCluster, kubeConfig: KubeConfig, content: string): void {
    const log = this.logger.child({ cluster: cluster.name });
    const source = this.makeSource(kubeConfig, cluster.name, log);
    this.remotes.set(cluster.name, { kubeconfig: cluster.kubeconfig, content, source });
    const plain = plainHttpServers(kubeConfig);
    if (plain.length > 0) log.warn({ servers: plain }, 'the Kubernetes API server is plain HTTP: no TLS protects that connection');
    log.info({ kubeconfig: cluster.kubeconfig }, 'watching another cluster');
    source.start();
  }

  private stopRemote(name: string): void {
    const held = this.remotes.get(name);
    if (held === undefined) return;
    held.source.stop();
    this.remotes.delete(name);
    this.catalog.dropCluster(name);
    this.catalog.setClientZoneRanges([], name);
    this.catalog.setClientNamespaces(new Map(), name);
    this.logger.info({ cluster: name }, 'cluster no longer watched: its instances are no longer answered');
  }
}

/** A kubeconfig holds credentials: an error says where the parser stopped, never the lines it quotes. */
async function loadRemote(c: WatchedCluster): Promise<{ kubeConfig: KubeConfig; content: string }> {
  let content: string;
  try {
    content = await readFile(c.kubeconfig, 'utf8');
  } catch (err) {
    throw new ConfigError(`--kubernetes-cluster ${c.name}=${c.kubeconfig}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`}`);
  }
  try {
    return { kubeConfig: await loadKubeConfig({ kind: 'file', path: c.kubeconfig }), content };
  } catch (err) {
    const first = ((err as Error).message ?? '').split('\n')[0]!.trim();
    throw new ConfigError(`--kubernetes-cluster ${c.name}=${c.kubeconfig}: not a usable kubeconfig: ${first}`);
  }
}
