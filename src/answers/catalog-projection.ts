import { SharedStrings } from '../catalog/shared-strings.js';
import type { Catalog } from '../catalog/catalog.js';
import { nameLabelsOf, type Instance, type Service } from '../catalog/types.js';
import { RRType } from '../wire/constants.js';
import { childKey, nameToWire, wireKey } from '../wire/name.js';
import { record, RecordBlock } from '../wire/rdata.js';
import { DEFAULT_SOFT_WEIGHT, type SoftWeight } from './soft-weight.js';
import type { ReverseNames } from './reverse-names.js';
import { clustersOf, type TrafficPolicy } from '../catalog/policy.js';
import type { TrafficSplit } from '../catalog/split.js';
import { planAnswers, weightOf, type PlanState } from './answer-plan.js';
import { SkipReporter, srvOwnerKey, usableInstances, type SkippedRecord } from './instance-names.js';
import { PlanStates } from './plan-states.js';
import { LB_RANDOM, LB_ROUND_ROBIN, LB_WEIGHTED, OTHER_CLUSTERS, fixedSet, NamesBelowService, RRSets, serviceKeys, weightedSet, type AddressRecords, type NameNode, type NameTable, type RRSet } from './name-table.js';

/** One SRV name of a service while it is built. */
interface SrvDraft {
  proto: string;
  port: string;
  records: number[];
  members: Instance[];
  targets: Set<string>;
}

/**
 * What a service's A/AAAA/SRV names answer: its instances, a backup's (failover) or its split backends'.
 * owners: each instance's own service name key in this zone when it is not the queried service's (SRV
 * targets and glue are the instance's own names). shares: split weights, replacing the instances' own.
 */
interface Answering {
  readonly instances: Instance[];
  readonly owners?: ReadonlyMap<Instance, string>;
  /** Each answering instance's weight in the draw (the plan's). */
  readonly weights: ReadonlyMap<Instance, number>;
  readonly policy: TrafficPolicy;
  /** Split backends whose subsets have load balancers of their own: each instance's group, each group's policy. */
  readonly groups?: { readonly of: ReadonlyMap<Instance, number>; readonly policies: readonly number[] };
  readonly state: PlanState;
}

/** Which clusters' instances a node answers: every cluster's (undefined), or one cluster's ('' the local one), or none. */
type ClusterFilter = string | typeof NO_CLUSTER | undefined;
const NO_CLUSTER = Symbol('no cluster');

/** An instance's cluster as a byCluster key ('' the local one). */
const clusterKeyOf = (i: Instance): string => i.cluster ?? '';

/**
 * An instance's name below its service as its nodes keep it: a local instance's own text (its hostname or id: the
 * very string the instance holds, no key of its own), another cluster's `<name>.<cluster>` as the first two labels
 * of a key (wire form).
 */
function instanceLabel(i: Instance): string {
  if (i.cluster === undefined) return i.name ?? i.id;
  let label = rebuildLabels.get(i);
  if (label === undefined) {
    label = sharedLabels.of(childKey(nameLabelsOf(i), ''));
    rebuildLabels.set(i, label);
  }
  return label;
}

/** An instance's name labels below its service as they start a key (wire form): an SRV record's target. */
function instanceKeyLabels(i: Instance): string {
  return i.cluster === undefined ? childKey([i.name ?? i.id], '') : instanceLabel(i);
}

/** Another cluster's node below a service (`<cluster>.<svc>`, a key), the parent of its instances' PTR targets. */
function clusterParentKey(cluster: string, svcKey: string): string {
  const text = `${cluster}|${svcKey}`;
  let key = rebuildClusterKeys.get(text);
  if (key === undefined) rebuildClusterKeys.set(text, (key = childKey([cluster], svcKey)));
  return key;
}

/** The cluster keys made during one service's rebuild: one string per cluster, not one per instance. */
const rebuildClusterKeys = new Map<string, string>();

/**
 * Other clusters' instance labels made during one service's rebuild, so its nodes (every zone, cluster and consumer
 * view) keep one string per instance: names that never repeat (Pod addresses, hostnames) are past SharedStrings'
 * bound. Emptied after each rebuild.
 */
const rebuildLabels = new Map<Instance, string>();

/** Other clusters' instance labels kept once: names repeat across services (`web-1.east`), and each node keeps its labels. */
const sharedLabels = new SharedStrings();

const LB_OF: Record<TrafficPolicy['loadBalancer'], number> = { weighted: LB_WEIGHTED, 'round-robin': LB_ROUND_ROBIN, random: LB_RANDOM };


/** Each instance name's address records: one, or an endpoint's A and AAAA under one name (keyed by owner too, when given). */
function labelRecords(instances: readonly Instance[], addressOf: ReadonlyMap<Instance, number>, ownerOf?: (i: Instance) => string): Map<string, number | number[]> {
  const byLabel = new Map<string, number | number[]>();
  for (const inst of instances) {
    // Under an owner (a backup's or a split backend's names), the labels in wire form: a key, unambiguous after another.
    const label = ownerOf === undefined ? instanceLabel(inst) : ownerOf(inst) + instanceKeyLabels(inst);
    const seen = byLabel.get(label);
    const rec = addressOf.get(inst)!;
    byLabel.set(label, seen === undefined ? rec : Array.isArray(seen) ? [...seen, rec] : [seen, rec]);
  }
  return byLabel;
}

function emptyService(key: string): Service {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1), instances: new Map() };
}

/** Every <ns> name is an empty non-terminal: one shared node. */
const NON_TERMINAL: NameNode = { rrsets: new RRSets() };

/** A label as it starts a lookup key (length octet first): a one-label key with no parent, kept once (`_tcp`, `_http` repeat in every service). */
function wireLabel(label: string): string {
  return sharedLabels.of(childKey([label], ''));
}

/**
 * Keeps the dynamic name table in step with the catalog. For each service in
 * each mesh zone it builds, when the service changes:
 *   <svc>.<ns>.<zone>                A/AAAA  healthy instances, weighted
 *   _<port>._<proto>.<svc>.<ns>.<zone> SRV   healthy instances, with glue
 *   <id>.<svc>.<ns>.<zone>           A/AAAA  the instance, whatever its health
 * plus the empty non-terminals <ns>.<zone> and _<proto>.<svc>.<ns>.<zone>.
 * Only <svc> and <ns> get table entries; the names below a service are
 * answered from its node (NameNode.below), which saves an entry, a key and
 * a node per instance.
 */
export class CatalogProjection {
  /** <ns> empty non-terminals, counted by the services below them. */
  private readonly entRefs = new Map<string, number>();
  /** Wall-clock milliseconds of the last change applied, for freshness checks. */
  lastChange = 0;

  /** Panic and failover states, and which services' answers depend on which (what a pool's primary keeps alone). */
  private readonly states: PlanStates;
  /** Services answered in panic mode (every instance failing its probes). */
  get inPanic(): ReadonlySet<string> {
    return this.states.inPanic;
  }
  /** Services answering a backup's instances now, with the backup (`svc.ns`). */
  get failingOver(): ReadonlyMap<string, string> {
    return this.states.failingOver;
  }
  private readonly soft: SoftWeight;
  private readonly report: SkipReporter;
  private readonly allUnhealthy: 'serve-all' | 'serve-none';

  constructor(
    private readonly catalog: Catalog,
    private readonly table: NameTable,
    private readonly zoneKeys: readonly string[],
    private readonly ttl: number,
    private readonly opts: {
      soft?: SoftWeight;
      allUnhealthy?: 'serve-all' | 'serve-none';
      /** Told when a service enters or leaves panic (for the warning log and the metric). */
      onPanic?: (serviceKey: string, inPanic: boolean, mode: 'serve-all' | 'serve-none') => void;
      /** Told when a service starts (backup) or stops (undefined) answering a backup's instances. */
      onFailover?: (serviceKey: string, backup: string | undefined) => void;
      /** Where PTR records of instance addresses go (reverse lookups); absent: none are built. */
      reverse?: ReverseNames;
      /** Told once of each record that could not be built and was left out (the rest is answered). */
      onSkipped?: (skipped: SkippedRecord) => void;
      /** Clients may be in other clusters (--kubernetes-cluster, --client-cluster): local-only answers them apart even for a local service. */
      multiCluster?: boolean;
      /** Told, per mesh zone, what a service's node was before and is after a rebuild (the zones' history, for IXFR). */
      onRebuilt?: (zoneKey: string, svcKey: string, before: NameNode | undefined, after: NameNode | undefined) => void;
    } = {},
  ) {
    this.soft = opts.soft ?? DEFAULT_SOFT_WEIGHT;
    this.report = new SkipReporter(opts.onSkipped);
    this.allUnhealthy = opts.allUnhealthy ?? 'serve-all';
    this.states = new PlanStates(this.allUnhealthy, { onPanic: opts.onPanic, onFailover: opts.onFailover });
    catalog.onChange((keys) => {
      // A backup's change reaches the services failing over to it as fast as their own changes would.
      for (const key of this.states.affected(keys)) this.rebuild(key);
      this.lastChange = Date.now();
    });
    for (const key of catalog.keys()) this.rebuild(key);
  }

  private rebuild(key: string): void {
    const told = this.opts.onRebuilt;
    if (told === undefined) {
      this.rebuildNodes(key);
      return;
    }
    const slash = key.indexOf('/');
    const svcKeys = this.zoneKeys.map((zoneKey) => serviceKeys(key.slice(0, slash), key.slice(slash + 1), zoneKey).svcKey);
    const before = svcKeys.map((svcKey) => this.table.get(svcKey));
    this.rebuildNodes(key);
    for (const [i, svcKey] of svcKeys.entries()) told(this.zoneKeys[i]!, svcKey, before[i], this.table.get(svcKey));
  }

  private rebuildNodes(key: string): void {
    try {
      this.rebuildService(key);
    } finally {
      rebuildLabels.clear();
      rebuildClusterKeys.clear();
    }
  }

  private rebuildService(key: string): void {
    // A service with no instances at all still answers when its policy names backups (failover) or it is a split's apex.
    const routed = this.catalog.policyOf(key).failover.length > 0 || this.catalog.splitOf(key) !== undefined || this.catalog.clusterSplitsOf(key).size > 0 || this.catalog.isDeclared(key);
    const svc = this.catalog.getByKey(key) ?? (routed ? emptyService(key) : undefined);
    if (svc === undefined || (svc.instances.size === 0 && svc.alias === undefined && !routed)) {
      this.drop(key);
      this.opts.reverse?.setService(key, []);
      this.states.forget(key);
      return;
    }
    // Build before dropping what is answered now: should building fail after all, the last good answers stay.
    let nodes: { nsKey: string; svcKey: string; node: NameNode; instances: readonly Instance[] }[];
    try {
      nodes = this.zoneKeys.map((zoneKey) => {
        const keys = serviceKeys(svc.namespace, svc.name, zoneKey);
        return { ...keys, ...this.nodeOf(key, svc, zoneKey, keys.svcKey) };
      });
    } catch (err) {
      this.report.skipped(key, undefined, `answers not rebuilt, the previous ones stay: ${(err as Error).message}`);
      return;
    }
    this.drop(key);
    // PTR targets are the instance names in the first mesh zone: the instances its node was built from.
    const first = nodes[0];
    this.opts.reverse?.setService(key, first === undefined ? [] : first.instances.map((inst) => ({ address: inst.address, label: inst.name ?? inst.id, parent: inst.cluster === undefined ? first.svcKey : clusterParentKey(inst.cluster, first.svcKey) })));
    for (const { nsKey, svcKey, node } of nodes) {
      this.table.set(svcKey, node);
      this.entRefs.set(nsKey, (this.entRefs.get(nsKey) ?? 0) + 1);
      if (!this.table.has(nsKey)) this.table.set(nsKey, NON_TERMINAL);
    }
  }

  /** Removes what rebuild made of a service: its name in every zone, and <ns> once no service is left in it. */
  private drop(key: string): void {
    const slash = key.indexOf('/');
    for (const zoneKey of this.zoneKeys) {
      const { nsKey, svcKey } = serviceKeys(key.slice(0, slash), key.slice(slash + 1), zoneKey);
      if (!this.table.delete(svcKey)) continue;
      const refs = (this.entRefs.get(nsKey) ?? 1) - 1;
      if (refs > 0) {
        this.entRefs.set(nsKey, refs);
        continue;
      }
      this.entRefs.delete(nsKey);
      if (this.table.get(nsKey) === NON_TERMINAL) this.table.delete(nsKey);
    }
  }

  /** A service's node in one zone, and the instances whose names it answers (none for an alias). */
  private nodeOf(key: string, svc: Service, zoneKey: string, svcKey: string): { node: NameNode; instances: readonly Instance[] } {
    const split = this.catalog.splitOf(key);
    const everyone = split === undefined || split.backends.length === 0 ? undefined : split;
    const built = this.withClusters(key, svc, zoneKey, svcKey, everyone, this.buildNode(key, svc, zoneKey, svcKey, everyone, true));
    if (split?.consumers === undefined || split.consumers.length === 0 || svc.alias !== undefined) return built;
    // Consumer routes: the same names as the clients of each such namespace see them, with their split.
    const consumers = new Map<string, NameNode>();
    for (const c of split.consumers) {
      consumers.set(c.namespace, this.buildNode(key, svc, zoneKey, svcKey, { backends: c.backends, origin: c.origin, rule: c.rule, loadBalancer: c.loadBalancer }, false).node);
    }
    return { node: { ...built.node, consumers }, instances: built.instances };
  }

  /**
   * The node with the nodes of each cluster's clients beside it (policy `clusters`), when the service spans
   * clusters or answers only a client's own: prefer-local gives a cluster's clients that cluster's plan while it
   * has answerable instances of its own (else every cluster's, the node everyone gets); local-only gives it that
   * cluster's plan whatever it holds (its failover backups, panic or nothing), and the clients of a cluster without
   * instances nothing; all needs none.
   */
  private withClusters(key: string, svc: Service, zoneKey: string, svcKey: string, split: TrafficSplit | undefined, built: { node: NameNode; instances: readonly Instance[] }): { node: NameNode; instances: readonly Instance[] } {
    if (svc.alias !== undefined) return built;
    const choice = clustersOf(this.catalog.policyOf(key));
    // Another cluster's mesh objects split this service for that cluster's clients; every other client has the local split.
    const ownSplits = this.catalog.clusterSplitsOf(key);
    const clusters = new Set<string>();
    for (const i of svc.instances.values()) clusters.add(clusterKeyOf(i));
    // Whether the client's cluster changes what it gets, the splits aside.
    let chosen = !(choice === 'all' || (choice === 'prefer-local' && clusters.size <= 1));
    if (choice === 'local-only') {
      // One cluster watched and nothing registered for another: every client is the local cluster's.
      if (this.opts.multiCluster !== true && [...clusters].every((c) => c === '')) chosen = false;
      clusters.add('');
    }
    const targets = new Set<string>(chosen ? clusters : []);
    for (const c of ownSplits.keys()) targets.add(c);
    if (targets.size === 0) return built;
    const byCluster = new Map<string, NameNode>();
    // A view shares the node's instance names (client-independent) and keeps its own answers and SRV sets.
    const view = (node: NameNode): NameNode => ({ rrsets: node.rrsets, ...(node.below === undefined || built.node.below === undefined ? {} : { below: built.node.below.withSrvOf(node.below) }) });
    for (const cluster of targets) {
      const own = ownSplits.get(cluster) ?? split;
      if (choice === 'all') {
        byCluster.set(cluster, view(this.buildNode(key, svc, zoneKey, svcKey, own, false).node));
        continue;
      }
      const variant = this.buildNode(key, svc, zoneKey, svcKey, own, false, cluster);
      if (choice === 'local-only' || variant.state === 'own' || variant.state === 'split') byCluster.set(cluster, view(variant.node));
      // prefer-local with nothing of the client's cluster: every cluster's, by the client's split.
      else if (own !== split) byCluster.set(cluster, view(this.buildNode(key, svc, zoneKey, svcKey, own, false).node));
    }
    if (choice === 'local-only' && chosen) byCluster.set(OTHER_CLUSTERS, view(this.buildNode(key, svc, zoneKey, svcKey, split, false, NO_CLUSTER).node));
    return byCluster.size === 0 ? built : { node: { ...built.node, byCluster }, instances: built.instances };
  }

  /**
   * A service's node with the given split in force (none: its own instances); `main` records failover and panic;
   * `cluster`: the answers from that cluster's instances only (names are every cluster's whatever it is).
   */
  private buildNode(key: string, svc: Service, zoneKey: string, svcKey: string, split: TrafficSplit | undefined, main: boolean, cluster?: ClusterFilter): { node: NameNode; instances: readonly Instance[]; state: PlanState } {
    if (svc.alias !== undefined) {
      // An ExternalName service: a CNAME and nothing else at its name.
      const target = nameToWire(svc.alias);
      const rec = record(RRType.CNAME, this.ttl, target, wireKey(target));
      return { node: { rrsets: new RRSets([[RRType.CNAME, fixedSet(RRType.CNAME, [rec])]]) }, instances: [], state: 'none' };
    }
    const instances = this.usable(key, svc, svcKey);
    const answer = this.answering(key, zoneKey, split, main, cluster);
    const ownerOf = (inst: Instance): string => answer.owners?.get(inst) ?? svcKey;

    // One encoded address record per instance, shared by the service's set, the instance's name and SRV glue.
    // The node's address and SRV records are written into one block of bytes (a Buffer each cost more than their data: rdata.ts).
    const block = new RecordBlock();
    const addressOf = new Map<Instance, number>();
    for (const inst of instances) addressOf.set(inst, block.address(inst.address, this.ttl));
    for (const inst of answer.instances) if (!addressOf.has(inst)) addressOf.set(inst, block.address(inst.address, this.ttl));

    const rrsets = new RRSets();
    for (const type of [RRType.A, RRType.AAAA]) {
      // One record per address: two instances at one address (two sources, two ports) are one RR (RFC 2181 §5).
      const seen = new Set<string>();
      const members = answer.instances.filter((i) => block.typeOf(addressOf.get(i)!) === type && !seen.has(i.address) && seen.add(i.address) !== undefined);
      if (members.length > 0) {
        rrsets.set(type, this.drawnSet(type, members.map((i) => addressOf.get(i)!), block, members, answer));
      }
    }

    // Instance names (whatever their health): an endpoint's IPv4 and IPv6 addresses may share one name.
    const byLabel = labelRecords(instances, addressOf);
    // SRV glue is the target's own records: a backup's or a split backend's names when answering theirs.
    const glue = answer.owners === undefined ? byLabel : labelRecords(answer.instances, addressOf, ownerOf);

    // One SRV name per (port name, protocol) of any instance, so that a port whose instances are all
    // failing or drained is NODATA, not NXDOMAIN (which resolvers would cache as "no such name").
    const srv = new Map<string, SrvDraft>();
    const answered = new Set(answer.instances);
    for (const inst of answer.owners === undefined ? instances : [...instances, ...answer.instances]) {
      // The instance's name as an SRV target (wire form) and as its glue's key: made once an instance, when answered.
      let keyLabels: string | undefined;
      let glueKey: string | undefined;
      for (const port of inst.ports) {
        let entry: SrvDraft | undefined;
        try {
          const proto = wireLabel(`_${port.protocol}`);
          const portLabel = wireLabel(`_${port.name}`);
          entry = srv.get(proto + portLabel);
          if (entry === undefined) {
            // The owner name must fit too, or no query could ever reach it.
            srvOwnerKey(port, svcKey);
            srv.set(proto + portLabel, (entry = { proto, port: portLabel, records: [], members: [], targets: new Set() }));
          }
        } catch (err) {
          this.report.skipped(key, inst.id, `no SRV name for port "${port.name}": ${(err as Error).message}`);
          continue;
        }
        if (!answered.has(inst)) continue;
        keyLabels ??= instanceKeyLabels(inst);
        glueKey ??= answer.owners === undefined ? instanceLabel(inst) : ownerOf(inst) + keyLabels;
        // Dual-stack endpoints are two instances with one name: one SRV record, glue for both.
        const target = `${glueKey}|${port.port}`;
        if (entry.targets.has(target)) continue;
        entry.targets.add(target);
        const weight = this.answerWeight(inst, answer);
        // The glue is the instance name's own records: nothing copied per SRV record.
        entry.records.push(block.srv(this.ttl, 0, Math.min(65535, Math.max(1, Math.round(weight))), port.port, keyLabels + ownerOf(inst), glue.get(glueKey)!));
        entry.members.push(inst);
      }
    }
    const srvList: (string | RRSet)[] = [];
    for (const e of srv.values()) srvList.push(e.proto, e.port, this.drawnSet(RRType.SRV, e.records, block, e.members, answer));
    block.seal();
    // Local instances' names and other clusters' apart: the first kept as text, the others as key labels.
    const local: (string | AddressRecords)[] = [];
    const clustered: (string | AddressRecords)[] = [];
    const clusteredLabels = new Set(instances.filter((i) => i.cluster !== undefined).map(instanceLabel));
    for (const [label, records] of byLabel) (clusteredLabels.has(label) ? clustered : local).push(label, records);
    return { node: { rrsets, below: new NamesBelowService(local, clustered, srvList, block.bytes) }, instances, state: answer.state };
  }

  /**
   * Whose instances the service's A/AAAA/SRV names answer, with what weights: the answer plan's decision
   * (answer-plan.ts, shared with the console and the API), mapped onto this zone's names. Backups and backends
   * are recorded as dependencies whatever happens, so a change to one rebuilds this service too; `main` (the
   * node every client gets) records failover and panic.
   */
  private answering(key: string, zoneKey: string, split: TrafficSplit | undefined, main: boolean, cluster?: ClusterFilter): Answering {
    const usable = (k: string, svc: Service): Instance[] => {
      const all = this.usable(k, svc, serviceKeys(svc.namespace, svc.name, zoneKey).svcKey);
      // A cluster's clients: that cluster's instances, of this service, its backups and its split backends alike.
      return cluster === undefined ? all : cluster === NO_CLUSTER ? [] : all.filter((i) => clusterKeyOf(i) === cluster);
    };
    const plan = planAnswers({ catalog: this.catalog, soft: this.soft, allUnhealthy: this.allUnhealthy, usable }, key, split);
    this.states.track(key, plan.dependsOn);
    if (main) this.states.set(key, plan.failoverTo, plan.panic);
    const instances = plan.members.map((m) => m.instance);
    const weights = new Map(plan.members.map((m) => [m.instance, m.weight]));
    const foreign = plan.members.filter((m) => m.service !== key);
    const owners =
      foreign.length === 0
        ? undefined
        : new Map(
            plan.members.map((m) => {
              const slash = m.service.indexOf('/');
              return [m.instance, serviceKeys(m.service.slice(0, slash), m.service.slice(slash + 1), zoneKey).svcKey];
            }),
          );
    const groups = plan.groupPolicies === undefined ? undefined : { of: new Map(plan.members.map((m) => [m.instance, m.group])), policies: plan.groupPolicies.map((lb) => LB_OF[lb]) };
    return { instances, weights, policy: plan.policy, state: plan.state, ...(owners === undefined ? {} : { owners }), ...(groups === undefined ? {} : { groups }) };
  }

  /** An instance's weight in this answer: the plan's (its split share, else its own probe-shaded weight). */
  private answerWeight(i: Instance, answer: Answering): number {
    return answer.weights.get(i) ?? weightOf(i, this.soft);
  }

  /** An RRset drawn per query, carrying the order its policy asks for. */
  private drawnSet(type: number, records: readonly number[], block: RecordBlock, members: readonly Instance[], answer: Answering): RRSet {
    const policy = answer.policy;
    return weightedSet(type, records, block.bytes, members.map((i) => this.answerWeight(i, answer)), {
      lb: LB_OF[policy.loadBalancer],
      limit: policy.answerLimit,
      zones: policy.locality === 'prefer-zone' ? members.map((i) => i.hintZones ?? i.zone) : null,
      ...(answer.groups === undefined ? {} : { groupOf: members.map((i) => answer.groups!.of.get(i) ?? 0), groupPolicies: answer.groups.policies }),
    });
  }

  /** The instances this service's names are built from in one zone (instance-names.ts says which, and reports the rest). */
  private usable(key: string, svc: Service, svcKey: string): Instance[] {
    return usableInstances(key, svc, svcKey, this.report);
  }
}
