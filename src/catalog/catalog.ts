import { assertValidInstance, instanceProblem } from './validate.js';
import { DEFAULT_POLICY, type TrafficPolicy } from './policy.js';
import { backendsOf, type TrafficSplit } from './split.js';
import type { ClusterSetService } from './clusterset.js';
import { instanceKey, isHeldBy, keyOfInstance, serviceKey, type HealthState, type Instance, type InstanceSource, type ProbeHealth, type Service } from './types.js';
import { InstanceTable } from './instance-table.js';

export type CatalogListener = (changedServiceKeys: ReadonlySet<string>) => void;

/** Who set a service's policy: the REST API wins over Kubernetes (Service annotations, DestinationRules). */
export type PolicySource = 'rest' | 'kubernetes';

/** A client address range and its zone (a Node's podCIDR and its topology.kubernetes.io/zone label). */
export interface ZoneRange {
  readonly cidr: string;
  /** The Node's zone label; empty when it has none. */
  readonly zone: string;
  /** The cluster whose Node it is (undefined: the local one). */
  readonly cluster?: string;
}

interface MutableService {
  readonly namespace: string;
  readonly name: string;
  readonly instances: InstanceTable<Instance>;
  alias?: string;
}

/** An entry of a bulk write that the catalog could not hold: skipped, the rest applied. */
export interface RejectedInstance {
  readonly namespace: string;
  readonly service: string;
  readonly source: InstanceSource;
  readonly id: string;
  readonly reason: string;
}

export interface CatalogOptions {
  /** Told of every entry a bulk write skipped (for a log line and a metric). */
  onRejected?: (rejected: RejectedInstance) => void;
}

export interface SourcedInstance {
  readonly namespace: string;
  readonly service: string;
  readonly instance: Instance;
}

/**
 * The single in-memory model of services and instances from every source.
 * Writes are validated, applied, and announced to listeners synchronously
 * with the set of services that changed, so derived answer data is rebuilt
 * once per change and never per query.
 */
export class Catalog {
  private readonly services = new Map<string, MutableService>();
  private readonly listeners: CatalogListener[] = [];
  /** Traffic policies by service key and source; a service without one follows DEFAULT_POLICY. */
  private readonly policies = { rest: new Map<string, TrafficPolicy>(), kubernetes: new Map<string, TrafficPolicy>() };
  /** Traffic splits by apex service key. */
  private readonly splits = new Map<string, TrafficSplit>();
  /** Other clusters' splits (their mesh objects), for their own clients: cluster → apex key → split. */
  private readonly clusterSplits = new Map<string, Map<string, TrafficSplit>>();
  /** For each backend, the apexes whose splits name it (views of an apex change when a backend does). */
  private readonly apexesByBackend = new Map<string, Set<string>>();
  private zoneRanges: readonly ZoneRange[] = [];
  private readonly zoneListeners: ((ranges: readonly ZoneRange[]) => void)[] = [];

  constructor(private readonly opts: CatalogOptions = {}) {}

  onChange(listener: CatalogListener): void {
    this.listeners.push(listener);
  }

  get(namespace: string, name: string): Service | undefined {
    return this.services.get(serviceKey(namespace, name));
  }

  getByKey(key: string): Service | undefined {
    return this.services.get(key);
  }

  all(): IterableIterator<Service> {
    return this.services.values();
  }

  /** The policy in force: the REST one, else the one from Kubernetes, else the defaults. */
  policyOf(key: string): TrafficPolicy {
    return this.policies.rest.get(key) ?? this.policies.kubernetes.get(key) ?? DEFAULT_POLICY;
  }

  /** Whether a policy was set for the service by any source (GET /policy answers defaults either way). */
  hasPolicy(key: string): boolean {
    return this.policies.rest.has(key) || this.policies.kubernetes.has(key);
  }

  /** Which source's policy is in force, if any. */
  policySource(key: string): PolicySource | undefined {
    return this.policies.rest.has(key) ? 'rest' : this.policies.kubernetes.has(key) ? 'kubernetes' : undefined;
  }

  /** Every service key, sorted: services with instances, and those that so far have only a policy or a split. */
  keys(): string[] {
    return [...new Set([...this.services.keys(), ...this.policies.rest.keys(), ...this.policies.kubernetes.keys(), ...this.splits.keys(), ...this.declared])].sort();
  }

  /** Services a source says exist even without instances (a Kubernetes Service with no endpoints yet). */
  private readonly declared = new Set<string>();

  /**
   * Says the service exists whatever its instances (its names answer NODATA rather than NXDOMAIN while it
   * has none, as CoreDNS answers a Service without endpoints), or no longer does.
   */
  declare(namespace: string, service: string, exists: boolean): void {
    const key = serviceKey(namespace, service);
    if (exists === this.declared.has(key)) return;
    if (exists) this.declared.add(key);
    else this.declared.delete(key);
    this.emit(new Set([key]));
  }

  isDeclared(key: string): boolean {
    return this.declared.has(key);
  }

  /** Sets a service's policy from one source, or removes that source's (undefined); announces the service. */
  setPolicy(namespace: string, service: string, policy: TrafficPolicy | undefined, source: PolicySource = 'rest'): void {
    const key = serviceKey(namespace, service);
    const map = this.policies[source];
    if (policy === undefined) {
      if (!map.delete(key)) return;
    } else {
      if (JSON.stringify(map.get(key)) === JSON.stringify(policy)) return;
      map.set(key, policy);
    }
    this.emit(new Set([key]));
  }

  /** Services whose names answer a split for every client (the local cluster's mesh objects): a count, for metrics. */
  get splitCount(): number {
    return this.splits.size;
  }

  /** Services in the catalog: a count, for metrics (no iteration per scrape). */
  get serviceCount(): number {
    return this.services.size;
  }

  /** The split in force for the local cluster's clients (and every client another cluster's split does not cover); with `cluster`, that cluster's own. */
  splitOf(key: string, cluster?: string): TrafficSplit | undefined {
    return cluster === undefined ? this.splits.get(key) : this.clusterSplits.get(cluster)?.get(key);
  }

  /** The splits other clusters' mesh objects give this apex, for their own clients: cluster → split. */
  clusterSplitsOf(key: string): ReadonlyMap<string, TrafficSplit> {
    const out = new Map<string, TrafficSplit>();
    for (const [cluster, splits] of this.clusterSplits) {
      const split = splits.get(key);
      if (split !== undefined) out.set(cluster, split);
    }
    return out;
  }

  /**
   * Makes the service the apex of a traffic split, or ends it (undefined); announces the service. `cluster`:
   * another cluster's split, in force for that cluster's clients only.
   */
  setSplit(namespace: string, service: string, split: TrafficSplit | undefined, cluster?: string): void {
    this.setSplitOf(serviceKey(namespace, service), split, cluster);
  }

  private setSplitOf(key: string, split: TrafficSplit | undefined, cluster: string | undefined): void {
    let map = cluster === undefined ? this.splits : this.clusterSplits.get(cluster);
    if (map === undefined) {
      if (split === undefined) return;
      this.clusterSplits.set(cluster!, (map = new Map()));
    }
    const previous = map.get(key);
    if (split === undefined ? previous === undefined : JSON.stringify(previous) === JSON.stringify(split)) return;
    const before = this.backendsOfApex(key);
    if (split === undefined) map.delete(key);
    else map.set(key, split);
    const after = this.backendsOfApex(key);
    for (const b of before) if (!after.has(b)) this.apexesByBackend.get(b)?.delete(key);
    for (const b of after) {
      let set = this.apexesByBackend.get(b);
      if (set === undefined) this.apexesByBackend.set(b, (set = new Set()));
      set.add(key);
    }
    this.emit(new Set([key]));
  }

  /** Every backend an apex's splits name: the local one's and every other cluster's. */
  private backendsOfApex(key: string): Set<string> {
    const out = new Set<string>(backendsOf(this.splits.get(key)));
    for (const splits of this.clusterSplits.values()) for (const b of backendsOf(splits.get(key))) out.add(b);
    return out;
  }

  /** The apexes whose splits name this service as a backend. */
  apexesOf(backendKey: string): ReadonlySet<string> {
    return this.apexesByBackend.get(backendKey) ?? EMPTY;
  }

  /** Client address ranges with their zones learnt from Kubernetes Nodes (beside --client-zone). */
  clientZoneRanges(): readonly ZoneRange[] {
    return this.zoneRanges;
  }

  /** Each cluster's Node ranges (key '' for the local cluster): every watched cluster places its own clients. */
  private readonly rangesByCluster = new Map<string, readonly ZoneRange[]>();

  /** One cluster's ranges (undefined: the local one's); without a cluster, as a worker's primary sends them, all. */
  setClientZoneRanges(ranges: readonly ZoneRange[], cluster?: string | null): void {
    let merged: readonly ZoneRange[] = ranges;
    if (cluster !== null) {
      this.rangesByCluster.set(cluster ?? '', ranges);
      merged = [...this.rangesByCluster.values()].flat();
    }
    if (JSON.stringify(merged) === JSON.stringify(this.zoneRanges)) return;
    this.zoneRanges = merged;
    for (const l of this.zoneListeners) l(merged);
  }

  onClientZoneRanges(listener: (ranges: readonly ZoneRange[]) => void): void {
    this.zoneListeners.push(listener);
  }

  private clusterSetServices: readonly ClusterSetService[] = [];
  private readonly clusterSetListeners: ((services: readonly ClusterSetService[]) => void)[] = [];

  /** The services imported into the cluster set (MCS API), served under --clusterset-domain. */
  clusterSet(): readonly ClusterSetService[] {
    return this.clusterSetServices;
  }

  /** Replaced whole (the local cluster's ServiceImports, or a worker's primary). */
  setClusterSet(services: readonly ClusterSetService[]): void {
    this.clusterSetServices = services;
    for (const l of this.clusterSetListeners) l(services);
  }

  onClusterSet(listener: (services: readonly ClusterSetService[]) => void): void {
    this.clusterSetListeners.push(listener);
  }

  private podNamespaces: ReadonlyMap<string, string> = new Map();
  private readonly namespaceListeners: ((entries: ReadonlyMap<string, string>) => void)[] = [];

  /** The namespace of the Pod at a client address (consumer routes), when Pods are watched. */
  clientNamespaceOf(address: string): string | undefined {
    return this.podNamespaces.get(address);
  }

  clientNamespaces(): ReadonlyMap<string, string> {
    return this.podNamespaces;
  }

  /** Pod address → namespace, replaced whole (the Kubernetes source, or a worker's primary). */
  private readonly namespacesByCluster = new Map<string, ReadonlyMap<string, string>>();

  /** One cluster's (undefined: the local one's); null: the whole map, as a worker's primary sends it. */
  setClientNamespaces(entries: ReadonlyMap<string, string>, cluster?: string | null): void {
    let merged = entries;
    if (cluster !== null) {
      this.namespacesByCluster.set(cluster ?? '', entries);
      merged = this.namespacesByCluster.size === 1 ? entries : new Map([...this.namespacesByCluster.values()].flatMap((m) => [...m]));
    }
    this.podNamespaces = merged;
    for (const l of this.namespaceListeners) l(merged);
  }

  onClientNamespaces(listener: (entries: ReadonlyMap<string, string>) => void): void {
    this.namespaceListeners.push(listener);
  }

  upsert(namespace: string, service: string, instance: Instance): void {
    assertValidInstance(namespace, service, instance);
    const key = serviceKey(namespace, service);
    const svc = this.ensure(namespace, service, key);
    const iKey = keyOfInstance(instance);
    svc.instances.set(iKey, keepProbe(svc.instances.get(iKey), instance));
    this.emit(new Set([key]));
  }

  /**
   * Records what probes say. Announces a change only when the verdict or the
   * score moved; the last result alone is kept quietly (it is for the API).
   */
  setProbe(namespace: string, service: string, source: InstanceSource, id: string, probe: ProbeHealth | undefined, cluster?: string): boolean {
    const key = serviceKey(namespace, service);
    const svc = this.services.get(key);
    const iKey = instanceKey(source, id, cluster);
    const current = svc?.instances.get(iKey);
    if (svc === undefined || current === undefined) return false;
    const { probe: _old, ...rest } = current;
    svc.instances.set(iKey, probe === undefined ? rest : { ...rest, probe });
    const changed = current.probe?.healthy !== probe?.healthy || current.probe?.score !== probe?.score;
    if (changed) this.emit(new Set([key]));
    return true;
  }

  remove(namespace: string, service: string, source: InstanceSource, id: string): boolean {
    const key = serviceKey(namespace, service);
    const svc = this.services.get(key);
    if (svc === undefined || !svc.instances.delete(instanceKey(source, id))) return false;
    this.dropIfEmpty(key, svc);
    this.emit(new Set([key]));
    return true;
  }

  setHealth(namespace: string, service: string, source: InstanceSource, id: string, health: HealthState): boolean {
    const key = serviceKey(namespace, service);
    const svc = this.services.get(key);
    const iKey = instanceKey(source, id);
    const current = svc?.instances.get(iKey);
    if (svc === undefined || current === undefined) return false;
    if (current.health === health) return true;
    svc.instances.set(iKey, { ...current, health });
    this.emit(new Set([key]));
    return true;
  }

  /**
   * Replaces everything one source holds with a new snapshot (a zone-file
   * reload, a store load), announcing only the services that differ. An
   * entry the catalog cannot hold is skipped and reported, never taking
   * the rest of the snapshot with it.
   */
  replaceSource(source: InstanceSource, entries: readonly SourcedInstance[]): void {
    for (const s of entries) {
      if (s.instance.source !== source) throw new Error(`instance ${s.instance.id} is from ${s.instance.source}, not ${source}`);
    }
    const snapshot = entries.filter((s) => this.holdable(s.namespace, s.service, s.instance));
    const next = new Map<string, Map<string, Instance>>();
    for (const s of snapshot) {
      const key = serviceKey(s.namespace, s.service);
      let m = next.get(key);
      if (m === undefined) next.set(key, (m = new Map()));
      m.set(instanceKey(source, s.instance.id), s.instance);
    }
    const changed = new Set<string>();
    for (const [key, svc] of this.services) {
      const incoming = next.get(key);
      for (const [iKey, inst] of svc.instances) {
        if (!isHeldBy(inst, source)) continue;
        const replacement = incoming?.get(iKey);
        if (replacement === undefined) {
          svc.instances.delete(iKey);
          changed.add(key);
        } else if (!sameInstance(inst, replacement)) {
          changed.add(key);
        }
      }
      if (incoming === undefined) this.dropIfEmpty(key, svc);
    }
    for (const s of snapshot) {
      const key = serviceKey(s.namespace, s.service);
      const svc = this.ensure(s.namespace, s.service, key);
      const iKey = instanceKey(source, s.instance.id);
      if (!svc.instances.has(iKey)) changed.add(key);
      svc.instances.set(iKey, keepProbe(svc.instances.get(iKey), s.instance));
    }
    if (changed.size > 0) this.emit(changed);
  }

  /**
   * Replaces what one source holds for one service (a Kubernetes Service
   * whose EndpointSlices changed), announcing the service once, and only if
   * something differs.
   */
  replaceService(namespace: string, service: string, source: InstanceSource, given: readonly Instance[], cluster?: string): void {
    for (const i of given) {
      if (i.source !== source || i.cluster !== cluster) throw new Error(`instance ${i.id} is from ${i.source} ${i.cluster ?? ''}, not ${source} ${cluster ?? ''}`);
    }
    const instances = given.filter((i) => this.holdable(namespace, service, i));
    const key = serviceKey(namespace, service);
    // What one source holds for one cluster: another cluster's instances of the same service stay.
    const svc = this.services.get(key);
    const incoming = new Map(instances.map((i) => [keyOfInstance(i), i]));
    let changed = false;
    if (svc !== undefined) {
      for (const [iKey, inst] of svc.instances) {
        if (!isHeldBy(inst, source, cluster)) continue;
        const next = incoming.get(iKey);
        if (next === undefined) {
          svc.instances.delete(iKey);
          changed = true;
        } else if (!sameInstance(inst, next)) {
          changed = true;
        }
      }
    }
    if (incoming.size > 0) {
      const target = this.ensure(namespace, service, key);
      for (const [iKey, inst] of incoming) {
        if (!target.instances.has(iKey)) changed = true;
        target.instances.set(iKey, keepProbe(target.instances.get(iKey), inst));
      }
    } else if (svc !== undefined) {
      this.dropIfEmpty(key, svc);
    }
    if (changed) this.emit(new Set([key]));
  }

  /** Every instance and split another cluster's Kubernetes source gave (the cluster is no longer watched). */
  dropCluster(cluster: string): void {
    const changed = new Set<string>();
    for (const [key, svc] of this.services) {
      for (const [iKey, inst] of [...svc.instances]) {
        if (!isHeldBy(inst, 'kubernetes', cluster)) continue;
        svc.instances.delete(iKey);
        changed.add(key);
      }
      if (changed.has(key)) this.dropIfEmpty(key, svc);
    }
    // Its mesh objects' splits go with it.
    const splits = this.clusterSplits.get(cluster);
    if (splits !== undefined) {
      for (const key of [...splits.keys()]) this.setSplitOf(key, undefined, cluster);
      this.clusterSplits.delete(cluster);
    }
    if (changed.size > 0) this.emit(changed);
  }

  /** Makes the service a CNAME to `target` (absolute name), or stops that with undefined. */
  setAlias(namespace: string, service: string, target: string | undefined): void {
    const key = serviceKey(namespace, service);
    const current = this.services.get(key);
    if (current?.alias === target) return;
    if (target === undefined) {
      if (current === undefined) return;
      current.alias = undefined;
      this.dropIfEmpty(key, current);
    } else {
      this.ensure(namespace, service, key).alias = target;
    }
    this.emit(new Set([key]));
  }

  /**
   * Sets a service exactly as given, every source at once, or removes it
   * (undefined): how a worker process mirrors its primary's catalog. The
   * primary validated everything already.
   */
  restore(key: string, snapshot: { namespace: string; name: string; alias?: string; instances: readonly Instance[] } | undefined): void {
    if (snapshot === undefined) {
      if (this.services.delete(key)) this.emit(new Set([key]));
      return;
    }
    const instances = new InstanceTable(snapshot.instances.map((i) => [keyOfInstance(i), i] as const));
    this.services.set(key, { namespace: snapshot.namespace, name: snapshot.name, instances, alias: snapshot.alias });
    this.emit(new Set([key]));
  }

  private holdable(namespace: string, service: string, instance: Instance): boolean {
    const reason = instanceProblem(namespace, service, instance);
    if (reason === undefined) return true;
    this.opts.onRejected?.({ namespace, service, source: instance.source, id: instance.id, reason });
    return false;
  }

  private dropIfEmpty(key: string, svc: MutableService): void {
    if (svc.instances.size === 0 && svc.alias === undefined) this.services.delete(key);
  }

  /** The service, made if new; `key` is the one the caller announces, so the catalog and every table it feeds keep one string for it. */
  private ensure(namespace: string, name: string, key: string): MutableService {
    let svc = this.services.get(key);
    if (svc === undefined) {
      svc = { namespace, name, instances: new InstanceTable() };
      this.services.set(key, svc);
    }
    return svc;
  }

  /** Keys changed inside batch(): announced once at its end. */
  private batching: Set<string> | undefined;

  /**
   * Runs fn and announces every service it changed once, at the end: applying a snapshot of thousands of
   * services (a worker's replica) rebuilds each once instead of once per fact.
   */
  batch(fn: () => void): void {
    if (this.batching !== undefined) return fn();
    const keys = (this.batching = new Set<string>());
    try {
      fn();
    } finally {
      this.batching = undefined;
      if (keys.size > 0) this.emit(keys);
    }
  }

  private emit(changed: ReadonlySet<string>): void {
    if (this.batching !== undefined) {
      for (const k of changed) this.batching.add(k);
      return;
    }
    for (const listener of this.listeners) listener(changed);
  }
}

const EMPTY: ReadonlySet<string> = new Set();

function sameInstance(a: Instance, b: Instance): boolean {
  const { probe: _a, ...restA } = a;
  const { probe: _b, ...restB } = b;
  return JSON.stringify(restA) === JSON.stringify(restB);
}

/** Sources do not know about probes: an update keeps what the prober said. */
function keepProbe(previous: Instance | undefined, next: Instance): Instance {
  return previous?.probe !== undefined && next.probe === undefined ? { ...next, probe: previous.probe } : next;
}
