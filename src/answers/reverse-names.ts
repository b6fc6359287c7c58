import { clearForReuse, exactCopy } from './reuse.js';
import { RRType } from '../wire/constants.js';
import { isAtOrBelow, keyOf, parentKey } from '../wire/name.js';
import { ipv4Rdata, ipv6Rdata, record } from '../wire/rdata.js';
import { refillableSet, type NameNode, type RRSet, type RRSetLookup } from './name-table.js';

/** The reverse name of an address: 10.0.0.7 → 7.0.0.10.in-addr.arpa., fd00::7 → 32 nibbles .ip6.arpa. */
export function reverseName(address: string): string {
  if (address.includes(':')) {
    const hex = ipv6Rdata(address).toString('hex');
    return `${[...hex].reverse().join('.')}.ip6.arpa.`;
  }
  return `${[...ipv4Rdata(address)].reverse().join('.')}.in-addr.arpa.`;
}

/**
 * The reverse zone a CIDR makes meshdns authoritative for, rounded down to
 * the nearest label boundary (an octet for IPv4, a nibble for IPv6), so no
 * RFC 2317 classless delegation is needed: 10.0.0.0/8 → 10.in-addr.arpa.,
 * 10.16.0.0/12 → 10.in-addr.arpa., fd00::/8 → d.f.ip6.arpa.
 */
export function reverseZoneOf(cidr: string): string {
  const [address, prefixText] = cidr.split('/') as [string, string];
  const prefix = Number(prefixText);
  if (address.includes(':')) {
    const nibbles = [...ipv6Rdata(address).toString('hex')].slice(0, Math.floor(prefix / 4));
    return `${[...nibbles.reverse(), 'ip6', 'arpa'].join('.')}.`;
  }
  const octets = [...ipv4Rdata(address)].slice(0, Math.floor(prefix / 8));
  return `${[...octets.reverse(), 'in-addr', 'arpa'].join('.')}.`;
}

/** One instance's PTR: its reverse name and the instance name it points to (both wire keys). */
export interface PtrTarget {
  readonly address: string;
  readonly targetKey: string;
}

/**
 * PTR data for every instance address, kept per change of a service, never
 * per query. Only keys are kept (reverse name → instance name): PTR queries
 * are rare, so their records are encoded when asked for, which keeps the
 * table to a map entry per address (an encoded record and a node per address
 * cost about 1 KB each, 120 MB at 100,000 instances). A name shared by several
 * instances (one address, several services) answers one PTR each. Inside a
 * reverse zone meshdns owns (--reverse-cidr), the names between a PTR name
 * and the zone apex exist as empty non-terminals, so QNAME-minimising
 * resolvers walking down get NODATA, not an NXDOMAIN that hides the subtree
 * (RFC 8020).
 */
export class ReverseNames {
  /**
   * What each service contributes, flat: [address, target key, reverse key, ...] per target. One array a service,
   * no object per target (at 100,000 instances the objects and their two arrays a service were ~7 MB).
   */
  private readonly byService = new Map<string, readonly string[]>();
  /** Reverse key → the instance names (keys) at that address. */
  private readonly byName = new Map<string, string | string[]>();
  private readonly entRefs = new Map<string, number>();
  private readonly node = new PtrName();

  constructor(
    private readonly ttl: number,
    private readonly ownedZoneKeys: readonly string[],
  ) {}

  /** Replaces what one service contributes. */
  setService(serviceKey: string, targets: readonly PtrTarget[]): void {
    const old = this.byService.get(serviceKey);
    // Most changes (a weight, a probe result) leave every address and name as it was: nothing to redo.
    if (old !== undefined && sameTargets(old, targets)) return;
    if (old !== undefined) for (let i = 0; i < old.length; i += 3) this.drop(old[i + 2]!, old[i + 1]!);
    if (targets.length === 0) {
      this.byService.delete(serviceKey);
      return;
    }
    const kept: string[] = [];
    for (const t of targets) {
      const key = keyOf(reverseName(t.address));
      this.add(key, t.targetKey);
      kept.push(t.address, t.targetKey, key);
    }
    this.byService.set(serviceKey, exactCopy(kept));
  }

  /** The PTR set of a reverse name, encoded now into a node reused from query to query. */
  lookup(key: string): NameNode | undefined {
    const targets = this.byName.get(key);
    if (targets !== undefined) return this.node.fill(targets, this.ttl);
    return this.entRefs.has(key) ? EMPTY_NODE : undefined;
  }

  /** Distinct reverse names held. */
  get size(): number {
    return this.byName.size;
  }

  private add(key: string, target: string): void {
    const current = this.byName.get(key);
    if (current === undefined) {
      this.byName.set(key, target);
      this.adjustEnts(key, +1);
    } else {
      this.byName.set(key, Array.isArray(current) ? [...current, target] : [current, target]);
    }
  }

  private drop(key: string, target: string): void {
    const current = this.byName.get(key);
    if (current === undefined) return;
    if (!Array.isArray(current)) {
      if (current !== target) return;
      this.byName.delete(key);
      this.adjustEnts(key, -1);
      return;
    }
    const rest = [...current];
    rest.splice(rest.indexOf(target), 1);
    this.byName.set(key, rest.length === 1 ? rest[0]! : rest);
  }

  /** Counts the names below each ancestor inside an owned zone; an ancestor exists while it has one. */
  private adjustEnts(key: string, delta: number): void {
    const zone = this.ownedZoneKeys.find((z) => isAtOrBelow(key, z));
    if (zone === undefined) return;
    for (let p = parentKey(key); p !== undefined && p.length > zone.length; p = parentKey(p)) {
      const n = (this.entRefs.get(p) ?? 0) + delta;
      if (n > 0) this.entRefs.set(p, n);
      else this.entRefs.delete(p);
    }
  }
}

function sameTargets(kept: readonly string[], targets: readonly PtrTarget[]): boolean {
  if (kept.length !== targets.length * 3) return false;
  for (let i = 0; i < targets.length; i++) if (kept[i * 3] !== targets[i]!.address || kept[i * 3 + 1] !== targets[i]!.targetKey) return false;
  return true;
}

const EMPTY_NODE: NameNode = { rrsets: { get: () => undefined, values: () => [] } };

/** The PTR set of one reverse name, filled per lookup like the resolver's instance names. */
class PtrName implements NameNode, RRSetLookup {
  readonly rrsets: RRSetLookup = this;
  private readonly set = refillableSet(RRType.PTR);

  fill(targets: string | readonly string[], ttl: number): this {
    clearForReuse(this.set.records);
    for (const t of typeof targets === 'string' ? [targets] : targets) this.set.records.push(record(RRType.PTR, ttl, Buffer.from(t, 'latin1'), t));
    return this;
  }

  get(type: number): RRSet | undefined {
    return type === RRType.PTR ? this.set : undefined;
  }

  values(): Iterable<RRSet> {
    return [this.set];
  }
}
