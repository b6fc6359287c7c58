import type { NameNode, NameTable } from './name-table.js';
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
 * given again from the catalog (as answers prefer them), and a zone-file CNAME owns its name alone. The tables'
 * entries are taken at the call (nodes are replaced, never changed, so the records are those of that moment) and
 * the records produced as they are read: a transfer of a large zone is sent while it is built.
 */
export function zoneRecords(apex: ZoneApex, staticNames: NameTable, dynamicNames: NameTable): Iterable<ZoneRecord> {
  const fixed = [...staticNames].filter(([key]) => isAtOrBelow(key, apex.key));
  const dynamic = [...dynamicNames].filter(([key]) => isAtOrBelow(key, apex.key));
  return records(fixed, dynamic);
}

function* records(fixed: readonly (readonly [string, NameNode])[], dynamic: readonly (readonly [string, NameNode])[]): Generator<ZoneRecord> {
  const fixedTypes = new Map<string, Set<number>>();
  for (const [key, node] of fixed) {
    const types = new Set<number>();
    const owner = Buffer.from(key, 'latin1');
    for (const set of node.rrsets.values()) {
      types.add(set.type);
      if (set.type === RRType.SOA) continue;
      for (const r of set.records) yield { owner, tail: r.tail };
    }
    fixedTypes.set(key, types);
  }
  const served = (owner: string, type: number): boolean => {
    const types = fixedTypes.get(owner);
    return types === undefined || (!types.has(type) && !types.has(RRType.CNAME));
  };
  for (const [key, node] of dynamic) {
    const owner = Buffer.from(key, 'latin1');
    for (const set of node.rrsets.values()) if (served(key, set.type)) for (const r of set.records) yield { owner, tail: r.tail };
    const below = node.below;
    if (below === undefined) continue;
    // A service's names below its own (instance and SRV names) live in its node, not in the table.
    for (const [label, recs] of below.instanceEntries()) {
      const name = label + key;
      const nameWire = Buffer.from(name, 'latin1');
      for (const r of Array.isArray(recs) ? (recs as readonly EncodedRecord[]) : [recs as EncodedRecord]) if (served(name, r.type)) yield { owner: nameWire, tail: r.tail };
    }
    for (const [proto, port, set] of below.srvEntries()) {
      const name = port + proto + key;
      if (served(name, set.type)) for (const r of set.records) yield { owner: Buffer.from(name, 'latin1'), tail: r.tail };
    }
  }
}
