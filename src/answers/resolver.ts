import { clearForReuse } from './reuse.js';
import { RRType, Rcode } from '../wire/constants.js';
import { isAtOrBelow } from '../wire/name.js';
import { BlockBytes, tailTypeAt, type EncodedRecord } from '../wire/rdata.js';
import { OTHER_CLUSTERS, recordObjects, refillableBlockSet, type AddressRecords, type NameNode, type NameTable, type RRSet, type RRSetLookup, type VersionedNameTable } from './name-table.js';
import type { ReverseNames } from './reverse-names.js';
import type { ZoneApex } from './zone-apex.js';
import { servedBesideZoneFiles, zoneRecords, type ZoneRecord } from './zone-content.js';

/** Static data of one zone: its apex and every name in it (empty non-terminals included). */
export interface StaticZone {
  readonly apex: ZoneApex;
  readonly names: NameTable;
}

export const enum Outcome {
  /** The name is in none of our zones: forward it or refuse. */
  Outside,
  Answer,
}

/** Reused per query: the result of resolving one question inside our zones. */
export interface Resolution {
  outcome: Outcome;
  rcode: number;
  /** The answer section as RRsets; set i > 0 is owned by the target of set i-1 (a CNAME chain). */
  sets: RRSet[];
  /** Add the zone's SOA to the authority section (NXDOMAIN and NODATA, RFC 2308). */
  negative: boolean;
  zone: ZoneApex | null;
}

export function emptyResolution(): Resolution {
  return { outcome: Outcome.Outside, rcode: 0, sets: [], negative: false, zone: null };
}

/** CNAME chains inside a zone are followed this far, as BIND and Knot bound them. */
const MAX_CHAIN = 8;

/** Answers remembered (see Resolver.resolve): as many as the parser keeps names, direct-mapped. */
const REMEMBERED_SLOTS = 4096;

/** A remembered answer inside a zone: at most one set (no chain), read at one version of the name tables. */
interface Remembered {
  key: string;
  qtype: number;
  version: number;
  zone: ZoneApex;
  set: RRSet | null;
  rcode: number;
  negative: boolean;
}

/**
 * Name lookup per RFC 1034 §4.3.2 without delegations or wildcards: exact
 * match, CNAME chasing inside the zone, NODATA vs NXDOMAIN with empty
 * non-terminals counted as existing. Zone-file names (static) take
 * precedence over catalog-derived names (dynamic) type by type.
 */
export class Resolver {
  private zones: ZoneApex[] = [];
  private staticNames: NameTable = new Map();
  /** Bumped by setStaticZones: with the catalog table's version, what a remembered answer was read at. */
  private staticVersion = 0;
  private readonly remembered: (Remembered | undefined)[] = new Array<Remembered | undefined>(REMEMBERED_SLOTS).fill(undefined);
  /** Set while resolving when the answer depends on more than the name and type (the client; a reused node). */
  private unrepeatable = false;
  /** Answers for an instance or SRV name, filled per lookup (the writer reads them before the next query). */
  private readonly instanceNode = new InstanceName();
  private readonly srvNode = new SrvName();
  /** Names passed through while following a CNAME chain (reused). */
  private readonly chain: string[] = [];

  constructor(
    private readonly dynamicNames: VersionedNameTable,
    /** PTR names of instance addresses (absent with --reverse-lookups off). */
    private readonly reverse?: ReverseNames,
  ) {}

  /**
   * A catalog-derived name: a table entry (a service name, an <ns> non-terminal),
   * or one of a service's names below it, answered from the service's node:
   * <id>.<svc>, _<proto>.<svc> and _<port>._<proto>.<svc>.
   */
  private dynamicNode(name: string): NameNode | undefined {
    // No table key starts with `_` (namespaces and services are DNS-1035 labels): an SRV name's lookups start
    // at its service. Each miss in a table of 10,000s of names is a cache miss or two on the answer path.
    if (name.charCodeAt(1) !== UNDERSCORE) {
      const node = this.dynamicNames.get(name);
      if (node !== undefined) return this.forClient(node);
    }
    const cut = name.charCodeAt(0) + 1;
    if (cut >= name.length) return undefined;
    const parent = name.slice(cut);
    if (name.charCodeAt(1) !== UNDERSCORE) {
      const below = this.dynamicNames.get(parent)?.below;
      if (below !== undefined) {
        // A local instance's name is kept as its text: the label without its length octet.
        const records = below.instance(name.slice(1, cut));
        if (records !== undefined) {
          this.unrepeatable = true; // the instance node's sets are refilled by the next lookup
          return this.instanceNode.fill(records, below.bytes);
        }
        return below.hasCluster(name.slice(0, cut)) ? EMPTY_NODE : undefined;
      }
      // Another cluster's instance: <name>.<cluster>.<svc>, two labels below the service.
      const cutParent = parent.charCodeAt(0) + 1;
      if (cutParent >= parent.length) return undefined;
      const clusterBelow = this.dynamicNames.get(parent.slice(cutParent))?.below;
      const records = clusterBelow?.clusterInstance(name.slice(0, cut + cutParent));
      if (records === undefined || clusterBelow === undefined) return undefined;
      this.unrepeatable = true;
      return this.instanceNode.fill(records, clusterBelow.bytes);
    }
    // An SRV name's labels: _<proto>.<svc>, or _<port>._<proto>.<svc>.
    const first = name.slice(0, cut);
    if (parent.charCodeAt(1) !== UNDERSCORE) return this.dynamicNames.get(parent)?.below?.hasProtocol(first) ? EMPTY_NODE : undefined;
    const cut2 = parent.charCodeAt(0) + 1;
    if (cut2 >= parent.length) return undefined;
    const service = this.dynamicNames.get(parent.slice(cut2));
    const set = (service === undefined ? undefined : this.forClient(service))?.below?.srvSet(parent.slice(0, cut2), first);
    return set === undefined ? undefined : this.srvNode.fill(set);
  }

  /** The querying client's address (set per query): consumer routes answer by the client's namespace. */
  client = '';
  /** The namespace of the Pod at a client address, when Pods are known (the catalog's). */
  namespaceOf: (address: string) => string | undefined = () => undefined;

  /** The cluster of a client address ('' the local one), from Nodes and --client-cluster. */
  clusterOf: (address: string) => string = () => '';

  /**
   * A name-table node as this client sees it: a service's node of its namespace's consumer split, else the node
   * everyone gets; then, when the service spans clusters, the node of the client's cluster.
   */
  private forClient(node: NameNode): NameNode {
    // Nearly every node is answered alike for every client.
    if (node.consumers === undefined && node.byCluster === undefined) return node;
    this.unrepeatable = true;
    let chosen = node;
    if (node.consumers !== undefined) {
      const ns = this.namespaceOf(this.client);
      chosen = (ns === undefined ? undefined : node.consumers.get(ns)) ?? node;
    }
    const byCluster = chosen.byCluster;
    if (byCluster === undefined) return chosen;
    return byCluster.get(this.clusterOf(this.client)) ?? byCluster.get(OTHER_CLUSTERS) ?? chosen;
  }

  /** Zone-file wildcard names (`*.<name>`): none, the usual case, keeps NXDOMAIN a single lookup. */
  private wildcards = 0;

  /**
   * The wildcard that answers a name that does not exist (RFC 4592 §3.3.1): find the closest encloser (the
   * longest ancestor that exists, empty non-terminals and catalog names included), and answer from
   * `*.<closest encloser>` if the zone files have it. A wildcard never answers below a name that exists.
   */
  private wildcardFor(name: string, apex: string): NameNode | undefined {
    let ancestor = name;
    while (ancestor.length > apex.length) {
      ancestor = ancestor.slice(ancestor.charCodeAt(0) + 1);
      if (ancestor.length < apex.length) return undefined;
      if (ancestor === apex || this.staticNames.has(ancestor) || this.dynamicNode(ancestor) !== undefined) {
        return this.staticNames.get(WILDCARD_LABEL + ancestor);
      }
    }
    return undefined;
  }

  setStaticZones(zones: readonly StaticZone[]): void {
    const names: NameTable = new Map();
    let wildcards = 0;
    for (const zone of zones) {
      for (const [key, node] of zone.names) {
        names.set(key, node);
        if (key.startsWith(WILDCARD_LABEL)) wildcards++;
      }
    }
    this.wildcards = wildcards;
    this.staticVersion++;
    // Most specific zone first, so a child zone wins over its parent.
    this.zones = zones.map((z) => z.apex).sort((a, b) => b.key.length - a.key.length);
    this.staticNames = names;
  }

  /** Whether an NS record at a zone apex names this host. */
  isNameServer(key: string): boolean {
    for (const zone of this.zones) {
      const ns = this.staticNames.get(zone.key)?.rrsets.get(RRType.NS);
      if (ns !== undefined && recordObjects(ns).some((r) => r.targetKey === key)) return true;
    }
    return false;
  }

  /** The RR types the zone files give a name (none for an unknown name or an empty non-terminal). */
  staticTypes(key: string): number[] {
    const node = this.staticNames.get(key);
    return node === undefined ? [] : [...node.rrsets.values()].map((set) => set.type);
  }

  /** Whether the catalog's record of this name and type is served beside the zone files' (an IXFR step's filter). */
  servedBesideZoneFiles(key: string, type: number): boolean {
    return servedBesideZoneFiles(this.staticNames, key, type);
  }

  /** A zone's records as a transfer sends them (all but its SOA): zone files first, then the catalog's names. */
  zoneContent(apex: ZoneApex): Iterable<ZoneRecord> {
    return zoneRecords(apex, this.staticNames, this.dynamicNames);
  }

  zoneApexes(): readonly ZoneApex[] {
    return this.zones;
  }

  findZone(key: string): ZoneApex | null {
    for (const zone of this.zones) if (isAtOrBelow(key, zone.key)) return zone;
    return null;
  }

  /**
   * Addresses of a target name for the additional section (NS, MX and
   * zone-file SRV records; catalog SRV records carry their glue precomputed).
   */
  glueFor(key: string): EncodedRecord[] | undefined {
    if (this.findZone(key) === null) return undefined;
    const out: EncodedRecord[] = [];
    for (const type of [RRType.A, RRType.AAAA]) {
      const set = pick(this.dynamicNode(key), this.staticNames.get(key), type);
      if (set !== undefined) out.push(...recordObjects(set));
    }
    return out.length > 0 ? out : undefined;
  }

  /**
   * The answer to a question inside our zones, or Outside. `keyHash` (the parser's hash of the key; absent: not
   * remembered): most queries repeat a recent name and type, and while the name tables are at the version they
   * were read at, the answer is the same; the lookups it took (the zone, the table's entry, the node's set: each a
   * cache miss or two on a server whose caches the kernel's network path keeps evicting) are skipped. Remembered
   * only when it depends on nothing else: not the client's namespace or cluster, not an instance name's refilled
   * node, not a reverse zone, not a chain.
   */
  resolve(key: string, qtype: number, out: Resolution, keyHash = -1): Resolution {
    const version = this.dynamicNames.version + this.staticVersion;
    const slot = keyHash < 0 ? -1 : ((keyHash ^ Math.imul(qtype, 0x9e3779b1)) >>> 0) & (REMEMBERED_SLOTS - 1);
    if (slot >= 0) {
      const known = this.remembered[slot];
      if (known !== undefined && known.version === version && known.qtype === qtype && known.key === key) {
        clearForReuse(out.sets);
        if (known.set !== null) out.sets.push(known.set);
        out.outcome = Outcome.Answer;
        out.rcode = known.rcode;
        out.negative = known.negative;
        out.zone = known.zone;
        return out;
      }
    }
    this.unrepeatable = false;
    this.lookUp(key, qtype, out);
    const zone = out.zone;
    if (slot >= 0 && !this.unrepeatable && zone !== null && zone.reverse !== true && out.outcome === Outcome.Answer && out.sets.length <= 1) {
      const set = out.sets.length === 1 ? out.sets[0]! : null;
      const known = this.remembered[slot];
      if (known === undefined) this.remembered[slot] = { key, qtype, version, zone, set, rcode: out.rcode, negative: out.negative };
      else {
        known.key = key;
        known.qtype = qtype;
        known.version = version;
        known.zone = zone;
        known.set = set;
        known.rcode = out.rcode;
        known.negative = out.negative;
      }
    }
    return out;
  }

  private lookUp(key: string, qtype: number, out: Resolution): void {
    clearForReuse(out.sets);
    out.negative = false;
    out.rcode = Rcode.NOERROR;
    const zone = this.findZone(key);
    out.zone = zone;
    if (zone === null) {
      // A known instance's address: its PTR is ours to answer, whoever owns the reverse zone (as CoreDNS's
      // kubernetes plugin answers pod and service PTRs). Everything else there is forwarded.
      if (qtype === RRType.PTR || qtype === RRType.ANY) {
        const ptr = this.reverse?.lookup(key)?.rrsets.get(RRType.PTR);
        if (ptr !== undefined) {
          out.outcome = Outcome.Answer;
          out.sets.push(ptr);
          return;
        }
      }
      out.outcome = Outcome.Outside;
      return;
    }
    out.outcome = Outcome.Answer;
    let name = key;
    const visited = this.chain;
    clearForReuse(visited);
    for (let step = 0; step <= MAX_CHAIN; step++) {
      const dynamic = zone.reverse === true ? this.reverse?.lookup(name) : this.dynamicNode(name);
      let fixed = this.staticNames.size === 0 ? undefined : this.staticNames.get(name);
      if (dynamic === undefined && fixed === undefined) {
        // RFC 4592: a name that does not exist may be synthesized from the wildcard below its closest encloser.
        fixed = this.wildcards === 0 ? undefined : this.wildcardFor(name, zone.key);
        if (fixed === undefined) {
          // NXDOMAIN only for the name asked; a CNAME chain that ends nowhere is answered as far as it goes.
          out.rcode = Rcode.NXDOMAIN;
          out.negative = true;
          return;
        }
      }
      const set = qtype === RRType.ANY ? anySet(dynamic, fixed) : pick(dynamic, fixed, qtype);
      if (set !== undefined) {
        out.sets.push(set);
        return;
      }
      const cname = qtype === RRType.CNAME ? undefined : pick(dynamic, fixed, RRType.CNAME);
      if (cname === undefined) {
        out.negative = true;
        return;
      }
      out.sets.push(cname);
      const target = recordObjects(cname)[0]!.targetKey!;
      // Out-of-zone targets are the client's to resolve.
      if (!isAtOrBelow(target, zone.key)) return;
      // A loop (the zone loader warns of it) ends where it closes: each CNAME is answered once.
      visited.push(name);
      if (visited.includes(target)) return;
      name = target;
    }
    return;
  }
}

/**
 * Zone-file data first, type by type (zone file > Kubernetes > REST): what an
 * operator wrote by hand is never overridden by a registration. A CNAME owns
 * its name alone (RFC 1034 §3.6.2), so a zone-file CNAME hides every
 * catalog-derived set at that name.
 */
function pick(dynamic: NameNode | undefined, fixed: NameNode | undefined, type: number): RRSet | undefined {
  if (fixed !== undefined) {
    const own = fixed.rrsets.get(type);
    if (own !== undefined) return own;
    if (type !== RRType.CNAME && fixed.rrsets.get(RRType.CNAME) !== undefined) return undefined;
  }
  const set = dynamic?.rrsets.get(type);
  return set !== undefined && set.records.length > 0 ? set : undefined;
}

/** RFC 8482: answer ANY with one RRset rather than everything. */
function anySet(dynamic: NameNode | undefined, fixed: NameNode | undefined): RRSet | undefined {
  for (const node of [dynamic, fixed]) {
    if (node === undefined) continue;
    for (const set of node.rrsets.values()) if (set.records.length > 0) return set;
  }
  return undefined;
}

const UNDERSCORE = 0x5f;
/** The wire key of a `*` label (length 1, then the asterisk). */
const WILDCARD_LABEL = '\x01*';

const NO_SETS: RRSetLookup = { get: () => undefined, values: () => [] };
const EMPTY_NODE: NameNode = { rrsets: NO_SETS };

/** The one SRV set of a _<port>._<proto> name; reused from lookup to lookup like InstanceName. */
class SrvName implements NameNode, RRSetLookup {
  readonly rrsets: RRSetLookup = this;
  private set: RRSet | undefined;

  fill(set: RRSet): this {
    this.set = set;
    return this;
  }

  get(type: number): RRSet | undefined {
    return type === this.set?.type ? this.set : undefined;
  }

  values(): Iterable<RRSet> {
    return this.set === undefined ? [] : [this.set];
  }
}

/**
 * The name of one instance, answered from its address records: A, AAAA or
 * both (a dual-stack endpoint). Reused from lookup to lookup, so an instance
 * name costs no table entry and no allocation per query.
 */
class InstanceName implements NameNode, RRSetLookup {
  readonly rrsets: RRSetLookup = this;
  private readonly a = refillableBlockSet(RRType.A, new BlockBytes());
  private readonly aaaa = refillableBlockSet(RRType.AAAA, new BlockBytes());

  /** The records at an instance name, in the block of the service node that holds the name. */
  fill(records: AddressRecords, bytes: BlockBytes): this {
    clearForReuse(this.a.records);
    clearForReuse(this.aaaa.records);
    this.a.bytes = bytes;
    this.aaaa.bytes = bytes;
    if (typeof records === 'number') this.add(records, bytes);
    else for (const r of records) this.add(r, bytes);
    return this;
  }

  private add(ref: number, bytes: BlockBytes): void {
    (tailTypeAt(bytes.data, bytes.base + ref) === RRType.A ? this.a : this.aaaa).records.push(ref);
  }

  get(type: number): RRSet | undefined {
    const set = type === RRType.A ? this.a : type === RRType.AAAA ? this.aaaa : undefined;
    return set !== undefined && set.records.length > 0 ? set : undefined;
  }

  values(): Iterable<RRSet> {
    return [this.a, this.aaaa].filter((s) => s.records.length > 0);
  }
}
