import type { NameTable } from './name-table.js';
import type { ZoneApex } from './zone-apex.js';
import { RRType } from '../wire/constants.js';
import { isAtOrBelow } from '../wire/name.js';
import type { EncodedRecord } from '../wire/rdata.js';

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
 * given again from the catalog (as answers prefer them), and a zone-file CNAME owns its name alone.
 */
export function zoneRecords(apex: ZoneApex, staticNames: NameTable, dynamicNames: NameTable): ZoneRecord[] {
  const out: ZoneRecord[] = [];
  const fixedTypes = new Map<string, Set<number>>();
  for (const [key, node] of staticNames) {
    if (!isAtOrBelow(key, apex.key)) continue;
    const types = new Set<number>();
    for (const set of node.rrsets.values()) {
      types.add(set.type);
      if (set.type === RRType.SOA) continue;
      const owner = Buffer.from(key, 'latin1');
      for (const r of set.records) out.push({ owner, tail: r.tail });
    }
    fixedTypes.set(key, types);
  }
  const dynamic = (owner: string, type: number, records: readonly { readonly tail: Buffer }[]): void => {
    if (records.length === 0) return;
    const fixed = fixedTypes.get(owner);
    if (fixed !== undefined && (fixed.has(type) || fixed.has(RRType.CNAME))) return;
    const name = Buffer.from(owner, 'latin1');
    for (const r of records) out.push({ owner: name, tail: r.tail });
  };
  for (const [key, node] of dynamicNames) {
    if (!isAtOrBelow(key, apex.key)) continue;
    for (const set of node.rrsets.values()) dynamic(key, set.type, set.records);
    const below = node.below;
    if (below === undefined) continue;
    // A service's names below its own (instance and SRV names) live in its node, not in the table.
    for (const [label, records] of below.instanceEntries()) {
      for (const r of Array.isArray(records) ? (records as readonly EncodedRecord[]) : [records as EncodedRecord]) dynamic(label + key, r.type, [r]);
    }
    for (const [proto, port, set] of below.srvEntries()) dynamic(port + proto + key, set.type, set.records);
  }
  return out;
}

