import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { StaticZone } from '../../answers/resolver.js';
import type { SourcedInstance } from '../../catalog/catalog.js';
import { keyOf } from '../../dns/wire/name.js';
import { parseZone, ZoneSyntaxError } from './parser.js';
import { buildZoneData, emptyZone, reverseZone, type ZoneData } from './zone-data.js';

export interface ZoneSnapshot {
  readonly zones: StaticZone[];
  readonly instances: SourcedInstance[];
}

export interface ZoneDirectoryOptions {
  dir: string;
  /** Mesh zones (keys): served even without a file; their service-shaped records feed the catalog. */
  meshZones: readonly string[];
  ttl: number;
  /** Addresses of the generated name server ns.dns.<zone>, for zones whose file gives no NS. */
  nsAddresses?: readonly string[];
  /** Reverse zones (keys) served authoritatively (--reverse-cidr), named by the first mesh zone's name server. */
  reverseZones?: readonly string[];
  logger: Logger;
  onSnapshot: (snapshot: ZoneSnapshot) => void;
  /** How often files are re-checked in case a watch event was missed (atomic renames, new directory). */
  pollMs?: number;
  onLoad?: (ok: boolean) => void;
  /** Log nothing (a worker process reading the same files as its primary, which does the talking). */
  quiet?: boolean;
}

/**
 * A file changed less than this long ago may still be being written (editors
 * and scripts write in several calls): look again once it has been still
 * this long, rather than load half a file.
 */
const SETTLE_MS = 500;

interface FileState {
  mtimeMs: number;
  size: number;
  data: ZoneData | null;
}

/**
 * Loads `<zone>.zone` files from a directory and keeps them current. A file
 * that fails to parse keeps its last good data being served; the error is
 * logged with file and line, once per change of the file.
 */
export class ZoneDirectory {
  private readonly files = new Map<string, FileState>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  /** Zone files that currently fail to parse, with the reason. */
  readonly errors = new Map<string, string>();

  constructor(private readonly opts: ZoneDirectoryOptions) {
    if (opts.quiet) this.opts = { ...opts, logger: opts.logger.child({}, { level: 'silent' }) };
  }

  /** Loads everything now and starts watching. */
  start(): void {
    this.reload();
    try {
      this.watcher = watch(this.opts.dir, () => this.scheduleReload());
      this.watcher.on('error', () => undefined);
    } catch {
      // Missing directory: the poll below picks it up when it appears.
    }
    this.timer = setInterval(() => this.reload(), this.opts.pollMs ?? 2000);
    this.timer.unref();
  }

  stop(): void {
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
  }

  private scheduleReload(delayMs = 50): void {
    if (this.debounce) clearTimeout(this.debounce);
    // Editors write in bursts; wait for the burst to end.
    this.debounce = setTimeout(() => this.reload(), delayMs);
    this.debounce.unref();
  }

  /** Re-reads changed files; publishes a snapshot when anything changed. Returns whether it did. */
  reload(): boolean {
    const { dir, logger } = this.opts;
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.zone'));
    } catch (err) {
      if (this.files.size === 0 && this.published) return false;
      names = [];
      if (!this.published) logger.warn({ dir, err: (err as Error).message }, 'zone directory is not readable; serving generated SOA/NS only');
    }
    let changed = !this.published;
    const seen = new Set(names);
    for (const file of [...this.files.keys()]) {
      if (!seen.has(file)) {
        this.files.delete(file);
        this.errors.delete(file);
        logger.info({ file: join(dir, file) }, 'zone file removed');
        changed = true;
      }
    }
    for (const name of names) if (this.refreshFile(name)) changed = true;
    if (changed) this.publish();
    return changed;
  }

  private published = false;

  private refreshFile(name: string): boolean {
    const { dir, logger, meshZones, ttl } = this.opts;
    const path = join(dir, name);
    let stat;
    try {
      stat = statSync(path);
    } catch {
      return false;
    }
    const prev = this.files.get(name);
    if (prev && prev.mtimeMs === stat.mtimeMs && prev.size === stat.size) return false;
    const age = Date.now() - stat.mtimeMs;
    if (this.published && age >= 0 && age < SETTLE_MS) {
      this.scheduleReload(SETTLE_MS - age + 10);
      return false;
    }
    const origin = name.slice(0, -'.zone'.length) + '.';
    try {
      const parsed = parseZone(readFileSync(path, 'utf8'), origin);
      const data = buildZoneData(parsed, meshZones.includes(parsed.originKey), ttl, this.opts.nsAddresses);
      this.files.set(name, { mtimeMs: stat.mtimeMs, size: stat.size, data });
      this.errors.delete(name);
      logger.info({ file: path, zone: origin, records: parsed.records.length, instances: data.instances.length }, 'zone file loaded');
      for (const warning of data.warnings) logger.warn({ file: path, zone: origin, problem: warning }, 'zone file loaded with a problem; answers stop where the loop closes');
      this.opts.onLoad?.(true);
      return true;
    } catch (err) {
      const line = err instanceof ZoneSyntaxError ? err.line : undefined;
      const reason = `${path}${line === undefined ? '' : `:${line}`}: ${(err as Error).message}`;
      this.errors.set(name, reason);
      this.opts.onLoad?.(false);
      logger.error(
        { file: path, line, err: (err as Error).message },
        prev?.data ? 'zone file is broken; still serving its last good version — fix the file and save it again' : 'zone file is broken and was never loaded; fix it and save it again',
      );
      // Remember the stat so the same broken version is reported once, keep the data.
      this.files.set(name, { mtimeMs: stat.mtimeMs, size: stat.size, data: prev?.data ?? null });
      return false;
    }
  }

  private publish(): void {
    this.published = true;
    const zones = new Map<string, StaticZone>();
    const instances: SourcedInstance[] = [];
    for (const state of this.files.values()) {
      if (state.data === null) continue;
      zones.set(state.data.zone.apex.key, state.data.zone);
      instances.push(...state.data.instances);
    }
    for (const mesh of this.opts.meshZones) if (!zones.has(mesh)) zones.set(mesh, emptyZone(mesh, this.opts.ttl, this.opts.nsAddresses));
    const nameServer = this.opts.meshZones[0] === undefined ? undefined : `\x02ns\x03dns${this.opts.meshZones[0]}`;
    for (const reverse of this.opts.reverseZones ?? []) if (!zones.has(reverse)) zones.set(reverse, reverseZone(reverse, this.opts.ttl, nameServer));
    this.opts.onSnapshot({ zones: [...zones.values()], instances });
  }
}

export function zoneKeys(domains: readonly string[]): string[] {
  return domains.map((d) => keyOf(d.endsWith('.') ? d : `${d}.`));
}

