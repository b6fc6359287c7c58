import { RRType, Rcode } from '../dns/wire/constants.js';
import { isAtOrBelow } from '../dns/wire/name.js';
import type { NameNode, NameTable, RRSet } from './records.js';
import type { ZoneApex } from './zone-apex.js';

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

/**
 * Name lookup per RFC 1034 §4.3.2 without delegations or wildcards: exact
 * match, CNAME chasing inside the zone, NODATA vs NXDOMAIN with empty
 * non-terminals counted as existing. Catalog-derived names (dynamic) take
 * precedence over zone-file names (static) type by type.
 */
export class Resolver {
  private zones: ZoneApex[] = [];
  private staticNames: NameTable = new Map();

  constructor(private readonly dynamicNames: NameTable) {}

  setStaticZones(zones: readonly StaticZone[]): void {
    const names: NameTable = new Map();
    for (const zone of zones) for (const [key, node] of zone.names) names.set(key, node);
    // Most specific zone first, so a child zone wins over its parent.
    this.zones = zones.map((z) => z.apex).sort((a, b) => b.key.length - a.key.length);
    this.staticNames = names;
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
  glueFor(key: string): Buffer[] | undefined {
    if (this.findZone(key) === null) return undefined;
    const out: Buffer[] = [];
    for (const type of [RRType.A, RRType.AAAA]) {
      const set = pick(this.dynamicNames.get(key), this.staticNames.get(key), type);
      if (set !== undefined) for (const r of set.records) out.push(r.tail);
    }
    return out.length > 0 ? out : undefined;
  }

  resolve(key: string, qtype: number, out: Resolution): Resolution {
    out.sets.length = 0;
    out.negative = false;
    out.rcode = Rcode.NOERROR;
    const zone = this.findZone(key);
    out.zone = zone;
    if (zone === null) {
      out.outcome = Outcome.Outside;
      return out;
    }
    out.outcome = Outcome.Answer;
    let name = key;
    for (let step = 0; step <= MAX_CHAIN; step++) {
      const dynamic = this.dynamicNames.get(name);
      const fixed = this.staticNames.get(name);
      if (dynamic === undefined && fixed === undefined) {
        out.rcode = Rcode.NXDOMAIN;
        out.negative = true;
        return out;
      }
      const set = qtype === RRType.ANY ? anySet(dynamic, fixed) : pick(dynamic, fixed, qtype);
      if (set !== undefined) {
        out.sets.push(set);
        return out;
      }
      const cname = qtype === RRType.CNAME ? undefined : pick(dynamic, fixed, RRType.CNAME);
      if (cname === undefined) {
        out.negative = true;
        return out;
      }
      out.sets.push(cname);
      const target = cname.records[0]!.targetKey!;
      // Out-of-zone targets are the client's to resolve.
      if (!isAtOrBelow(target, zone.key)) return out;
      name = target;
    }
    return out;
  }
}

function pick(dynamic: NameNode | undefined, fixed: NameNode | undefined, type: number): RRSet | undefined {
  const set = dynamic?.rrsets.get(type);
  if (set !== undefined && set.records.length > 0) return set;
  return fixed?.rrsets.get(type);
}

/** RFC 8482: answer ANY with one RRset rather than everything. */
function anySet(dynamic: NameNode | undefined, fixed: NameNode | undefined): RRSet | undefined {
  for (const node of [dynamic, fixed]) {
    if (node === undefined) continue;
    for (const set of node.rrsets.values()) if (set.records.length > 0) return set;
  }
  return undefined;
}
