import { CoreV1Api, DiscoveryV1Api, Watch, type KubeConfig } from './kube-client.js';
import type { Logger } from 'pino';
import type { Catalog } from '../../catalog/catalog.js';
import type { HealthState, Instance, Mutable } from '../../catalog/types.js';
import { addressLabel, isDnsLabel } from '../../catalog/validate.js';
import type { HealthMonitor } from '../../health/health-monitor.js';
import type { CheckSpec } from '../../catalog/check-spec.js';
import type { ProbeAnnotation } from './annotations.js';
import { inScope, PAGE, Reflector, type ListPage, type ReflectorSpec } from './reflector.js';
import { convertNode, convertPod, convertService, convertSlice, type SlimEndpoint, type SlimNode, type SlimPod, type SlimService, type SlimSlice } from './slim-objects.js';
import { DEFAULT_POLICY, type LoadBalancer, type TrafficPolicy } from '../../catalog/policy.js';
import type { ZoneRange } from '../../catalog/catalog.js';
import { MeshTraffic } from './mesh-traffic.js';
import { ServiceImports } from './service-imports.js';

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
  /**
   * Another cluster than the local one (`--kubernetes-cluster NAME=…`): its instances carry the name; its mesh
   * objects split services for its own clients; policies and aliases are the local cluster's.
   */
  cluster?: string;
  /** Serve the Multi-Cluster Services API's ServiceImports (the local cluster's) under the cluster-set domain. */
  clusterSet?: boolean;
  /**
   * Called once, when the first complete lists are in the catalog, before the source counts as synced (the
   * server compacts the heap there: see compactAfterLoad). Another cluster's source has none: its lists come
   * while the server answers, and a pause then would be a pause in answers.
   */
  onFirstLists?: () => void;
}

export interface KubernetesMetrics {
  synced(at: number): void;
  restart(resource: string, reason: string): void;
  error?(resource: string, stage: 'list' | 'watch'): void;
  objects(resource: string, count: number): void;
  /** Mesh traffic objects of a kind, followed or skipped. */
  meshObjects?(kind: string, state: 'followed' | 'skipped', count: number): void;
}


function checkFor(probe: ProbeAnnotation, address: string): CheckSpec {
  const host = address.includes(':') ? `[${address}]` : address;
  const timing = { intervalMs: probe.intervalMs, timeoutMs: probe.timeoutMs, healthyThreshold: 2, unhealthyThreshold: 3 };
  if (probe.kind === 'http') return { http: `http://${host}:${probe.port}${probe.path}`, ...timing };
  if (probe.kind === 'grpc') return { grpc: `${host}:${probe.port}`, grpcService: probe.path, grpcTls: false, ...timing };
  return { tcp: `${host}:${probe.port}`, ...timing };
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
  private readonly pods = new Map<string, SlimPod>();
  /** The Pods reflector, started at once with pod weights, or when mesh objects first need Pods. */
  private podReflectors: Reflector<SlimPod>[] = [];
  private podsDirty = false;
  /**
   * With pod weights only (a Pod's weight changes re-weigh its services): the services each Pod is an endpoint of,
   * one nearly always (a Set past one). Without pod weights nothing reads it, and a Set a Pod cost ~23 MB at 100,000
   * endpoints; links go when the slices naming them go (kept for every Pod ever seen, it grew with each rollout).
   */
  private readonly servicesOfPod = new Map<string, string | Set<string>>();
  private readonly probed = new Map<string, Set<string>>();
  private readonly dirty = new Set<string>();
  private flushScheduled = false;
  private readonly reflectors: Reflector<unknown>[] = [];
  private readonly reportedProbeErrors = new Set<string>();
  private readonly nodes = new Map<string, SlimNode>();
  /** Annotation problems already logged (each once). */
  private readonly reportedAnnotations = new Set<string>();
  private splitsDirty = false;
  private nodesDirty = false;
  /** The mesh's traffic objects, with --kubernetes-mesh-objects on. */
  private mesh: MeshTraffic | undefined;
  /** ServiceImports and their imported EndpointSlices, with a cluster-set domain. */
  private imports: ServiceImports | undefined;
  lastSync = 0;

  constructor(private readonly opts: KubernetesSourceOptions) {}

  get synced(): boolean {
    // A reflector is synced a turn of the event loop before the flush that applies its list: /readyz must not
    // say ready in between. Once the first lists are applied, later flushes do not count (no flapping).
    return this.listsSynced() && (this.firstListsApplied || !this.flushScheduled);
  }

  /** The first complete lists are in the catalog (set by the flush that applies them). */
  private firstListsApplied = false;

  private listsSynced(): boolean {
    return this.reflectors.length > 0 && this.reflectors.every((r) => r.synced) && (this.mesh?.synced ?? true) && (this.imports?.synced ?? true);
  }

  /** Listed, and every list and watch request answered since: false while the cluster's API is down (its last state is still answered). */
  get connected(): boolean {
    return this.synced && this.reflectors.every((r) => !r.failing) && this.podReflectors.every((r) => !r.failing);
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
          for (const key of [...this.slices.keys(), ...(this.imports?.sliceKeys() ?? [])]) if (inScope(key, ns) && !all.has(key)) this.deleteSlice(key);
          for (const [key, value] of all) this.upsertSlice(key, value);
        },
        onUpsert: (key, value) => this.upsertSlice(key, value),
        onDelete: (key) => this.deleteSlice(key),
      });
    }
    if (this.opts.podWeights) this.startPods(true);
    if (this.opts.nodes === true) {
      this.add<SlimNode>({
        resource: 'nodes',
        path: '/api/v1/nodes',
        watch,
        list: (token) => core.listNode({ limit: PAGE, _continue: token }) as Promise<ListPage>,
        convert: convertNode,
        onReplace: (all) => this.replace(this.nodes, all, undefined, () => this.markNodes()),
        onUpsert: (key, value) => {
          this.nodes.set(key, value);
          this.markNodes();
        },
        onDelete: (key) => {
          if (this.nodes.delete(key)) this.markNodes();
        },
      });
    }
    logger.info(
      { namespaces: namespaces.length ? namespaces : 'all', labelSelector, podWeights: this.opts.podWeights, meshObjects: this.opts.meshObjects === true, nodes: this.opts.nodes === true },
      'Kubernetes source starting',
    );
    for (const r of this.reflectors) r.start();
    if (this.opts.clusterSet === true && this.opts.cluster === undefined) {
      this.imports = new ServiceImports({
        kubeConfig: this.opts.kubeConfig,
        logger,
        namespaces,
        discoveryIntervalMs: this.opts.discoveryIntervalMs ?? 30_000,
        reflector: (spec) => this.add({ ...spec, watch }, false),
        onChange: (services) => {
          this.opts.catalog.setClusterSet(services);
          // Its first discovery may be the last thing the first lists wait for: a flush says so.
          this.schedule();
        },
      });
      this.imports.start();
    }
    if (this.opts.meshObjects === true) {
      this.mesh = new MeshTraffic({
        ...(this.opts.cluster === undefined ? {} : { cluster: this.opts.cluster }),
        kubeConfig: this.opts.kubeConfig,
        catalog: this.opts.catalog,
        logger,
        namespaces,
        clusterDomain: this.opts.clusterDomain ?? 'cluster.local',
        discoveryIntervalMs: this.opts.discoveryIntervalMs ?? 30_000,
        reflector: (spec) => this.add({ ...spec, watch }, false),
        onSplitsChanged: () => {
          this.splitsDirty = true;
          this.schedule();
        },
        onRuleChanged: (serviceKey) => this.markService(serviceKey),
        onStates: (kind, state, count) => this.opts.metrics?.meshObjects?.(kind, state, count),
      });
      this.mesh.start();
    }
  }

  stop(): void {
    for (const r of this.reflectors) r.stop();
    for (const r of this.podReflectors) r.stop();
    this.mesh?.stop();
    this.imports?.stop();
  }

  /**
   * Watches Pods: for pod weights (from the start, part of readiness), or once mesh objects need them
   * (subsets, consumer routes): then they do not hold readiness back, and splits wait for their first list.
   */
  private startPods(fixed: boolean): void {
    if (this.podReflectors.length > 0) return;
    const { kubeConfig, namespaces } = this.opts;
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const watch = new Watch(kubeConfig);
    const scopes: (string | undefined)[] = namespaces.length === 0 ? [undefined] : [...namespaces];
    for (const ns of scopes) {
      const reflector = this.add<SlimPod>(
        {
          resource: 'pods',
          path: ns === undefined ? '/api/v1/pods' : `/api/v1/namespaces/${ns}/pods`,
          watch,
          list: (token) =>
            (ns === undefined ? core.listPodForAllNamespaces({ limit: PAGE, _continue: token }) : core.listNamespacedPod({ namespace: ns, limit: PAGE, _continue: token })) as Promise<ListPage>,
          convert: convertPod,
          onReplace: (all) => this.replace(this.pods, all, ns, (key) => this.markPod(key)),
          onUpsert: (key, pod) => {
            const previous = this.pods.get(key);
            if (previous !== undefined && previous.weight === pod.weight && previous.labels === pod.labels && previous.ips.join() === pod.ips.join()) return;
            this.pods.set(key, pod);
            this.markPod(key);
          },
          onDelete: (key) => {
            if (this.pods.delete(key)) this.markPod(key);
          },
        },
        fixed,
      );
      this.podReflectors.push(reflector);
      if (!fixed) reflector.start();
    }
    if (!fixed) this.opts.logger.info({}, 'watching Pods: mesh objects need their labels (Istio subsets) or their namespaces (consumer routes)');
  }

  private markNodes(): void {
    this.nodesDirty = true;
    this.schedule();
  }

  /** A reflector reporting to this source; `fixed` ones run from start to stop (mesh kinds come and go). */
  private add<T>(spec: ReflectorSpec<T> & { watch: Watch }, fixed = true): Reflector<T> {
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
    if (slice.imported !== undefined) {
      // An imported slice belongs to a ServiceImport (clusterset.local), never to the Service of its name.
      this.deleteSlice(key);
      this.imports?.setSlice(key, slice);
      return;
    }
    this.imports?.setSlice(key, undefined);
    const previous = this.slices.get(key);
    if (previous !== undefined) this.unlinkSlice(key, previous);
    this.slices.set(key, slice);
    const svcKey = `${slice.namespace}/${slice.service}`;
    let set = this.slicesOf.get(svcKey);
    if (set === undefined) this.slicesOf.set(svcKey, (set = new Set()));
    set.add(key);
    if (this.opts.podWeights) for (const e of slice.endpoints) if (e.pod !== undefined) this.linkPod(podKeyOf(slice.namespace, e.pod), svcKey);
    this.markService(svcKey);
  }

  private linkPod(podKey: string, svcKey: string): void {
    const current = this.servicesOfPod.get(podKey);
    if (current === undefined) this.servicesOfPod.set(podKey, svcKey);
    else if (typeof current === 'string') {
      if (current !== svcKey) this.servicesOfPod.set(podKey, new Set([current, svcKey]));
    } else current.add(svcKey);
  }

  /** A removed slice's Pods stop naming its service, unless another slice of the service still has them (dual-stack: one slice a family). */
  private unlinkPods(slice: SlimSlice, svcKey: string): void {
    const others = [...(this.slicesOf.get(svcKey) ?? [])].flatMap((k) => this.slices.get(k) ?? []);
    for (const { pod } of slice.endpoints) {
      if (pod === undefined || others.some((o) => o.endpoints.hasPod(pod))) continue;
      const podKey = podKeyOf(slice.namespace, pod);
      const current = this.servicesOfPod.get(podKey);
      if (current === svcKey) this.servicesOfPod.delete(podKey);
      else if (typeof current === 'object') {
        current.delete(svcKey);
        if (current.size === 1) this.servicesOfPod.set(podKey, [...current][0]!);
      }
    }
  }

  private deleteSlice(key: string): void {
    this.imports?.setSlice(key, undefined);
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
    if (this.opts.podWeights) this.unlinkPods(slice, svcKey);
    this.markService(svcKey);
  }

  private markPod(podKey: string): void {
    // Filled only with pod weights on: empty (nothing to re-weigh) otherwise.
    const services = this.servicesOfPod.get(podKey);
    if (typeof services === 'string') this.markService(services);
    else if (services !== undefined) for (const svc of services) this.markService(svc);
    this.podsDirty = true;
    // Labels decide subsets: splits are resolved again.
    if (this.mesh !== undefined) this.splitsDirty = true;
    this.schedule();
  }

  private markService(key: string): void {
    this.dirty.add(key);
    if (this.mesh?.hasSubsets(key) === true) this.splitsDirty = true;
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
    if (this.mesh?.needsPods === true && this.podReflectors.length === 0) this.startPods(false);
    // Until the Services (and Pods, when watched) are listed every backend would look unknown, every subset
    // empty: wait (their sync schedules a flush).
    const listed = this.reflectors.every((r) => r.resource !== 'services' || r.synced) && this.podReflectors.every((r) => r.synced);
    if (this.splitsDirty && this.mesh !== undefined && listed) {
      this.splitsDirty = false;
      this.mesh.applySplits(
        (key) => this.services.has(key) || this.opts.catalog.getByKey(key) !== undefined,
        (key, labels) => this.membersWithLabels(key, labels),
      );
    }
    if (this.podsDirty && this.podReflectors.every((r) => r.synced)) {
      this.podsDirty = false;
      this.applyPodNamespaces();
    }
    if (this.nodesDirty) {
      this.nodesDirty = false;
      this.applyNodes();
    }
    if (!this.firstListsApplied && this.listsSynced()) {
      // Before /readyz can say ready: the server compacts the local cluster's first lists' garbage away here.
      this.opts.onFirstLists?.();
      this.firstListsApplied = true;
    }
    this.lastSync = Date.now();
    this.opts.metrics?.synced(this.lastSync);
    this.opts.metrics?.objects('services', this.services.size);
    this.opts.metrics?.objects('endpointslices', this.slices.size);
    if (this.podReflectors.length > 0) this.opts.metrics?.objects('pods', this.pods.size);
    if (this.opts.nodes === true) this.opts.metrics?.objects('nodes', this.nodes.size);
    for (const [resource, count] of this.mesh?.counts() ?? []) this.opts.metrics?.objects(resource, count);
  }

  /** Client namespaces (consumer routes): every Pod address with its namespace. */
  private applyPodNamespaces(): void {
    const entries = new Map<string, string>();
    for (const [key, pod] of this.pods) {
      const ns = key.slice(0, key.indexOf('/'));
      for (const ip of pod.ips) entries.set(ip, ns);
    }
    this.opts.catalog.setClientNamespaces(entries, this.opts.cluster);
  }

  /** The ids of a Service's endpoints whose Pods carry every one of the labels (an Istio subset). */
  private membersWithLabels(serviceKey: string, labels: Readonly<Record<string, string>>): string[] {
    const ns = serviceKey.slice(0, serviceKey.indexOf('/'));
    const wanted = Object.entries(labels);
    const out: string[] = [];
    for (const sliceKey of this.slicesOf.get(serviceKey) ?? []) {
      for (const e of this.slices.get(sliceKey)!.endpoints) {
        if (e.pod === undefined) continue;
        const pod = this.pods.get(`${ns}/${e.pod}`);
        if (pod !== undefined && wanted.every(([k, v]) => pod.labels[k] === v)) out.push(addressLabel(e.address));
      }
    }
    return out.sort();
  }

  /** Client zones: every Node's pod ranges with its zone label. */
  private applyNodes(): void {
    const ranges: ZoneRange[] = [];
    const cluster = this.opts.cluster;
    for (const node of [...this.nodes.values()]) for (const cidr of node.podCidrs) ranges.push({ cidr, zone: node.zone, ...(cluster === undefined ? {} : { cluster }) });
    ranges.sort((a, b) => a.cidr.localeCompare(b.cidr));
    this.opts.catalog.setClientZoneRanges(ranges, cluster);
  }

  /** The policy Kubernetes gives a Service: its meshdns.io/ annotations over its DestinationRule's load balancer. */
  private policyOf(key: string, svc: SlimService | undefined): TrafficPolicy | undefined {
    if (svc === undefined) return undefined;
    const fields: Partial<TrafficPolicy> = {};
    const loadBalancer = this.mesh?.loadBalancerOf(key);
    if (loadBalancer !== undefined) (fields as { loadBalancer?: LoadBalancer }).loadBalancer = loadBalancer;
    if (svc.policy !== undefined) {
      Object.assign(fields, svc.policy.fields);
      for (const problem of svc.policy.problems) {
        const text = `${key}|${problem}`;
        if (this.reportedAnnotations.has(text)) continue;
        this.reportedAnnotations.add(text);
        this.opts.logger.warn({ object: `Service ${key}`, problem }, 'Service annotation ignored');
      }
    }
    return Object.keys(fields).length === 0 ? undefined : { ...DEFAULT_POLICY, ...fields };
  }

  /** Recomputes one Service's instances from its slices. */
  private rebuild(key: string): void {
    const [namespace, name] = key.split('/') as [string, string];
    const svc = this.services.get(key);
    const { catalog, cluster } = this.opts;
    const local = cluster === undefined;
    if (local) catalog.setAlias(namespace, name, svc?.externalName === undefined ? undefined : this.aliasOf(key, svc.externalName));
    const instances: Instance[] = [];
    const checks = new Map<string, CheckSpec>();
    if (svc !== undefined && svc.externalName === undefined) {
      for (const sliceKey of this.slicesOf.get(key) ?? []) {
        const slice = this.slices.get(sliceKey)!;
        const probe = usableProbe(slice.probe ?? svc.probe, key, this.opts.logger, this.reportedProbeErrors);
        for (const problem of slice.skippedPorts ?? []) this.reportOnce(`EndpointSlice ${sliceKey}`, problem, 'EndpointSlice port left out; the endpoints keep their address and other ports');
        for (const e of slice.endpoints) {
          const instance = this.instanceOf(svc, slice, e);
          if (instance === undefined) continue;
          instances.push(instance);
          if (probe !== undefined) checks.set(instance.id, checkFor(probe, e.address));
        }
      }
    }
    catalog.replaceService(namespace, name, 'kubernetes', dedupe(instances), cluster);
    if (local) {
      // A Service without endpoints still exists: its name is NODATA, not NXDOMAIN (which resolvers cache).
      catalog.declare(namespace, name, svc !== undefined && (svc.externalName === undefined || catalog.getByKey(key)?.alias === undefined));
      catalog.setPolicy(namespace, name, this.policyOf(key, svc), 'kubernetes');
    }
    this.syncProbes(namespace, name, checks);
  }

  /** An ExternalName as a CNAME target; one that is not a DNS name is not served (and said so once). */
  private aliasOf(key: string, externalName: string): string | undefined {
    const name = externalName.replace(/\.$/, '');
    const labels = name.split('.');
    if (name.length <= 253 && labels.every((l) => /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l))) return `${name}.`;
    this.reportOnce(`Service ${key}`, `spec.externalName ${JSON.stringify(externalName)} is not a DNS name`, 'ExternalName Service not served: its name answers NODATA');
    return undefined;
  }

  private readonly reported = new Set<string>();

  private reportOnce(object: string, problem: string, message: string): void {
    const text = `${object}|${problem}`;
    if (this.reported.has(text)) return;
    this.reported.add(text);
    this.opts.logger.warn({ object, problem }, message);
  }

  private instanceOf(svc: SlimService, slice: SlimSlice, e: SlimEndpoint): Instance | undefined {
    let health: HealthState;
    if (e.terminating) health = e.serving ? 'draining' : 'unhealthy';
    else if (e.ready || svc.publishNotReadyAddresses) health = 'healthy';
    else health = 'unhealthy';
    const podWeight = this.opts.podWeights && e.pod !== undefined ? this.pods.get(podKeyOf(svc.namespace, e.pod))?.weight : undefined;
    const id = addressLabel(e.address);
    if (!isDnsLabel(id)) return undefined;
    // One literal of the fields every endpoint has, the rare ones (a hostname, a cluster, topology hints) assigned
    // after: the spread form left V8 room for more (~20 bytes an instance, 2 MB at 100,000 endpoints).
    const instance: Mutable<Instance> = {
      id,
      source: 'kubernetes',
      address: e.address,
      ports: slice.ports,
      weight: podWeight ?? slice.weight ?? 100,
      zone: e.zone,
      health,
    };
    if (e.hostname !== undefined && isDnsLabel(e.hostname)) instance.name = e.hostname;
    if (this.opts.cluster !== undefined) instance.cluster = this.opts.cluster;
    if (e.hintZones !== undefined) instance.hintZones = e.hintZones;
    return instance;
  }

  private syncProbes(namespace: string, service: string, checks: Map<string, CheckSpec>): void {
    const health = this.opts.health;
    if (health === undefined) return;
    const key = `${namespace}/${service}`;
    const before = this.probed.get(key) ?? new Set<string>();
    const cluster = this.opts.cluster;
    for (const id of before) if (!checks.has(id)) health.untrack({ namespace, service, source: 'kubernetes', id, cluster });
    for (const [id, check] of checks) health.track({ namespace, service, source: 'kubernetes', id, cluster }, check);
    if (checks.size > 0) this.probed.set(key, new Set(checks.keys()));
    else this.probed.delete(key);
  }

  counts(): { services: number; endpointslices: number; pods: number } {
    return { services: this.services.size, endpointslices: this.slices.size, pods: this.pods.size };
  }
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

/** A Pod's key as the Pods reflector keys it (`<namespace>/<name>`), one flat string (a template is a cons string a map would keep). */
function podKeyOf(namespace: string, pod: string): string {
  return [namespace, pod].join('/');
}
