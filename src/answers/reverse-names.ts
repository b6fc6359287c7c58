import { RRType } from '../dns/wire/constants.js';
import { isAtOrBelow, keyOf, parentKey } from '../dns/wire/name.js';
import { ipv4Rdata, ipv6Rdata, record, type EncodedRecord } from '../dns/wire/rdata.js';
import { fixedSet, RRSets, type NameNode, type NameTable } from './records.js';

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

interface Contribution {
  readonly key: string;
  readonly record: EncodedRecord;
}

/**
 * PTR records for every instance address, kept in the dynamic name table
 * beside the service names and rebuilt per change of a service, never per
 * query. A name shared by several instances (one address, several services)
 * holds one PTR each. Inside a reverse zone meshdns owns (--reverse-cidr),
 * the names between a PTR name and the zone apex exist as empty
 * non-terminals, so qname-minimising resolvers walking down do not get an
 * NXDOMAIN that would hide the whole subtree (RFC 8020).
 */
export class ReverseNames {
  private readonly byService = new Map<string, Contribution[]>();
  private readonly byName = new Map<string, EncodedRecord[]>();
  private readonly entRefs = new Map<string, number>();

  constructor(
    private readonly table: NameTable,
    private readonly ttl: number,
    private readonly ownedZoneKeys: readonly string[],
  ) {}

  /** Replaces what one service contributes: (address, PTR target wire name) per instance. */
  setService(serviceKey: string, targets: readonly { address: string; target: Buffer; targetKey: string }[]): void {
    const touched = new Set<string>();
    for (const old of this.byService.get(serviceKey) ?? []) {
      const list = this.byName.get(old.key)!;
      list.splice(list.indexOf(old.record), 1);
      touched.add(old.key);
    }
    const added: Contribution[] = [];
    for (const t of targets) {
      const key = keyOf(reverseName(t.address));
      const rec = record(RRType.PTR, this.ttl, t.target, t.targetKey);
      let list = this.byName.get(key);
      if (list === undefined) this.byName.set(key, (list = []));
      list.push(rec);
      added.push({ key, record: rec });
      touched.add(key);
    }
    if (added.length > 0) this.byService.set(serviceKey, added);
    else this.byService.delete(serviceKey);
    for (const key of touched) this.publish(key);
  }

  private publish(key: string): void {
    const list = this.byName.get(key) ?? [];
    const had = this.table.get(key)?.rrsets.get(RRType.PTR) !== undefined;
    if (list.length === 0) {
      this.byName.delete(key);
      if (had) {
        this.table.delete(key);
        this.adjustEnts(key, -1);
      }
      return;
    }
    const node: NameNode = { rrsets: new RRSets([[RRType.PTR, fixedSet(RRType.PTR, list)]]) };
    // An ENT of a deeper name may sit here already: a PTR name replaces it (it stays counted).
    this.table.set(key, node);
    if (!had) this.adjustEnts(key, +1);
  }

  /** Counts the names below each ancestor inside an owned zone; an ancestor exists while it has one. */
  private adjustEnts(key: string, delta: number): void {
    const zone = this.ownedZoneKeys.find((z) => isAtOrBelow(key, z));
    if (zone === undefined) return;
    for (let p = parentKey(key); p !== undefined && p.length > zone.length; p = parentKey(p)) {
      const n = (this.entRefs.get(p) ?? 0) + delta;
      if (n > 0) {
        this.entRefs.set(p, n);
        if (!this.table.has(p)) this.table.set(p, EMPTY_NON_TERMINAL);
      } else {
        this.entRefs.delete(p);
        if (this.table.get(p) === EMPTY_NON_TERMINAL) this.table.delete(p);
      }
    }
  }

  /** Distinct reverse names held (for the scale bench). */
  get size(): number {
    return this.byName.size;
  }
}

const EMPTY_NON_TERMINAL: NameNode = { rrsets: new RRSets() };
