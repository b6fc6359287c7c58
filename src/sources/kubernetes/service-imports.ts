import { CustomObjectsApi, type KubeConfig } from './kube-client.js';
import type { Logger } from 'pino';
import { isIP } from 'node:net';
import type { ClusterSetEndpoint, ClusterSetService } from '../../catalog/clusterset.js';
import type { InstancePort } from '../../catalog/types.js';
import { addressLabel, isDnsLabel } from '../../catalog/validate.js';
import { customObjectSource, discoverMeshApis, SERVICE_IMPORT_API } from './mesh-apis.js';
import { mirrorInto, type Reflector, type ReflectorSpec } from './reflector.js';
import type { SlimSlice } from './slim-objects.js';

/** A ServiceImport as DNS needs it. */
interface SlimImport {
  readonly namespace: string;
  readonly name: string;
  readonly type: 'ClusterSetIP' | 'Headless';
  readonly ips: readonly string[];
  readonly ports: readonly InstancePort[];
}

interface ImportJson {
  metadata?: { name?: string; namespace?: string };
  spec?: { type?: string; ips?: unknown; ports?: { name?: string; port?: number; protocol?: string }[] | null };
}

export interface ServiceImportsOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  namespaces: readonly string[];
  discoveryIntervalMs: number;
  /** Starts a reflector the way the Kubernetes source starts its own (retries, metrics, sync state). */
  reflector: <T>(spec: Omit<ReflectorSpec<T>, 'watch'>) => Reflector<T>;
  /** The cluster set changed: its services as they are now. */
  onChange: (services: ClusterSetService[]) => void;
}

/**
 * The Multi-Cluster Services API in the local cluster: ServiceImports (multicluster.x-k8s.io, v1beta1 or
 * v1alpha1, as API discovery finds) and the EndpointSlices labelled multicluster.kubernetes.io/service-name,
 * joined into the services served under --clusterset-domain. A ServiceImport with no IPs (ClusterSetIP), a
 * slice without its source cluster, an import without slices: logged once, left out, the rest served.
 */
export class ServiceImports {
  private readonly imports = new Map<string, SlimImport>();
  private readonly slices = new Map<string, SlimSlice>();
  private reflectors: Reflector<unknown>[] = [];
  private version: string | undefined;
  private discovered = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private scheduled = false;
  private readonly reported = new Set<string>();

  constructor(private readonly opts: ServiceImportsOptions) {}

  /** After the first discovery, once ServiceImports (when served) are listed. */
  get synced(): boolean {
    return this.discovered && this.reflectors.every((r) => r.synced);
  }

  start(): void {
    void this.discover();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const r of this.reflectors) r.stop();
  }

  /** An imported EndpointSlice seen (undefined: deleted). */
  setSlice(key: string, slice: SlimSlice | undefined): void {
    if (slice === undefined) {
      if (!this.slices.delete(key)) return;
    } else this.slices.set(key, slice);
    this.changed();
  }

  sliceKeys(): IterableIterator<string> {
    return this.slices.keys();
  }

  private async discover(): Promise<void> {
    if (this.stopped) return;
    try {
      const version = (await discoverMeshApis(this.opts.kubeConfig, [SERVICE_IMPORT_API])).get(SERVICE_IMPORT_API.id);
      if (this.stopped) return;
      if (version !== this.version) {
        for (const r of this.reflectors) r.stop();
        this.reflectors = [];
        this.imports.clear();
        this.version = version;
        if (version !== undefined) this.startReflectors(version);
        else this.changed();
      }
      this.discovered = true;
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'Kubernetes API discovery (ServiceImports) failed; retrying');
    }
    this.timer = setTimeout(() => void this.discover(), this.discovered ? this.opts.discoveryIntervalMs : 500);
    this.timer.unref();
  }

  private startReflectors(version: string): void {
    const custom = this.opts.kubeConfig.makeApiClient(CustomObjectsApi);
    const scopes: (string | undefined)[] = this.opts.namespaces.length === 0 ? [undefined] : [...this.opts.namespaces];
    for (const ns of scopes) {
      const reflector = this.opts.reflector<SlimImport>({
        ...customObjectSource(custom, SERVICE_IMPORT_API, version, ns),
        convert: (o) => this.convert(o),
        ...mirrorInto(this.imports, ns, () => this.changed()),
      });
      this.reflectors.push(reflector as Reflector<unknown>);
    }
    this.opts.logger.info({ apiVersion: `${SERVICE_IMPORT_API.group}/${version}` }, 'serving ServiceImports under the cluster-set domain');
    for (const r of this.reflectors) r.start();
  }

  private convert(object: unknown): { key: string; value: SlimImport | undefined } | undefined {
    const o = object as ImportJson;
    const namespace = o?.metadata?.namespace;
    const name = o?.metadata?.name;
    if (!namespace || !name) return undefined;
    const key = `${namespace}/${name}`;
    const type = o.spec?.type === 'Headless' ? 'Headless' : 'ClusterSetIP';
    const ips = Array.isArray(o.spec?.ips) ? (o.spec.ips as unknown[]).filter((ip): ip is string => typeof ip === 'string' && isIP(ip) !== 0) : [];
    const ports: InstancePort[] = [];
    for (const p of o.spec?.ports ?? []) {
      const protocol = (p.protocol ?? 'TCP').toLowerCase();
      if (p.name && isDnsLabel(p.name) && Number.isInteger(p.port) && p.port! >= 1 && p.port! <= 65535 && (protocol === 'tcp' || protocol === 'udp')) ports.push({ name: p.name, port: p.port!, protocol });
    }
    return { key, value: { namespace, name, type, ips, ports } };
  }

  /** Changes come in bursts (a list, a slice per cluster): the set is rebuilt once per tick. */
  private changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.stopped) this.opts.onChange(this.services());
    });
  }

  private services(): ClusterSetService[] {
    const byService = new Map<string, SlimSlice[]>();
    for (const [key, slice] of this.slices) {
      if (slice.imported?.sourceCluster === undefined || !isDnsLabel(slice.imported.sourceCluster)) {
        this.reportOnce(`EndpointSlice ${key}`, 'no multicluster.kubernetes.io/source-cluster label (or not a DNS label)', 'imported EndpointSlice skipped: its endpoints cannot be named by cluster');
        continue;
      }
      const svcKey = `${slice.namespace}/${slice.service}`;
      const list = byService.get(svcKey) ?? [];
      list.push(slice);
      byService.set(svcKey, list);
    }
    const out: ClusterSetService[] = [];
    for (const [key, imp] of this.imports) {
      if (imp.type === 'ClusterSetIP' && imp.ips.length === 0) {
        this.reportOnce(`ServiceImport ${key}`, 'a ClusterSetIP import with no spec.ips', 'ServiceImport skipped: no cluster-set address to answer');
        continue;
      }
      const endpoints: ClusterSetEndpoint[] = [];
      const seen = new Set<string>();
      for (const slice of byService.get(key) ?? []) {
        for (const e of slice.endpoints) {
          if (!e.ready) continue;
          const name = e.hostname !== undefined && isDnsLabel(e.hostname) ? e.hostname : addressLabel(e.address);
          const cluster = slice.imported!.sourceCluster!;
          const id = `${cluster}|${name}|${e.address}`;
          if (seen.has(id)) continue;
          seen.add(id);
          endpoints.push({ cluster, name, address: e.address, ports: slice.ports });
        }
      }
      out.push({ namespace: imp.namespace, name: imp.name, type: imp.type, ips: imp.ips, ports: imp.ports, endpoints });
    }
    return out.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  }

  private reportOnce(object: string, problem: string, message: string): void {
    const text = `${object}|${problem}`;
    if (this.reported.has(text)) return;
    this.reported.add(text);
    this.opts.logger.warn({ object, problem }, message);
  }
}
