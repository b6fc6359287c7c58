import { loadLinuxAddon } from '../config/native-addon.js';
import { residentKb } from './proc-status.js';

/** The optional addon native/malloc_trim.c: glibc's malloc_trim(0). */
interface MallocTrimAddon {
  trim(): boolean;
  readonly glibc: boolean;
}

function load(): { addon: MallocTrimAddon } | { error: string } {
  const found = loadLinuxAddon<MallocTrimAddon>('malloc_trim', "malloc_trim is glibc's");
  return 'error' in found || found.addon.glibc ? found : { error: 'the C library is not glibc (musl has no malloc_trim)' };
}

/** What a trim did: the resident memory it handed back, or why nothing was tried. */
export type MallocTrimResult = { readonly releasedMb: number } | { readonly mallocTrim: string };

/**
 * Hands the C heap's free pages back to the kernel (after a load: see native/malloc_trim.c). A few milliseconds;
 * the result says how much resident memory went, measured from /proc, or why nothing was trimmed.
 */
export function trimMalloc(): MallocTrimResult {
  const addon = load();
  if ('error' in addon) return { mallocTrim: addon.error };
  const before = residentKb('RssAnon');
  addon.addon.trim();
  const after = residentKb('RssAnon');
  return { releasedMb: before === undefined || after === undefined ? 0 : Math.max(0, Math.round((before - after) / 1024)) };
}

/** How often the C heap is trimmed while the server runs. */
export const MALLOC_TRIM_INTERVAL_MS = 30_000;

/**
 * Trims the C heap every 30 s until stopped (as Go's runtime hands idle memory back to the kernel by itself, which
 * CoreDNS's sizing counts on): what was freed since — the SQLite writer thread's pages once it stops after a burst
 * of writes, the bodies of watch events and scrapes — leaves the resident size instead of staying until the process
 * ends. A trim takes 0.1-0.3 ms at 100,000 instances (measured on the main thread), so the answer path does not
 * see it. Nothing runs where the addon is absent.
 */
export function trimMallocPeriodically(intervalMs = MALLOC_TRIM_INTERVAL_MS): () => void {
  const addon = load();
  if ('error' in addon) return () => undefined;
  const timer = setInterval(() => addon.addon.trim(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
