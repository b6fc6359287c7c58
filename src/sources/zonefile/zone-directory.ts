import { closeSync, constants, fstatSync, openSync, readdirSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { StaticZone } from '../../answers/resolver.js';
import type { SourcedInstance } from '../../catalog/catalog.js';
import { keyOf } from '../../wire/name.js';
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

/**
 * The largest zone file read: 32 MiB is several times the largest static zone meshdns is meant to carry
 * (100,000 records are ~5 MB of text; live data comes from the catalog, not files), and small enough that a
 * file that never ends (a symlink to /dev/zero, a runaway generator) cannot take the process's memory.
 */
export const MAX_ZONE_FILE_BYTES = 32 * 1024 * 1024;

/**
 * A zone file's text, read only if it is a regular file within the bound. It is opened non-blocking, so a
 * FIFO (or a device) named `*.zone` cannot stop the thread in open(2), and the checks are made on the open
 * descriptor, so the file cannot be swapped for something else between the check and the read.
 */
export function readZoneFileText(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error(`not a regular file (${kindOf(stat)}); only regular files are read as zone files`);
    if (stat.size > MAX_ZONE_FILE_BYTES) throw new Error(`${stat.size} bytes is over the ${MAX_ZONE_FILE_BYTES}-byte bound for a zone file`);
    const buf = Buffer.allocUnsafe(Math.min(stat.size + 1, MAX_ZONE_FILE_BYTES + 1));
    let length = 0;
    for (;;) {
      const n = readSync(fd, buf, length, buf.length - length, null);
      if (n === 0) break;
      length += n;
      if (length === buf.length) throw new Error(`the file grew while being read past its size; save it again`);
    }
    return buf.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

function kindOf(stat: import('node:fs').Stats): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  if (stat.isDirectory()) return 'a directory';
  return 'not a file';
}

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
      const parsed = parseZone(readZoneFileText(path), origin);
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

  /** Files left out because another file already gives their zone (names differing only in case). */
  private readonly clashes = new Map<string, string>();

  private publish(): void {
    this.published = true;
    const zones = new Map<string, StaticZone>();
    const fileOf = new Map<string, string>();
    const instances: SourcedInstance[] = [];
    const clashes = new Map<string, string>();
    // Files in the order they were first loaded: the first file of a zone keeps it, a later one is reported.
    for (const [name, state] of this.files) {
      if (state.data === null) continue;
      const key = state.data.zone.apex.key;
      const first = fileOf.get(key);
      if (first !== undefined) {
        clashes.set(name, first);
        continue;
      }
      fileOf.set(key, name);
      zones.set(key, state.data.zone);
      instances.push(...state.data.instances);
    }
    for (const [name, first] of clashes) {
      const reason = `${join(this.opts.dir, name)}: gives the same zone as ${join(this.opts.dir, first)} (names differ only in case); serving ${first}, not this file`;
      if (this.clashes.get(name) !== first) this.opts.logger.error({ file: join(this.opts.dir, name), kept: join(this.opts.dir, first) }, 'two zone files give one zone; the first loaded is served — remove or rename the other');
      this.errors.set(name, reason);
    }
    for (const name of this.clashes.keys()) if (!clashes.has(name) && this.files.get(name)?.data) this.errors.delete(name);
    this.clashes.clear();
    for (const [name, first] of clashes) this.clashes.set(name, first);
    for (const mesh of this.opts.meshZones) if (!zones.has(mesh)) zones.set(mesh, emptyZone(mesh, this.opts.ttl, this.opts.nsAddresses));
    const nameServer = this.opts.meshZones[0] === undefined ? undefined : `\x02ns\x03dns${this.opts.meshZones[0]}`;
    for (const reverse of this.opts.reverseZones ?? []) if (!zones.has(reverse)) zones.set(reverse, reverseZone(reverse, this.opts.ttl, nameServer));
    this.opts.onSnapshot({ zones: [...zones.values()], instances });
  }
}

export function zoneKeys(domains: readonly string[]): string[] {
  return domains.map((d) => keyOf(d.endsWith('.') ? d : `${d}.`));
}

