import { setTails, type NameNode, type NameTable } from './name-table.js';
import type { ZoneApex } from './zone-apex.js';
import { RRType } from '../wire/constants.js';
import { isAtOrBelow } from '../wire/name.js';
import { blockTail } from '../wire/rdata.js';

/**
 * A zone as a secondary should serve it (what AXFR sends): the client-independent view of the answer plan. NS
 * and the zone files' records; every service's answerable A/AAAA and SRV (each set whole: a secondary has its
 * own order), instance names. What depends on the client (zone preference, consumer routes, weighted order) does
 * not survive a transfer.
 */
export interface ZoneRecord {
  /** The owner name, as wire. */
  readonly owner: Buffer;
  /** TYPE, CLASS, TTL, RDLENGTH and RDATA, as answers carry them. */
  readonly tail: Buffer;
}

/**
 * Every record of the zone except its SOA, zone-file records first: a name and type the zone files give is not
 * given again from the catalog (as answers prefer them), and a zone-file CNAME owns its name alone. The tables'
 * entries are taken at the call (nodes are replaced, never changed, so the records are those of that moment) and
 * the records produced as they are read: a transfer of a large zone is sent while it is built.
 */
export function zoneRecords(apex: ZoneApex, staticNames: NameTable, dynamicNames: NameTable): Iterable<ZoneRecord> {
  const fixed = [...staticNames].filter(([key]) => isAtOrBelow(key, apex.key));
  const dynamic = [...dynamicNames].filter(([key]) => isAtOrBelow(key, apex.key));
  return records(new Map(fixed), dynamic);
}

function* records(fixed: NameTable, dynamic: readonly (readonly [string, NameNode])[]): Generator<ZoneRecord> {
  for (const [key, node] of fixed) {
    const owner = Buffer.from(key, 'latin1');
    for (const set of node.rrsets.values()) if (set.type !== RRType.SOA) for (const tail of setTails(set)) yield { owner, tail };
  }
  for (const [key, node] of dynamic) {
    for (const r of nodeRecords(key, node)) if (servedBesideZoneFiles(fixed, r.name, r.tail.readUInt16BE(0))) yield r;
  }
}

/**
 * Whether a catalog record of this name and type is served where the zone files have the name too: a type the
 * zone files give is theirs (answers prefer them), and a zone-file CNAME owns its name alone.
 */
export function servedBesideZoneFiles(staticNames: NameTable, key: string, type: number): boolean {
  const node = staticNames.get(key);
  return node === undefined || (node.rrsets.get(type) === undefined && node.rrsets.get(RRType.CNAME) === undefined);
}

/**
 * Every record a name-table node answers with, under its owner names: its own and, for a service, its instance
 * and SRV names (they live in its node, not in the table). `name` is the owner as a table key.
 */
export function* nodeRecords(key: string, node: NameNode): Generator<ZoneRecord & { readonly name: string }> {
  const owner = Buffer.from(key, 'latin1');
  for (const set of node.rrsets.values()) for (const tail of setTails(set)) yield { name: key, owner, tail };
  const below = node.below;
  if (below === undefined) return;
  for (const [label, recs] of below.instanceEntries()) {
    const name = label + key;
    const nameWire = Buffer.from(name, 'latin1');
    for (const ref of typeof recs === 'number' ? [recs] : recs) yield { name, owner: nameWire, tail: blockTail(below.bytes, ref) };
  }
  for (const [proto, port, set] of below.srvEntries()) {
    const name = port + proto + key;
    const nameWire = Buffer.from(name, 'latin1');
    for (const tail of setTails(set)) yield { name, owner: nameWire, tail };
  }
}
