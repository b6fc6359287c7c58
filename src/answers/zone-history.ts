import type { NameNode } from './name-table.js';
import { nodeRecords, type ZoneRecord } from './zone-content.js';

/** Versions kept per zone, and records across them: an IXFR from older than that gets the whole zone. */
const MAX_VERSIONS = 64;
const MAX_RECORDS = 100_000;

/** One version step of a zone: what went and what came between two serials. */
export interface ZoneChange {
  readonly from: number;
  readonly to: number;
  readonly removed: readonly ZoneRecord[];
  readonly added: readonly ZoneRecord[];
}

/** A service node's records keyed by owner and content (a record is the same record when both are). */
function recordsByIdentity(svcKey: string, node: NameNode | undefined): Map<string, ZoneRecord> {
  const out = new Map<string, ZoneRecord>();
  if (node === undefined) return out;
  for (const r of nodeRecords(svcKey, node)) out.set(r.name + r.tail.toString('latin1'), { owner: r.owner, tail: r.tail });
  return out;
}

/**
 * The changes of each mesh zone between serials, for IXFR (RFC 1995): gathered from the services the catalog
 * rebuilt (their names' records before and after), one version per serial. Bounded; a zone-file reload starts
 * the history over (its records are not tracked one by one).
 */
export class ZoneHistory {
  private readonly versions = new Map<string, ZoneChange[]>();
  private readonly pending = new Map<string, { removed: Map<string, ZoneRecord>; added: Map<string, ZoneRecord>; overflow: boolean }>();

  /** A service's node in a zone was rebuilt: what its names answered before and answer now. */
  rebuilt(zoneKey: string, svcKey: string, before: NameNode | undefined, after: NameNode | undefined): void {
    if (before === after) return;
    let p = this.pending.get(zoneKey);
    if (p === undefined) this.pending.set(zoneKey, (p = { removed: new Map(), added: new Map(), overflow: false }));
    // A step this large (the first load of a large catalog) is not kept: the whole zone costs no more to send.
    if (p.overflow) return;
    const old = recordsByIdentity(svcKey, before);
    const now = recordsByIdentity(svcKey, after);
    for (const [k, r] of old) {
      if (now.has(k)) continue;
      // Added earlier in this same version and gone again: nothing to tell.
      if (!p.added.delete(k)) p.removed.set(k, r);
    }
    for (const [k, r] of now) {
      if (old.has(k)) continue;
      if (!p.removed.delete(k)) p.added.set(k, r);
    }
    if (p.removed.size + p.added.size > MAX_RECORDS) {
      p.overflow = true;
      p.removed.clear();
      p.added.clear();
    }
  }

  /** The zone went from serial `from` to `to`: what was gathered since the last version is that step. */
  commit(zoneKey: string, from: number, to: number): void {
    const p = this.pending.get(zoneKey);
    this.pending.delete(zoneKey);
    let list = this.versions.get(zoneKey);
    if (list === undefined) this.versions.set(zoneKey, (list = []));
    if (from === to) return;
    if (p?.overflow === true) {
      // The step is not kept, so no serial before it can be reached: an IXFR from one gets the whole zone.
      list.length = 0;
      return;
    }
    list.push({ from, to, removed: p === undefined ? [] : [...p.removed.values()], added: p === undefined ? [] : [...p.added.values()] });
    let records = list.reduce((sum, c) => sum + c.removed.length + c.added.length, 0);
    while (list.length > MAX_VERSIONS || (records > MAX_RECORDS && list.length > 1)) {
      const gone = list.shift()!;
      records -= gone.removed.length + gone.added.length;
    }
  }

  /** Start over: the zone changed in a way not tracked record by record (a zone file reloaded). */
  reset(zoneKey: string): void {
    this.versions.delete(zoneKey);
    this.pending.delete(zoneKey);
  }

  /** The steps from a client's serial to now, oldest first, when the history reaches back that far. */
  since(zoneKey: string, clientSerial: number): readonly ZoneChange[] | undefined {
    const list = this.versions.get(zoneKey) ?? [];
    const start = list.findIndex((c) => c.from === clientSerial);
    if (start < 0) return undefined;
    // Every step since must chain (a reset or a serial adopted from a zone file breaks the chain).
    for (let i = start + 1; i < list.length; i++) if (list[i]!.from !== list[i - 1]!.to) return undefined;
    return list.slice(start);
  }
}
