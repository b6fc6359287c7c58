import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ZoneApex } from './zone-apex.js';
import { setSoaSerial, soaSerial, tailOf } from '../wire/rdata.js';

/**
 * The SOA serial of each mesh zone, which grows with every change of what the zone serves (what secondaries
 * compare to decide whether to transfer). A change sets it to max(serial + 1, the current Unix time): never
 * back, also across restarts (the last one is kept in the data directory and the clock only moves on), and
 * close between replicas that share an etcd store (each stamps its changes with the time; RFC 1982 arithmetic
 * is not needed for another 80 years).
 */
export class ZoneSerials {
  private readonly serials = new Map<string, number>();
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly zoneKeys: readonly string[],
    /** Where the last serials are kept across restarts; undefined: not kept (a worker, a test). */
    private readonly file: string | undefined,
    private readonly now: () => number = Date.now,
  ) {
    let saved: Record<string, number> = {};
    if (file !== undefined) {
      try {
        saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>;
      } catch {
        // First start, or an unreadable file: the time alone is a serial that has never been used before.
      }
    }
    const start = Math.floor(now() / 1000);
    for (const key of zoneKeys) {
      const last = typeof saved[key] === 'number' ? saved[key] : 0;
      this.serials.set(key, Math.max(last + 1, start) >>> 0);
    }
  }

  static inDataDir(zoneKeys: readonly string[], dataDir: string): ZoneSerials {
    return new ZoneSerials(zoneKeys, join(dataDir, 'zone-serials.json'));
  }

  serialOf(zoneKey: string): number | undefined {
    return this.serials.get(zoneKey);
  }

  /** The serials of the process that owns the catalog (a worker's replica follows them). */
  entries(): [string, number][] {
    return [...this.serials];
  }

  set(entries: readonly (readonly [string, number])[]): void {
    for (const [key, serial] of entries) if (this.serials.has(key)) this.serials.set(key, serial);
  }

  /** Another replica stamped a larger serial (a shared store): ours goes on from it. False when it is not larger. */
  raise(zoneKey: string, serial: number): boolean {
    const own = this.serials.get(zoneKey);
    if (own === undefined || serial <= own) return false;
    this.serials.set(zoneKey, serial >>> 0);
    this.scheduleSave();
    return true;
  }

  /** Every mesh zone changed (a service's names are in each): a new serial for each. */
  bump(): void {
    const now = Math.floor(this.now() / 1000);
    for (const [key, serial] of this.serials) this.serials.set(key, Math.max(serial + 1, now) >>> 0);
    this.scheduleSave();
  }

  /** Writes the zone's serial into its SOA records (the answer's and the negative answers'), in place. */
  patch(apex: ZoneApex): void {
    let serial = this.serials.get(apex.key);
    if (serial === undefined) return;
    // A zone file's serial above ours (a YYYYMMDDnn serial is above the Unix time) is where the zone's serial
    // goes on from: a secondary that holds the file's zone must never see the serial go back.
    const written = apex.soa.records[0];
    if (written !== undefined) {
      const given = soaSerial(tailOf(written));
      if (given > serial) {
        serial = given;
        this.serials.set(apex.key, serial);
        this.scheduleSave();
      }
    }
    for (const r of apex.soa.records) setSoaSerial(tailOf(r), serial);
    setSoaSerial(apex.negativeSoaTail, serial);
  }

  private scheduleSave(): void {
    if (this.file === undefined || this.saveTimer !== undefined) return;
    // At most once a second: a burst of changes is one write.
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, 1000);
    this.saveTimer.unref();
  }

  /** Written now (at stop, and a second after changes), atomically: a crash leaves the old file or the new. */
  save(): void {
    if (this.file === undefined) return;
    const temp = `${this.file}.tmp`;
    try {
      writeFileSync(temp, JSON.stringify(Object.fromEntries(this.serials)));
      renameSync(temp, this.file);
    } catch {
      // A read-only data directory: serials still grow from the clock after a restart.
    }
  }
}
