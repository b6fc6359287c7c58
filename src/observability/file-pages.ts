import { readFileSync } from 'node:fs';
import { loadLinuxAddon } from '../config/native-addon.js';
import { residentKb } from './proc-status.js';

/** The optional addon native/file_pages.c: madvise(MADV_DONTNEED) on a range. */
interface FilePagesAddon {
  /** 0, or the errno madvise failed with. */
  release(start: bigint, length: bigint): number;
}

/** One mapping of /proc/self/smaps: where, its permissions, its file, and how many of its pages are copies. */
export interface Mapping {
  readonly start: bigint;
  readonly end: bigint;
  readonly perms: string;
  readonly path: string;
  /** Resident kB of the mapping, and of it the anonymous (copied-on-write) kB. */
  readonly rssKb: number;
  readonly anonymousKb: number;
}

/** The mappings of an smaps text (its header lines and the Rss and Anonymous lines below each). */
export function parseSmaps(text: string): Mapping[] {
  const out: { -readonly [K in keyof Mapping]: Mapping[K] }[] = [];
  for (const line of text.split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header !== null) {
      out.push({ start: BigInt(`0x${header[1]!}`), end: BigInt(`0x${header[2]!}`), perms: header[3]!, path: header[4]!, rssKb: 0, anonymousKb: -1 });
      continue;
    }
    const field = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    const last = out[out.length - 1];
    if (field === null || last === undefined) continue;
    if (field[1] === 'Rss') last.rssKb = Number(field[2]);
    else last.anonymousKb = Number(field[2]);
  }
  return out;
}

/**
 * The mappings whose pages can be dropped and read again from the file unchanged: the executable's, private, not
 * writable, with no anonymous page (none copied on write: a relocated or patched page would be lost) and some
 * resident. Anything else — the heap, shared libraries' relocated data, a mapping smaps says nothing about — stays.
 */
export function releasableMappings(mappings: readonly Mapping[], executable: string): Mapping[] {
  return mappings.filter((m) => m.path === executable && m.perms[1] === '-' && m.perms[3] === 'p' && m.anonymousKb === 0 && m.rssKb > 0);
}

function load(): { addon: FilePagesAddon } | { error: string } {
  return loadLinuxAddon<FilePagesAddon>('file_pages', "/proc/self/smaps is Linux's");
}

/** What a release did: the file-backed resident memory it unmapped, or why nothing was tried. */
export type FilePagesResult = { readonly releasedFileMb: number } | { readonly filePages: string };

/**
 * Unmaps the executable's resident pages (native/file_pages.c says why that is safe and what comes back). About a
 * millisecond; the pages the server goes on using return in minor faults over the next moments (~24 MB of 49-53
 * once it has answered, scraped and served HTTP: measured, docs/runtime.md). The result says how much went,
 * measured from /proc, or why nothing was released.
 */
export function releaseExecutablePages(executable = process.execPath): FilePagesResult {
  const addon = load();
  if ('error' in addon) return { filePages: addon.error };
  let mappings: Mapping[];
  try {
    mappings = releasableMappings(parseSmaps(readFileSync('/proc/self/smaps', 'utf8')), executable);
  } catch (err) {
    return { filePages: `/proc/self/smaps: ${(err as Error).message}` };
  }
  const before = residentKb('RssFile');
  for (const m of mappings) {
    const errno = addon.addon.release(m.start, m.end - m.start);
    if (errno !== 0) return { filePages: `madvise(MADV_DONTNEED) failed on ${executable}: errno ${errno}` };
  }
  const after = residentKb('RssFile');
  return { releasedFileMb: before === undefined || after === undefined ? 0 : Math.max(0, Math.round((before - after) / 1024)) };
}

/** How far the process's file-backed resident pages may grow past what the server settled at before a release. */
export const REGROWTH_KB = 4 * 1024;

/**
 * Checks every `intervalMs` whether the process's file-backed resident pages grew 4 MB past what the running server
 * settled at after the last release, and releases the executable's again then. Settled is the first check after a
 * release: by then the code the server keeps running (the answer path, Prometheus's scrapes, REST writes) is mapped
 * again, and it stays so: pages in use are never released only to come back. Growth past that is code run once
 * (a reload, the console, a TLS handshake, a burst of writes' SQLite thread): released. Nothing runs where the addon
 * is absent.
 */
export function releaseExecutablePagesPeriodically(intervalMs: number, executable = process.execPath): () => void {
  if ('error' in load()) return () => undefined;
  const onTick = settledRelease(() => residentKb('RssFile'), () => void releaseExecutablePages(executable));
  const timer = setInterval(onTick, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The rule above as a tick function: `read` gives the file-backed resident kB (undefined: unknown, skip), `release`
 * hands the pages back. The first tick after a release records where the server settled; a later one releases when
 * the reading is REGROWTH_KB past that, and the tick after it settles again.
 */
export function settledRelease(read: () => number | undefined, release: () => void): () => void {
  let settledKb: number | undefined;
  return () => {
    const now = read();
    if (now === undefined) return;
    if (settledKb === undefined) settledKb = now;
    else if (now - settledKb >= REGROWTH_KB) {
      release();
      settledKb = undefined;
    }
  };
}
