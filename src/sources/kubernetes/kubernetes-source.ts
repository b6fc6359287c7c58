import { CoreV1Api, CustomObjectsApi, DiscoveryV1Api, Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Catalog } from '../../catalog/catalog.js';
import type { HealthState, Instance } from '../../catalog/types.js';
import { addressLabel, isDnsLabel } from '../../catalog/validate.js';
import type { HealthMonitor } from '../../health/health-monitor.js';
import type { CheckSpec } from '../../health/check-spec.js';
import type { ProbeAnnotation } from './annotations.js';
import { Reflector, type ListPage } from './reflector.js';
import { convertNode, convertPod, convertService, convertSlice, type SlimEndpoint, type SlimNode, type SlimService, type SlimSlice } from './slim-objects.js';
import { DEFAULT_POLICY, type LoadBalancer, type TrafficPolicy } from '../../catalog/policy.js';
import type { TrafficSplit } from '../../catalog/split.js';
import type { ZoneRange } from '../../catalog/catalog.js';
import { discoverMeshApis, MESH_APIS, type MeshApi } from './mesh-apis.js';
import { convertDestinationRule, convertHttpRoute, convertTrafficSplit, convertVirtualService, type SlimDestinationRule, type SlimRoute } from './mesh-objects.js';
import { resolveSplits } from './split-resolver.js';

export interface KubernetesSourceOptions {
  kubeConfig: KubeConfig;
  catalog: Catalog;
  health: HealthMonitor | undefined;
  logger: Logger;
  /** Empty: all namespaces. */
  namespaces: readonly string[];
  /** Narrows the Services watched. */
  labelSelector?: string;
  podWeights: boolean;
  metrics?: KubernetesMetrics;
  watchTimeoutSeconds?: number;
  /** Follow HTTPRoute, TrafficSplit, VirtualService and DestinationRule when their CRDs are served. */
  meshObjects?: boolean;
  /** How often API discovery looks again for mesh CRDs (installed or removed since). */
  discoveryIntervalMs?: number;
  /** Watch Nodes for client zones (podCIDRs + zone label). */
  nodes?: boolean;
  /** For VirtualService/DestinationRule hosts like web.shop.svc.cluster.local. */
  clusterDomain?: string;
}

export interface KubernetesMetrics {
  synced(at: number): void;
  restart(resource: string, reason: string): void;
  error?(resource: string, stage: 'list' | 'watch'): void;
  objects(resource: string, count: number): void;
}

const PAGE = 500;

/** A list of custom objects as the API server sends it. */
interface RawListPage {
  items?: unknown[];
  metadata?: { resourceVersion?: string; continue?: string };
}

function checkFor(probe: ProbeAnnotation, address: string): CheckSpec {
  const host = address.includes(':') ? `[${address}]` : address;
  return probe.kind === 'http'
    ? { http: `http://${host}:${probe.port}${probe.path}`, intervalMs: probe.intervalMs, timeoutMs: probe.timeoutMs, healthyThreshold: 2, unhealthyThreshold: 3 }
    : { tcp: `${host}:${probe.port}`, intervalMs: probe.intervalMs, timeoutMs: probe.timeoutMs, healthyThreshold: 2, unhealthyThreshold: 3 };
}

/**
 * Services and EndpointSlices (and, with pod weights, Pods) from the
 * Kubernetes API into the catalog. Changes mark services dirty; a flush on
 * the next tick rebuilds each dirty service once, so an initial list of
 * 10,000 Services is one pass, not 10,000 rebuilds of growing state.
 */
export class KubernetesSource {
  private readonly services = new Map<string, SlimService>();
  private readonly slices = new Map<string, SlimSlice>();
  private readonly slicesOf = new Map<string, Set<string>>();
  private readonly podWeights = new Map<string, number>();
  private readonly servicesOfPod = new Map<string, Set<string>>();
  private readonly probed = new Map<string, Set<string>>();
  private readonly dirty = new Set<string>();
  private flushScheduled = false;
  private readonly reflectors: Reflector<unknown>[] = [];
  private readonly reportedProbeErrors = new Set<string>();
  /** Mesh traffic objects by `Kind|ns/name`, DestinationRules by `ns/name` and by host Service. */
  private readonly routes = new Map<string, SlimRoute>();
  private readonly destinationRules = new Map<string, SlimDestinationRule>();
  private readonly rulesOfHost = new Map<string, Set<string>>();
  private readonly nodes = new Map<string, SlimNode>();
  /** The splits last given to the catalog, by apex. */
  private readonly appliedSplits = new Map<string, TrafficSplit>();
  /** Problems of mesh objects and annotations already logged (each once while it lasts). */
  private reportedProblems = new Set<string>();
  private splitsDirty = false;
  private nodesDirty = false;
  /** Reflectors of the mesh kinds API discovery found, with the version they read. */
  private readonly meshReflectors = new Map<string, { version: string; reflectors: Reflector<unknown>[] }>();
  private discovered = false;
  private discoveryFailures = 0;
  private discoveryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private watch: Watch | undefined;
  lastSync = 0;

  constructor(private readonly opts: KubernetesSourceOptions) {}

  get synced(): boolean {
    const mesh = [...this.meshReflectors.values()].flatMap((m) => m.reflectors);
    return this.reflectors.length > 0 && this.reflectors.every((r) => r.synced) && (this.opts.meshObjects !== true || this.discovered) && mesh.every((r) => r.synced);
  }

  start(): void {
    const { kubeConfig, namespaces, labelSelector, logger } = this.opts;
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    const watch = new Watch(kubeConfig);
    const scopes: (string | undefined)[] = namespaces.length === 0 ? [undefined] : [...namespaces];
    for (const ns of scopes) {
      this.add<SlimService>({
        resource: 'services',
        path: ns === undefined ? '/api/v1/services' : `/api/v1/namespaces/${ns}/services`,
        watch,
        labelSelector,
        list: (token) =>
          (ns === undefined
            ? core.listServiceForAllNamespaces({ labelSelector, limit: PAGE, _continue: token })
            : core.listNamespacedService({ namespace: ns, labelSelector, limit: PAGE, _continue: token })) as Promise<ListPage>,
        convert: convertService,
        onReplace: (all) => {
          this.replace(this.services, all, ns, (key) => this.markService(key));
          this.splitsDirty = true;
        },
        onUpsert: (key, value) => {
          // A Service that appears may be the backend a split was waiting for.
          if (!this.services.has(key)) this.splitsDirty = true;
          this.services.set(key, value);
          this.markService(key);
        },
        onDelete: (key) => {
          if (this.services.delete(key)) this.splitsDirty = true;
          this.markService(key);
        },
      });
      this.add<SlimSlice>({
        resource: 'endpointslices',
        path: ns === undefined ? '/apis/discovery.k8s.io/v1/endpointslices' : `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
        watch,
        list: (token) =>
          (ns === undefined
            ? discovery.listEndpointSliceForAllNamespaces({ limit: PAGE, _continue: token })
            : discovery.listNamespacedEndpointSlice({ namespace: ns, limit: PAGE, _continue: token })) as Promise<ListPage>,
        convert: convertSlice,
        onReplace: (all) => {
          for (const key of [...this.slices.keys()]) if (inScope(key, ns) && !all.has(key)) this.deleteSlice(key);
          for (const [key, value] of all) this.upsertSlice(key, value);
        },
        onUpsert: (key, value) => this.upsertSlice(key, value),
        onDelete: (key) => this.deleteSlice(key),
      });
      if (this.opts.podWeights) {
        this.add<number>({
          resource: 'pods',
          path: ns === undefined ? '/api/v1/pods' : `/api/v1/namespaces/${ns}/pods`,
          watch,
          list: (token) =>
            (ns === undefined ? core.listPodForAllNamespaces({ limit: PAGE, _continue: token }) : core.listNamespacedPod({ namespace: ns, limit: PAGE, _continue: token })) as Promise<ListPage>,
          convert: convertPod,
          onReplace: (all) => this.replace(this.podWeights, all, ns, (key) => this.markPod(key)),
          onUpsert: (key, weight) => {
            if (this.podWeights.get(key) === weight) return;
            this.podWeights.set(key, weight);
            this.markPod(key);
          },
          onDelete: (key) => {
            if (this.podWeights.delete(key)) this.markPod(key);
          },
        });
      }
    }
    if (this.opts.nodes === true) {
      this.add<SlimNode>({
        resource: 'nodes',
        path: '/api/v1/nodes',
        watch,
        list: (token) => core.listNode({ limit: PAGE, _continue: token }) as Promise<ListPage>,
        convert: convertNode,
        onReplace: (all) => {
          this.nodes.clear();
          for (const [k, v] of all) this.nodes.set(k, v);
          this.markNodes();
        },
        onUpsert: (key, value) => {
          this.nodes.set(key, value);
          this.markNodes();
        },
        onDelete: (key) => {
          if (this.nodes.delete(key)) this.markNodes();
        },
      });
    }
    this.watch = watch;
    logger.info(
      { namespaces: namespaces.length ? namespaces : 'all', labelSelector, podWeights: this.opts.podWeights, meshObjects: this.opts.meshObjects === true, nodes: this.opts.nodes === true },
      'Kubernetes source starting',
    );
    for (const r of this.reflectors) r.start();
    if (this.opts.meshObjects === true) void this.discover();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.discoveryTimer);
    for (const r of this.reflectors) r.stop();
    for (const m of this.meshReflectors.values()) for (const r of m.reflectors) r.stop();
  }

  /**
   * Looks for the mesh CRDs now and then: a kind found starts its reflectors, a kind gone (CRD deleted)
   * stops them and forgets its objects, a new preferred version restarts them. A failed discovery keeps
   * what runs and tries again at the next interval.
   */
  private async discover(): Promise<void> {
    if (this.stopped) return;
    let next = this.opts.discoveryIntervalMs ?? 30_000;
    try {
      const served = await discoverMeshApis(this.opts.kubeConfig);
      if (this.stopped) return;
      for (const api of MESH_APIS) {
        const version = served.get(api.id);
        const running = this.meshReflectors.get(api.id);
        if (running?.version === version) continue;
        if (running !== undefined) this.stopMeshKind(api, running.reflectors);
        if (version !== undefined) this.startMeshKind(api, version);
      }
      this.discovered = true;
      this.discoveryFailures = 0;
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'Kubernetes API discovery failed; mesh objects stay as they are, retrying');
      // Retried sooner than the interval, as the reflectors do: readiness waits for a first discovery.
      next = Math.min(next, 250 * 2 ** Math.min(this.discoveryFailures++, 6));
    }
    // A few sweeps of split resolution ride along: a REST-only backend registered since is picked up.
    this.splitsDirty = true;
    this.schedule();
    this.discoveryTimer = setTimeout(() => void this.discover(), next);
    this.discoveryTimer.unref?.();
  }

  private startMeshKind(api: MeshApi, version: string): void {
    const custom = this.opts.kubeConfig.makeApiClient(CustomObjectsApi);
    const domain = this.opts.clusterDomain ?? 'cluster.local';
    const scopes: (string | undefined)[] = this.opts.namespaces.length === 0 ? [undefined] : [...this.opts.namespaces];
    const reflectors: Reflector<unknown>[] = [];
    for (const ns of scopes) {
      const base = `/apis/${api.group}/${version}`;
      const common = {
        resource: api.id,
        path: ns === undefined ? `${base}/${api.plural}` : `${base}/namespaces/${ns}/${api.plural}`,
        watch: this.watch!,
        list: async (token: string | undefined): Promise<ListPage> => {
          const page = (await (ns === undefined
            ? custom.listClusterCustomObject({ group: api.group, version, plural: api.plural, limit: PAGE, _continue: token })
            : custom.listNamespacedCustomObject({ group: api.group, version, namespace: ns, plural: api.plural, limit: PAGE, _continue: token }))) as RawListPage;
          // Custom objects come back as the API's raw JSON: `continue`, where typed models say `_continue`.
          return { items: page.items ?? [], metadata: { resourceVersion: page.metadata?.resourceVersion, _continue: page.metadata?.continue } };
        },
      };
      if (api.kind === 'DestinationRule') {
        reflectors.push(
          this.add<SlimDestinationRule>({
            ...common,
            convert: convertDestinationRule(domain),
            onReplace: (all) => {
              for (const key of [...this.destinationRules.keys()]) if (inScope(key, ns) && !all.has(key)) this.setRule(key, undefined);
              for (const [key, value] of all) this.setRule(key, value);
            },
            onUpsert: (key, value) => this.setRule(key, value),
            onDelete: (key) => this.setRule(key, undefined),
          }, false) as Reflector<unknown>,
        );
      } else {
        const convert = api.kind === 'HTTPRoute' ? (o: unknown) => convertHttpRoute(o, api.group) : api.kind === 'TrafficSplit' ? convertTrafficSplit(domain) : convertVirtualService(domain);
        const prefix = `${api.id}|`;
        reflectors.push(
          this.add<SlimRoute>({
            ...common,
            convert,
            onReplace: (all) => {
              for (const key of [...this.routes.keys()]) if (key.startsWith(prefix) && inScope(key.slice(prefix.length), ns) && !all.has(key.slice(prefix.length))) this.routes.delete(key);
              for (const [key, value] of all) this.routes.set(prefix + key, value);
              this.markSplits();
            },
            onUpsert: (key, value) => {
              this.routes.set(prefix + key, value);
              this.markSplits();
            },
            onDelete: (key) => {
              if (this.routes.delete(prefix + key)) this.markSplits();
            },
          }, false) as Reflector<unknown>,
        );
      }
    }
    this.meshReflectors.set(api.id, { version, reflectors });
    this.opts.logger.info({ kind: api.kind, apiVersion: `${api.group}/${version}` }, 'following mesh traffic objects');
    for (const r of reflectors) r.start();
  }

  private stopMeshKind(api: MeshApi, reflectors: Reflector<unknown>[]): void {
    for (const r of reflectors) r.stop();
    this.meshReflectors.delete(api.id);
    if (api.kind === 'DestinationRule') for (const key of [...this.destinationRules.keys()]) this.setRule(key, undefined);
    else for (const key of [...this.routes.keys()]) if (key.startsWith(`${api.id}|`)) this.routes.delete(key);
    this.markSplits();
    this.opts.logger.info({ kind: api.kind, group: api.group }, 'mesh traffic object kind no longer served; its objects are forgotten');
  }

  private setRule(key: string, rule: SlimDestinationRule | undefined): void {
    const previous = this.destinationRules.get(key);
    if (previous?.host !== undefined) {
      this.rulesOfHost.get(previous.host)?.delete(key);
      if (this.rulesOfHost.get(previous.host)?.size === 0) this.rulesOfHost.delete(previous.host);
      this.markService(previous.host);
    }
    if (rule === undefined) this.destinationRules.delete(key);
    else {
      this.destinationRules.set(key, rule);
      if (rule.host !== undefined) {
        let set = this.rulesOfHost.get(rule.host);
        if (set === undefined) this.rulesOfHost.set(rule.host, (set = new Set()));
        set.add(key);
        this.markService(rule.host);
      }
    }
  }

  private markSplits(): void {
    this.splitsDirty = true;
    this.schedule();
  }

  private markNodes(): void {
    this.nodesDirty = true;
    this.schedule();
  }

  private add<T>(
    spec: {
    resource: string;
    path: string;
    watch: Watch;
    labelSelector?: string;
    list: (token: string | undefined) => Promise<ListPage>;
    convert: (o: unknown) => { key: string; value: T | undefined } | undefined;
    onReplace: (all: Map<string, T>) => void;
    onUpsert: (key: string, value: T) => void;
    onDelete: (key: string) => void;
  },
    fixed = true,
  ): Reflector<T> {
    const reflector = new Reflector<T>({
      ...spec,
      logger: this.opts.logger,
      watchTimeoutSeconds: this.opts.watchTimeoutSeconds,
      onSynced: () => {
        this.opts.logger.info({ resource: spec.resource, path: spec.path }, 'Kubernetes list synced');
        this.schedule();
      },
      onRestart: (reason) => this.opts.metrics?.restart(spec.resource, reason),
      onError: (stage) => this.opts.metrics?.error?.(spec.resource, stage),
    });
    if (fixed) this.reflectors.push(reflector as Reflector<unknown>);
    return reflector;
  }

  private replace<T>(map: Map<string, T>, all: Map<string, T>, ns: string | undefined, mark: (key: string) => void): void {
    for (const key of [...map.keys()]) {
      if (inScope(key, ns) && !all.has(key)) {
        map.delete(key);
        mark(key);
      }
    }
    for (const [key, value] of all) {
      map.set(key, value);
      mark(key);
    }
  }

  private upsertSlice(key: string, slice: SlimSlice): void {
    const previous = this.slices.get(key);
    if (previous !== undefined) this.unlinkSlice(key, previous);
    this.slices.set(key, slice);
    const svcKey = `${slice.namespace}/${slice.service}`;
    let set = this.slicesOf.get(svcKey);
    if (set === undefined) this.slicesOf.set(svcKey, (set = new Set()));
    set.add(key);
    for (const e of slice.endpoints) {
      if (e.pod === undefined) continue;
      const podKey = `${slice.namespace}/${e.pod}`;
      let svcs = this.servicesOfPod.get(podKey);
      if (svcs === undefined) this.servicesOfPod.set(podKey, (svcs = new Set()));
      svcs.add(svcKey);
    }
    this.markService(svcKey);
  }

  private deleteSlice(key: string): void {
    const previous = this.slices.get(key);
    if (previous === undefined) return;
    this.slices.delete(key);
    this.unlinkSlice(key, previous);
    this.markService(`${previous.namespace}/${previous.service}`);
  }

  private unlinkSlice(key: string, slice: SlimSlice): void {
    const svcKey = `${slice.namespace}/${slice.service}`;
    const set = this.slicesOf.get(svcKey);
    set?.delete(key);
    if (set?.size === 0) this.slicesOf.delete(svcKey);
    this.markService(svcKey);
  }

  private markPod(podKey: string): void {
    for (const svc of this.servicesOfPod.get(podKey) ?? []) this.markService(svc);
  }

  private markService(key: string): void {
    this.dirty.add(key);
    this.schedule();
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const keys = [...this.dirty];
    this.dirty.clear();
    for (const key of keys) {
      try {
        this.rebuild(key);
      } catch (err) {
        this.opts.logger.error({ service: key, err: (err as Error).message }, 'Kubernetes service could not be applied to the catalog');
      }
    }
    if (this.splitsDirty) {
      this.splitsDirty = false;
      this.applySplits();
    }
    if (this.nodesDirty) {
      this.nodesDirty = false;
      this.applyNodes();
    }
    this.lastSync = Date.now();
    this.opts.metrics?.synced(this.lastSync);
    this.opts.metrics?.objects('services', this.services.size);
    this.opts.metrics?.objects('endpointslices', this.slices.size);
    if (this.opts.podWeights) this.opts.metrics?.objects('pods', this.podWeights.size);
    if (this.opts.nodes === true) this.opts.metrics?.objects('nodes', this.nodes.size);
    for (const api of MESH_APIS) {
      const count = api.kind === 'DestinationRule' ? this.destinationRules.size : [...this.routes.keys()].filter((k) => k.startsWith(`${api.id}|`)).length;
      if (this.meshReflectors.has(api.id) || count > 0) this.opts.metrics?.objects(api.id, count);
    }
  }

  /** Resolves every apex's split from the mesh objects and gives the catalog what changed. */
  private applySplits(): void {
    const { catalog } = this.opts;
    // Until the Services are listed, every backend would look unknown: wait (their sync schedules a flush).
    if (!this.reflectors.every((r) => r.resource !== 'services' || r.synced)) {
      this.splitsDirty = true;
      return;
    }
    const { splits, problems } = resolveSplits(this.routes.values(), (key) => this.services.has(key) || catalog.getByKey(key) !== undefined);
    for (const [apex, split] of splits) {
      if (JSON.stringify(this.appliedSplits.get(apex)) === JSON.stringify(split)) continue;
      this.appliedSplits.set(apex, split);
      const [ns, name] = apex.split('/') as [string, string];
      catalog.setSplit(ns, name, split);
      this.opts.logger.info({ service: apex, split: split.backends, from: split.origin }, 'traffic split applied');
    }
    for (const apex of [...this.appliedSplits.keys()]) {
      if (splits.has(apex)) continue;
      this.appliedSplits.delete(apex);
      const [ns, name] = apex.split('/') as [string, string];
      catalog.setSplit(ns, name, undefined);
      this.opts.logger.info({ service: apex }, 'traffic split ended');
    }
    this.reportOnce('split', problems.map((p) => ({ subject: p.object, message: p.message })));
  }

  /** Client zones: every Node's pod ranges with its zone label. */
  private applyNodes(): void {
    const ranges: ZoneRange[] = [];
    for (const node of [...this.nodes.values()]) for (const cidr of node.podCidrs) ranges.push({ cidr, zone: node.zone });
    ranges.sort((a, b) => a.cidr.localeCompare(b.cidr));
    this.opts.catalog.setClientZoneRanges(ranges);
  }

  /**
   * Logs each problem once while it lasts (a resync must not repeat it; fixed and broken again logs
   * again). `scope` keeps the sets of different checks apart.
   */
  private reportOnce(scope: string, current: { subject: string; message: string }[]): void {
    const now = new Set(current.map((p) => `${scope}|${p.subject}|${p.message}`));
    for (const p of current) {
      const text = `${scope}|${p.subject}|${p.message}`;
      if (this.reportedProblems.has(text)) continue;
      this.opts.logger.warn({ object: p.subject, problem: p.message }, 'Kubernetes object skipped in part or whole');
    }
    const kept = [...this.reportedProblems].filter((t) => !t.startsWith(`${scope}|`));
    this.reportedProblems = new Set([...kept, ...now]);
  }

  /** The policy Kubernetes gives a Service: its meshdns.io/ annotations over its DestinationRule's load balancer. */
  private policyOf(key: string, svc: SlimService | undefined): TrafficPolicy | undefined {
    if (svc === undefined) return undefined;
    const fields: Partial<TrafficPolicy> = {};
    const loadBalancer = this.ruleLoadBalancer(key);
    if (loadBalancer !== undefined) (fields as { loadBalancer?: LoadBalancer }).loadBalancer = loadBalancer;
    if (svc.policy !== undefined) {
      Object.assign(fields, svc.policy.fields);
      for (const problem of svc.policy.problems) {
        const text = `annotation|${key}|${problem}`;
        if (this.reportedProblems.has(text)) continue;
        this.reportedProblems.add(text);
        this.opts.logger.warn({ object: `Service ${key}`, problem }, 'Service annotation ignored');
      }
    }
    return Object.keys(fields).length === 0 ? undefined : { ...DEFAULT_POLICY, ...fields };
  }

  /** The load balancer of the most specific DestinationRule for the host (its own namespace first, then oldest). */
  private ruleLoadBalancer(key: string): LoadBalancer | undefined {
    const ns = key.slice(0, key.indexOf('/'));
    const rules = [...(this.rulesOfHost.get(key) ?? [])]
      .map((k) => this.destinationRules.get(k)!)
      .filter((r) => r.loadBalancer !== undefined)
      .sort((a, b) => Number(b.namespace === ns) - Number(a.namespace === ns) || (a.created || '~').localeCompare(b.created || '~') || `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
    return rules[0]?.loadBalancer;
  }

  /** Recomputes one Service's instances from its slices. */
  private rebuild(key: string): void {
    const [namespace, name] = key.split('/') as [string, string];
    const svc = this.services.get(key);
    const { catalog } = this.opts;
    catalog.setAlias(namespace, name, svc?.externalName === undefined ? undefined : `${svc.externalName.replace(/\.$/, '')}.`);
    const instances: Instance[] = [];
    const checks = new Map<string, CheckSpec>();
    if (svc !== undefined && svc.externalName === undefined) {
      for (const sliceKey of this.slicesOf.get(key) ?? []) {
        const slice = this.slices.get(sliceKey)!;
        const probe = usableProbe(slice.probe ?? svc.probe, key, this.opts.logger, this.reportedProbeErrors);
        for (const e of slice.endpoints) {
          const instance = this.instanceOf(svc, slice, e);
          if (instance === undefined) continue;
          instances.push(instance);
          if (probe !== undefined) checks.set(instance.id, checkFor(probe, e.address));
        }
      }
    }
    catalog.replaceService(namespace, name, 'kubernetes', dedupe(instances));
    catalog.setPolicy(namespace, name, this.policyOf(key, svc), 'kubernetes');
    this.syncProbes(namespace, name, checks);
  }

  private instanceOf(svc: SlimService, slice: SlimSlice, e: SlimEndpoint): Instance | undefined {
    let health: HealthState;
    if (e.terminating) health = e.serving ? 'draining' : 'unhealthy';
    else if (e.ready || svc.publishNotReadyAddresses) health = 'healthy';
    else health = 'unhealthy';
    const podWeight = this.opts.podWeights && e.pod !== undefined ? this.podWeights.get(`${svc.namespace}/${e.pod}`) : undefined;
    const id = addressLabel(e.address);
    if (!isDnsLabel(id)) return undefined;
    return {
      id,
      name: e.hostname !== undefined && isDnsLabel(e.hostname) ? e.hostname : undefined,
      source: 'kubernetes',
      address: e.address,
      ports: slice.ports,
      weight: podWeight ?? slice.weight ?? 100,
      zone: e.zone,
      ...(e.hintZones === undefined ? {} : { hintZones: e.hintZones }),
      health,
    };
  }

  private syncProbes(namespace: string, service: string, checks: Map<string, CheckSpec>): void {
    const health = this.opts.health;
    if (health === undefined) return;
    const key = `${namespace}/${service}`;
    const before = this.probed.get(key) ?? new Set<string>();
    for (const id of before) if (!checks.has(id)) health.untrack({ namespace, service, source: 'kubernetes', id });
    for (const [id, check] of checks) health.track({ namespace, service, source: 'kubernetes', id }, check);
    if (checks.size > 0) this.probed.set(key, new Set(checks.keys()));
    else this.probed.delete(key);
  }

  counts(): { services: number; endpointslices: number; pods: number } {
    return { services: this.services.size, endpointslices: this.slices.size, pods: this.podWeights.size };
  }
}

function inScope(key: string, ns: string | undefined): boolean {
  return ns === undefined || key.startsWith(`${ns}/`);
}

/** The same address in two slices (a migration between slices) is one instance. */
function dedupe(instances: Instance[]): Instance[] {
  const byId = new Map<string, Instance>();
  for (const i of instances) {
    const prev = byId.get(i.id);
    if (prev === undefined || (prev.health !== 'healthy' && i.health === 'healthy')) byId.set(i.id, i);
  }
  return [...byId.values()];
}

function usableProbe(p: ProbeAnnotation | Error | undefined, service: string, logger: Logger, reported: Set<string>): ProbeAnnotation | undefined {
  if (p instanceof Error) {
    if (!reported.has(`${service}:${p.message}`)) {
      reported.add(`${service}:${p.message}`);
      logger.warn({ service, err: p.message }, 'ignoring a malformed probe annotation');
    }
    return undefined;
  }
  return p;
}
