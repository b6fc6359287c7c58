import { clearForReuse, exactCopy } from './reuse.js';
import { RRType } from '../wire/constants.js';
import { childKey, isAtOrBelow, keyOf, parentKey } from '../wire/name.js';
import { ipv4Rdata, ipv6Rdata, record } from '../wire/rdata.js';
import { ipv6Text } from '../wire/address-text.js';
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

/**
 * One PTR: an address and the name it points to, given as the name's first label as text (no length octet; '' for
 * none) and the key it sits under. Two parts, so the table keeps the strings the catalog and the name table already
 * hold (an instance's id or hostname, its service's key) instead of a whole name per address (~5 MB at 100,000
 * instances).
 */
export interface PtrTarget {
  readonly address: string;
  readonly label: string;
  readonly parent: string;
}

/**
 * PTR data for every instance address, kept per change of a service, never
 * per query. Only strings other tables already hold are kept: the instances'
 * own address strings, their labels and their services' keys; PTR queries are
 * rare, so the query's reverse name is read back into an address then, and
 * the records are encoded then (a reverse-name key and a target name per
 * address were ~15 MB at 100,000 instances). A name shared by several
 * instances (one address, several services) answers one PTR each. Inside a
 * reverse zone meshdns owns (--reverse-cidr), the names between a PTR name
 * and the zone apex exist as empty non-terminals, so QNAME-minimising
 * resolvers walking down get NODATA, not an NXDOMAIN that hides the subtree
 * (RFC 8020).
 */
export class ReverseNames {
  /**
   * What each service contributes, flat: [address, label, parent, ...] per target. One array a service,
   * no object per target (at 100,000 instances the objects and their two arrays a service were ~7 MB).
   */
  private readonly byService = new Map<string, readonly string[]>();
  /** Address (the text addressText gives) → the services (keys of byService) with a target there. */
  private readonly byAddress = new Map<string, string | string[]>();
  private readonly entRefs = new Map<string, number>();
  private readonly node = new PtrName();
  private readonly targets: string[] = [];

  constructor(
    private readonly ttl: number,
    private readonly ownedZoneKeys: readonly string[],
  ) {}

  /** Replaces what one service contributes. */
  setService(serviceKey: string, targets: readonly PtrTarget[]): void {
    const old = this.byService.get(serviceKey);
    // Most changes (a weight, a probe result) leave every address and name as it was: nothing to redo.
    if (old !== undefined && sameTargets(old, targets)) return;
    if (old !== undefined) for (const address of addressesOf(old)) this.drop(address, serviceKey);
    if (targets.length === 0) {
      this.byService.delete(serviceKey);
      return;
    }
    const kept: string[] = [];
    for (const t of targets) kept.push(addressText(t.address), t.label, t.parent);
    for (const address of addressesOf(kept)) this.add(address, serviceKey);
    this.byService.set(serviceKey, exactCopy(kept));
  }

  /** The PTR set of a reverse name, encoded now into a node reused from query to query. */
  lookup(key: string): NameNode | undefined {
    const address = addressOfReverseKey(key);
    const services = address === undefined ? undefined : this.byAddress.get(address);
    if (services === undefined) return this.entRefs.has(key) ? EMPTY_NODE : undefined;
    const targets = this.targets;
    clearForReuse(targets);
    for (const serviceKey of typeof services === 'string' ? [services] : services) {
      const kept = this.byService.get(serviceKey)!;
      for (let i = 0; i < kept.length; i += 3) {
        if (kept[i] !== address) continue;
        const label = kept[i + 1]!;
        targets.push(label === '' ? kept[i + 2]! : childKey([label], kept[i + 2]!));
      }
    }
    return this.node.fill(targets, this.ttl);
  }

  /** Distinct reverse names held. */
  get size(): number {
    return this.byAddress.size;
  }

  private add(address: string, serviceKey: string): void {
    const current = this.byAddress.get(address);
    if (current === undefined) {
      this.byAddress.set(address, serviceKey);
      this.adjustEnts(address, +1);
    } else {
      this.byAddress.set(address, Array.isArray(current) ? [...current, serviceKey] : [current, serviceKey]);
    }
  }

  private drop(address: string, serviceKey: string): void {
    const current = this.byAddress.get(address);
    if (current === undefined) return;
    if (!Array.isArray(current)) {
      if (current !== serviceKey) return;
      this.byAddress.delete(address);
      this.adjustEnts(address, -1);
      return;
    }
    const rest = [...current];
    rest.splice(rest.indexOf(serviceKey), 1);
    this.byAddress.set(address, rest.length === 1 ? rest[0]! : rest);
  }

  /** Counts the names below each ancestor inside an owned zone; an ancestor exists while it has one. */
  private adjustEnts(address: string, delta: number): void {
    if (this.ownedZoneKeys.length === 0) return;
    const key = keyOf(reverseName(address));
    const zone = this.ownedZoneKeys.find((z) => isAtOrBelow(key, z));
    if (zone === undefined) return;
    for (let p = parentKey(key); p !== undefined && p.length > zone.length; p = parentKey(p)) {
      const n = (this.entRefs.get(p) ?? 0) + delta;
      if (n > 0) this.entRefs.set(p, n);
      else this.entRefs.delete(p);
    }
  }
}

/** The distinct addresses of a service's kept targets (two instances may share one). */
function addressesOf(kept: readonly string[]): Set<string> {
  const addresses = new Set<string>();
  for (let i = 0; i < kept.length; i += 3) addresses.add(kept[i]!);
  return addresses;
}

const IN_ADDR_ARPA = keyOf('in-addr.arpa.');
const IP6_ARPA = keyOf('ip6.arpa.');

/**
 * One text per address, whatever way it was written: a dotted quad as it is (the catalog accepts only the
 * canonical form: node:net's isIP refuses leading zeros), IPv6 as ipv6Text writes its 16 octets (RFC 5952's, as node:dgram reports a sender). The
 * given string itself when it already is that text, so the table shares the instance's string.
 */
export function addressText(address: string): string {
  if (!address.includes(':')) return address;
  const text = ipv6Text(ipv6Rdata(address));
  return text === address ? address : text;
}

/**
 * The address a reverse name's key stands for, as addressText writes it: 7.0.0.10.in-addr.arpa. → 10.0.0.7,
 * 32 nibble labels .ip6.arpa. → the IPv6 text; undefined for any other name (a shorter one, an octet written
 * with a leading zero, a nibble that is not one hex digit), which no address has.
 */
export function addressOfReverseKey(key: string): string | undefined {
  if (key.endsWith(IN_ADDR_ARPA)) {
    const octets: string[] = [];
    let at = 0;
    const end = key.length - IN_ADDR_ARPA.length;
    while (at < end) {
      const len = key.charCodeAt(at);
      const label = key.slice(at + 1, at + 1 + len);
      if (octets.length === 4 || !/^(?:0|[1-9]\d{0,2})$/.test(label) || Number(label) > 255) return undefined;
      octets.push(label);
      at += len + 1;
    }
    return octets.length === 4 && at === end ? `${octets[3]}.${octets[2]}.${octets[1]}.${octets[0]}` : undefined;
  }
  if (key.endsWith(IP6_ARPA) && key.length === 64 + IP6_ARPA.length) {
    const octets = Buffer.allocUnsafe(16);
    for (let i = 0; i < 32; i++) {
      if (key.charCodeAt(i * 2) !== 1) return undefined;
      const nibble = HEX_DIGITS.indexOf(key[i * 2 + 1]!);
      if (nibble < 0) return undefined;
      const byte = 15 - (i >> 1);
      octets[byte] = i % 2 === 0 ? nibble : (octets[byte]! | (nibble << 4));
    }
    return ipv6Text(octets);
  }
  return undefined;
}

const HEX_DIGITS = '0123456789abcdef';

function sameTargets(kept: readonly string[], targets: readonly PtrTarget[]): boolean {
  if (kept.length !== targets.length * 3) return false;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    if ((kept[i * 3] !== t.address && kept[i * 3] !== addressText(t.address)) || kept[i * 3 + 1] !== t.label || kept[i * 3 + 2] !== t.parent) return false;
  }
  return true;
}

const EMPTY_NODE: NameNode = { rrsets: { get: () => undefined, values: () => [] } };

/** The PTR set of one reverse name, filled per lookup like the resolver's instance names. */
class PtrName implements NameNode, RRSetLookup {
  readonly rrsets: RRSetLookup = this;
  private readonly set = refillableSet(RRType.PTR);

  fill(targets: readonly string[], ttl: number): this {
    clearForReuse(this.set.records);
    for (const t of targets) this.set.records.push(record(RRType.PTR, ttl, Buffer.from(t, 'latin1'), t));
    return this;
  }

  get(type: number): RRSet | undefined {
    return type === RRType.PTR ? this.set : undefined;
  }

  values(): Iterable<RRSet> {
    return [this.set];
  }
}
