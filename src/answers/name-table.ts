import { blockRecord, blockTail, tailOf, type BlockBytes, type EncodedRecord } from '../wire/rdata.js';
import type { MemberZone } from './policy-order.js';
import { childKey } from '../wire/name.js';
import { exactCopy } from './reuse.js';

/**
 * The precomputed shape of answers. Built when data changes, read per query.
 */

/** How a drawn set orders its records per query (the service's traffic policy). */
export const LB_WEIGHTED = 0;
export const LB_ROUND_ROBIN = 1;
export const LB_RANDOM = 2;

interface SetFields {
  readonly type: number;
  /** Present when the order is drawn per query; one weight (> 0) per record. */
  readonly weights: readonly number[] | null;
  /** How the order is drawn (read when `weights` is present): one object shared by every set drawn plainly. */
  readonly draw: SetDraw;
}

/** A set of record objects: zone files, apexes, PTRs, the few records not built in a service's block. */
export interface RecordSet extends SetFields {
  readonly records: readonly EncodedRecord[];
  readonly bytes: null;
}

/**
 * A set of a service node's records (its RecordBlock): each record an offset from `bytes.base` in `bytes.data`,
 * no object a record.
 */
export interface BlockSet extends SetFields {
  readonly records: readonly number[];
  readonly bytes: BlockBytes;
}

/** Every set has the same five fields in the same order (one shape for the answer writer's reads). */
export type RRSet = RecordSet | BlockSet;

/**
 * How a set's order is drawn per query, and the state that takes. Kept apart from the set because nearly every set
 * is drawn plainly (weighted, no limit, no zones, no groups): those share PLAIN_DRAW, 40 bytes a set less than the
 * six fields in each (two sets a service: 2.7 MB at 100,000 instances in services of three).
 */
export interface SetDraw {
  /** LB_WEIGHTED (weighted random order), LB_ROUND_ROBIN (smooth weighted round robin) or LB_RANDOM (uniform). */
  readonly lb: number;
  /** At most this many records per answer; 0 = the global --answer-limit. */
  readonly limit: number;
  /** With locality prefer-zone: each record's instance zone, so the client's zone can go first. */
  readonly zones: readonly MemberZone[] | null;
  /** Smooth round robin's current weights, one per record: state of this process, reset when the set is rebuilt. */
  readonly rr: Float64Array | null;
  /** Round robin with prefer-zone: each client zone's own state (made on its first query), for exact windows per zone. */
  readonly rrByZone: Map<string, Float64Array> | null;
  /**
   * Groups drawn in two steps (Istio subsets with load balancers of their own): the group order by the groups'
   * weights, then each group's records by the group's own policy. Null for an ordinary set.
   */
  readonly groups: readonly DrawGroup[] | null;
}

/**
 * The draw of a set ordered by its weights alone: shared (it holds no state). Not frozen: a frozen object has a map
 * of its own, and the writer's reads of a draw would see two shapes instead of one.
 */
export const PLAIN_DRAW: SetDraw = { lb: LB_WEIGHTED, limit: 0, zones: null, rr: null, rrByZone: null, groups: null };

/** One group of a grouped set: its records (indices into the set), its share of first answers, its own order. */
export interface DrawGroup {
  readonly members: Int32Array;
  readonly weight: number;
  readonly lb: number;
  readonly weights: readonly number[];
  readonly rr: Float64Array | null;
  /** Scratch for the group's own order (one per group: nothing allocated per query). */
  readonly order: Int32Array;
}

/** The per-query ordering a set carries: what a service's policy asks for. */
export interface DrawPolicy {
  readonly lb: number;
  readonly limit: number;
  readonly zones: readonly MemberZone[] | null;
  /** Each record's group (an index into `groupPolicies`), when groups order themselves. */
  readonly groupOf?: readonly number[];
  readonly groupPolicies?: readonly number[];
}

const PLAIN: DrawPolicy = { lb: LB_WEIGHTED, limit: 0, zones: null };

/**
 * The RRsets of one name, by type. A name holds one to three sets (a service: its address set; a zone-file name a
 * few), kept in three fields searched in order, more (a zone-file name with many types) in an array after them: no
 * array of their own for the usual one to three, 32 bytes and one object less a name than an array (a service node
 * each: 1 MB at 100,000 instances in services of three), and one object less to read on the way to an answer.
 */
export class RRSets {
  private s0: RRSet | undefined = undefined;
  private s1: RRSet | undefined = undefined;
  private s2: RRSet | undefined = undefined;
  private more: RRSet[] | undefined = undefined;

  constructor(entries: Iterable<readonly [number, RRSet]> = []) {
    for (const [type, set] of entries) this.set(type, set);
  }

  get(type: number): RRSet | undefined {
    const s0 = this.s0;
    if (s0 === undefined || s0.type === type) return s0;
    const s1 = this.s1;
    if (s1 === undefined || s1.type === type) return s1;
    const s2 = this.s2;
    if (s2 === undefined || s2.type === type) return s2;
    const more = this.more;
    if (more !== undefined) for (let i = 0; i < more.length; i++) if (more[i]!.type === type) return more[i];
    return undefined;
  }

  has(type: number): boolean {
    return this.get(type) !== undefined;
  }

  /** Replaces the set of its type, or adds it after the others (sets are never removed). */
  set(type: number, set: RRSet): void {
    if (this.s0 === undefined || this.s0.type === type) this.s0 = set;
    else if (this.s1 === undefined || this.s1.type === type) this.s1 = set;
    else if (this.s2 === undefined || this.s2.type === type) this.s2 = set;
    else {
      const more = this.more ?? [];
      const i = more.findIndex((s) => s.type === type);
      if (i >= 0) more[i] = set;
      else more.push(set);
      this.more = exactCopy(more);
    }
  }

  get size(): number {
    return this.s0 === undefined ? 0 : this.s1 === undefined ? 1 : this.s2 === undefined ? 2 : 3 + (this.more?.length ?? 0);
  }

  values(): IterableIterator<RRSet> {
    const all: RRSet[] = [];
    if (this.s0 !== undefined) all.push(this.s0);
    if (this.s1 !== undefined) all.push(this.s1);
    if (this.s2 !== undefined) all.push(this.s2);
    if (this.more !== undefined) all.push(...this.more);
    return all.values();
  }
}

/** What a resolver reads of a name's RRsets. */
export interface RRSetLookup {
  get(type: number): RRSet | undefined;
  values(): Iterable<RRSet>;
}

/** A name that exists. No sets at all is an empty non-terminal (RFC 8020 "exists"). */
export interface NameNode {
  readonly rrsets: RRSetLookup;
  /**
   * A service's names below its own, answered from here instead of having
   * table entries of their own: at 100,000 instances, an entry, a key and a
   * node per name cost more memory than the records themselves.
   */
  readonly below?: NamesBelowService;
  /**
   * The service's node as the clients of some namespaces see it (consumer routes): their namespace's
   * split. Absent on all but the few services that have one; other clients get this node.
   */
  readonly consumers?: ReadonlyMap<string, NameNode>;
  /**
   * The service's node as the clients of each cluster see it (policy `clusters`), keyed by cluster ('' the
   * local one; OTHER_CLUSTERS for clients of a cluster without instances under local-only). Absent when the
   * service is answered alike for every client (one cluster, or `clusters: all`).
   */
  readonly byCluster?: ReadonlyMap<string, NameNode>;
}

/** The byCluster key of clients whose cluster has no node of its own (local-only: nothing of theirs to answer). */
export const OTHER_CLUSTERS = '\u0000other';

/** An instance's address records in its service's block: one, or an endpoint's A and AAAA under one name. */
export type AddressRecords = number | readonly number[];

/** Past this many instances a service indexes their labels; below it a scan is as fast and smaller. */
const INDEX_FROM = 16;

/**
 * The names under one service: <id> (address records), _<proto> (an empty non-terminal) and _<port>._<proto> (an
 * SRV set), and other clusters' instances' <name>.<cluster>. Kept in flat arrays, label next to value, because most
 * services have a handful of instances and one or two ports. A local instance's name is kept as its own text, the
 * very string the instance holds (its id or hostname: lowercase DNS labels, as the catalog checks), not a lookup
 * key of its own: at 100,000 Kubernetes endpoints those keys were 3 MB of strings. SRV and cluster labels are in
 * wire form (length octet first), as they start a lookup key.
 */
export class NamesBelowService {
  private readonly index: Map<string, AddressRecords> | null;

  /**
   * Other clusters' instance names: [<name>.<cluster> as a key's first two labels, records, ...], and the cluster
   * labels (wire form) they make empty non-terminals; null when the service has none.
   */
  private readonly other: { readonly entries: readonly (string | AddressRecords)[]; readonly clusters: readonly string[] } | null;

  private readonly instances: readonly (string | AddressRecords)[];
  private readonly srv: readonly (string | RRSet)[];
  /** Where the instance names' address records are (their service node's block). */
  readonly bytes: BlockBytes;

  /** instances: [name, records, name, records, ...]; clustered: [labels, records, ...]; srv: [proto, port, set, ...] */
  constructor(
    instances: readonly (string | AddressRecords)[],
    clustered: readonly (string | AddressRecords)[],
    srv: readonly (string | RRSet)[],
    bytes: BlockBytes,
    /** Another service node's names (same instances), whose index and cluster labels are taken as they are. */
    same?: NamesBelowService,
  ) {
    // Kept as long as the service is: exact copies, not the builder's arrays with room to grow.
    this.srv = same === undefined ? exactCopy(srv) : srv;
    this.bytes = bytes;
    if (same !== undefined) {
      this.instances = same.instances;
      this.index = same.index;
      this.other = same.other;
      return;
    }
    this.instances = exactCopy(instances);
    this.index = instances.length / 2 > INDEX_FROM ? new Map(pairs(instances)) : null;
    if (clustered.length === 0) {
      this.other = null;
      return;
    }
    const clusters = new Set<string>();
    for (let i = 0; i < clustered.length; i += 2) {
      const labels = clustered[i] as string;
      clusters.add(labels.slice(labels.charCodeAt(0) + 1));
    }
    this.other = { entries: exactCopy(clustered), clusters: [...clusters] };
  }

  /**
   * These instance names with another answer's SRV sets (a cluster's clients' view of the same service): the names
   * are client-independent, so the views share them instead of each holding a copy.
   */
  withSrvOf(view: NamesBelowService): NamesBelowService {
    return new NamesBelowService(this.instances, [], view.srv, this.bytes, this);
  }

  /** Whether `<label>.<svc>` is a cluster's empty non-terminal (above its instances' names); `label` in wire form. */
  hasCluster(label: string): boolean {
    return this.other !== null && this.other.clusters.includes(label);
  }

  /** A local instance's address records, by its name's text (no length octet). */
  instance(name: string): AddressRecords | undefined {
    if (this.index !== null) return this.index.get(name);
    const list = this.instances;
    for (let i = 0; i < list.length; i += 2) if (list[i] === name) return list[i + 1] as AddressRecords;
    return undefined;
  }

  /** Another cluster's instance's address records, by `<name>.<cluster>` as a key's first two labels. */
  clusterInstance(labels: string): AddressRecords | undefined {
    const list = this.other?.entries;
    if (list !== undefined) for (let i = 0; i < list.length; i += 2) if (list[i] === labels) return list[i + 1] as AddressRecords;
    return undefined;
  }

  hasProtocol(protoLabel: string): boolean {
    for (let i = 0; i < this.srv.length; i += 3) if (this.srv[i] === protoLabel) return true;
    return false;
  }

  /** Every instance name (its first labels in wire form, made for the call) and its address records: for zone transfers. */
  *instanceEntries(): Generator<[string, AddressRecords]> {
    for (const [name, records] of pairs(this.instances)) yield [childKey([name], ''), records];
    if (this.other !== null) yield* pairs(this.other.entries);
  }

  /** Every SRV name's labels (`_<proto>`, `_<port>`, as keys) and its set: for zone transfers. */
  *srvEntries(): Generator<[string, string, RRSet]> {
    const list = this.srv;
    for (let i = 0; i < list.length; i += 3) yield [list[i] as string, list[i + 1] as string, list[i + 2] as RRSet];
  }

  srvSet(protoLabel: string, portLabel: string): RRSet | undefined {
    const list = this.srv;
    for (let i = 0; i < list.length; i += 3) if (list[i] === protoLabel && list[i + 1] === portLabel) return list[i + 2] as RRSet;
    return undefined;
  }
}

function* pairs(list: readonly (string | AddressRecords)[]): Generator<[string, AddressRecords]> {
  for (let i = 0; i < list.length; i += 2) yield [list[i] as string, list[i + 1] as AddressRecords];
}

/** Each record's tail (type, class, TTL, rdlength, rdata) as a Buffer, whichever kind of set: transfers, zone data. */
export function setTails(set: RRSet): Buffer[] {
  return set.bytes === null ? set.records.map(tailOf) : set.records.map((ref) => blockTail(set.bytes, ref));
}

/** A set's records as objects (a block set's made for the call): the few paths that take them one by one. */
export function recordObjects(set: RRSet): readonly EncodedRecord[] {
  return set.bytes === null ? set.records : set.records.map((ref) => blockRecord(set.bytes, ref));
}

/** A set whose records a reused lookup node refills per query (PTR names): fixed order. */
export interface RefillableSet extends RecordSet {
  readonly records: EncodedRecord[];
}

export function refillableSet(type: number): RefillableSet {
  return { type, records: [], weights: null, draw: PLAIN_DRAW, bytes: null };
}

/** A set refilled per query from a service node's block (instance names): fixed order. */
export interface RefillableBlockSet extends BlockSet {
  readonly records: number[];
  bytes: BlockBytes;
}

export function refillableBlockSet(type: number, bytes: BlockBytes): RefillableBlockSet {
  return { type, records: [], weights: null, draw: PLAIN_DRAW, bytes };
}

export function fixedSet(type: number, records: readonly EncodedRecord[]): RecordSet {
  return { type, records: [...records], weights: null, draw: PLAIN_DRAW, bytes: null };
}

/** A set whose order is drawn per query. Round robin needs whole weights: its counts are exact per Σw answers. */
export function weightedSet(type: number, records: readonly number[], bytes: BlockBytes, weights: readonly number[], policy: DrawPolicy = PLAIN): BlockSet {
  // One record has one order: no draw, no weights to keep.
  const drawn = records.length > 1;
  const roundRobin = drawn && policy.lb === LB_ROUND_ROBIN;
  const zones = drawn && policy.zones !== null ? [...policy.zones] : null;
  const groups = drawn && policy.groupOf !== undefined && policy.groupPolicies !== undefined ? drawGroups(weights, policy.groupOf, policy.groupPolicies) : null;
  // A set of one record is never drawn: its draw is never read.
  const plain = !drawn || (policy.lb === LB_WEIGHTED && policy.limit === 0 && zones === null && groups === null);
  return {
    type,
    records: [...records],
    weights: drawn ? keptWeights(roundRobin ? weights.map((w) => Math.max(1, Math.round(w))) : weights) : null,
    draw: plain
      ? PLAIN_DRAW
      : {
          lb: policy.lb,
          limit: policy.limit,
          zones,
          rr: roundRobin ? new Float64Array(records.length) : null,
          rrByZone: roundRobin && zones !== null ? new Map() : null,
          groups,
        },
    bytes,
  };
}

/**
 * A set's weights as kept: sets of a few records weighing alike (most services: every instance weighs the same, or
 * the same few weights repeat from service to service) share one array, read-only like every set's. At 100,000
 * instances in services of three the copies were ~4.5 MB.
 */
function keptWeights(weights: readonly number[]): readonly number[] {
  if (weights.length > SHARED_UP_TO) return [...weights];
  const key = weights.join(' ');
  let kept = sharedWeights.get(key);
  if (kept === undefined) {
    kept = [...weights];
    if (sharedWeights.size < 4096) sharedWeights.set(key, kept);
  }
  return kept;
}

/** Shared weights arrays, by their weights (bounded: soft weights make many distinct values). */
const sharedWeights = new Map<string, readonly number[]>();
const SHARED_UP_TO = 16;

/** The groups of a grouped set, from each record's group and each group's load balancer. */
function drawGroups(weights: readonly number[], groupOf: readonly number[], policies: readonly number[]): DrawGroup[] | null {
  const groups: DrawGroup[] = [];
  for (let g = 0; g < policies.length; g++) {
    const indices: number[] = [];
    for (let i = 0; i < groupOf.length; i++) if (groupOf[i] === g) indices.push(i);
    if (indices.length === 0) continue;
    const lb = policies[g]!;
    const own = indices.map((i) => weights[i]!);
    groups.push({
      members: Int32Array.from(indices),
      weight: own.reduce((a, b) => a + b, 0),
      lb,
      weights: lb === LB_ROUND_ROBIN ? own.map((w) => Math.max(1, Math.round(w))) : own,
      rr: lb === LB_ROUND_ROBIN ? new Float64Array(indices.length) : null,
      order: new Int32Array(indices.length),
    });
  }
  return groups.length > 1 ? groups : null;
}

export type NameTable = Map<string, NameNode>;

/**
 * The catalog's name table, counting its changes: the resolver remembers recent answers read from it (a name's
 * node, its set) for as long as the version they were read at is current. Every change goes through set, delete
 * or clear, so none can leave a remembered answer behind; a node is never changed once in the table (a rebuilt
 * service is a new node, set in its place).
 */
export class VersionedNameTable extends Map<string, NameNode> implements NameTable {
  /** Bumped by every change. */
  version = 0;

  constructor() {
    super();
  }

  override set(key: string, node: NameNode): this {
    this.version++;
    return super.set(key, node);
  }

  override delete(key: string): boolean {
    this.version++;
    return super.delete(key);
  }

  override clear(): void {
    this.version++;
    super.clear();
  }
}

/** A service's keys in a zone: its namespace's `<ns>.<zone>` and its own `<svc>.<ns>.<zone>`. */
export function serviceKeys(namespace: string, name: string, zoneKey: string): { nsKey: string; svcKey: string } {
  const nsKey = childKey([namespace], zoneKey);
  return { nsKey, svcKey: childKey([name], nsKey) };
}
