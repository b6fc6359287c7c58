import { totalmem } from 'node:os';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Gauge, type Registry } from 'prom-client';
import { containerMemory } from './container-memory.js';
import { MALLOC_TRIM_INTERVAL_MS, trimMalloc, trimMallocPeriodically, type MallocTrimResult } from './malloc-trim.js';
import { releaseExecutablePages, releaseExecutablePagesPeriodically, type FilePagesResult } from './file-pages.js';

/**
 * The memory a process may use: the container's limit (its cgroup's, as Node reads it: process.constrainedMemory)
 * and this process's V8 heap limit. Node 24 sizes the heap limit from the cgroup limit by itself (measured: in a
 * 512 MiB cgroup the old-space limit is 259 MB, about half), so a pod near its limit collects harder instead of
 * growing into the kernel's OOM killer; meshdns only says what the bound is, and divides the container among
 * its processes when it runs DNS workers (each is a process with a heap of its own).
 */
export interface MemoryLimits {
  /** The container's (cgroup's) memory limit in bytes; undefined when there is none (below the machine's memory). */
  readonly containerBytes: number | undefined;
  /** This process's V8 heap limit in bytes. */
  readonly heapLimitBytes: number;
}

export function memoryLimits(): MemoryLimits {
  const constrained = process.constrainedMemory();
  const total = totalmem();
  return { containerBytes: constrained > 0 && constrained < total ? constrained : undefined, heapLimitBytes: getHeapStatistics().heap_size_limit };
}

/**
 * The heap limit (MB) each DNS worker gets in a container: three quarters of the container shared by the
 * primary and the N workers (the rest is code, the young generation, buffers, SQLite), never below 128 MB.
 * Undefined without a container limit, or when the operator set --max-old-space-size (theirs stands).
 */
export function workerHeapLimitMb(limits: MemoryLimits, workers: number, execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): number | undefined {
  if (limits.containerBytes === undefined) return undefined;
  if ([...execArgv, ...nodeOptions.split(/\s+/)].some((a) => a.startsWith('--max-old-space-size'))) return undefined;
  return Math.max(128, Math.floor((limits.containerBytes * 0.75) / (workers + 1) / 2 ** 20));
}

/**
 * meshdns_heap_limit_bytes (this process's; with workers, each worker's, summed like the heap they use), and the
 * container's meshdns_memory_limit_bytes and meshdns_memory_working_set_bytes (the primary's alone: one container).
 */
export function registerMemoryLimitMetrics(registry: Registry, opts: { heap: boolean; container: boolean }): void {
  if (opts.heap) {
    new Gauge({
      name: 'meshdns_heap_limit_bytes',
      help: 'The V8 heap limit of the process (with --workers, of each worker, summed like nodejs_heap_size_used_bytes)',
      registers: [registry],
      collect() {
        this.set(getHeapStatistics().heap_size_limit);
      },
    });
  }
  if (opts.container) {
    new Gauge({
      name: 'meshdns_memory_working_set_bytes',
      help: 'The container\'s (cgroup\'s) memory in use less its inactive file cache, as the kubelet counts a working set: every meshdns process together; 0 without a container limit',
      registers: [registry],
      collect() {
        // Only under a limit: outside a container the cgroup read is the machine's (v1's root), not meshdns's.
        this.set(memoryLimits().containerBytes === undefined ? 0 : (containerMemory()?.workingSetBytes ?? 0));
      },
    });
    new Gauge({
      name: 'meshdns_memory_limit_bytes',
      help: 'The container\'s (cgroup\'s) memory limit every meshdns process shares; 0 when there is none',
      registers: [registry],
      collect() {
        this.set(memoryLimits().containerBytes ?? 0);
      },
    });
  }
}

let collect: ((options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void) | undefined;

/** Full collections at most in one compaction (see compactAfterLoad). */
const MAX_COLLECTIONS = 4;
/** Committed heap beyond what is in use that a compaction leaves alone: this, or a tenth of the heap in use. */
const SLACK_BYTES = 4 * 2 ** 20;
/** A collection that hands back less than this has reached what V8 keeps. */
const STILL_SHRINKING_BYTES = 2 * 2 ** 20;

/**
 * Once loaded, the old generation may grow to 1.25x what it held after a full collection before the next one.
 * V8's own factor (up to 4x when memory is plentiful) let a server at 100,000 instances grow from 254 to 640 MB
 * resident under 30 /metrics scrapes; with this, 286–322 MB. Set after the load, not on the command line: during
 * the load it made a full collection every quarter of growth (start to ready 2.4 → 3.7–4.0 s at 100,000).
 */
const HEAP_GROWING_PERCENT = 25;

/**
 * One full collection that compacts the heap and hands its empty pages back, once a large load is applied (the
 * registrations and the rest of the start (with workers, the snapshots the primary made for them), the local
 * cluster's first Kubernetes lists, a DNS worker's first snapshot), then the growth bound above. A load leaves its garbage in the old generation, and
 * V8 keeps the pages it grew to: at 100,000 instances the start peaked at 176–246 MB of heap for 138 MB live,
 * and the resident size stayed at the peak (issue 29). V8's memory reducer does the same only after seconds
 * of idleness, which a server under queries never has. Node exposes the collector only behind a flag: it is set
 * for one new context and cleared again. Takes ~300 ms at 100,000 instances (the log line's `ms`; ~500 when a
 * second round is needed), before the process says it is ready. First, the executable's pages that starting and
 * the load touched go back to the kernel (file-pages.ts; the result's `releasedFileMb`, or `filePages`: why not);
 * last, the C heap's free pages (malloc-trim.ts; `releasedMb`, or `mallocTrim`: why not).
 */
export function compactAfterLoad(): { ms: number; heapUsedMb: number; heapCommittedMb: number; collections: number } & MallocTrimResult & FilePagesResult {
  if (collect === undefined) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as typeof collect;
    setFlagsFromString('--no-expose-gc');
  }
  const started = performance.now();
  // Starting and the load touched code all over the executable, which stays mapped (49-53 MB) though the running
  // server uses about half of it. First: reading /proc/self/smaps makes garbage the collections then take.
  const pages = releaseExecutablePages();
  collect!({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  // Each memory-reducing collection empties only so many fragmented pages (--trace-gc: 182.7 → 142.2 → 111.7 MB
  // committed for the same 89 MB in use), so a load that happened to peak higher (195 MB against 133–149: GC
  // timing decides, one start in four at 100,000 instances) was left with 15–18 MB more committed than the others.
  // Collect again while that much is committed beyond the heap in use and it still shrinks.
  let collections = 1;
  while (collections < MAX_COLLECTIONS) {
    const before = getHeapStatistics();
    if (before.total_heap_size - before.used_heap_size < Math.max(SLACK_BYTES, before.used_heap_size / 10)) break;
    collect!({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    collections++;
    if (before.total_heap_size - getHeapStatistics().total_heap_size < STILL_SHRINKING_BYTES) break;
  }
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  const heap = getHeapStatistics();
  // What the load freed outside V8's heap (SQLite's pages, HTTP bodies) stays resident in glibc's arenas until
  // trimmed: 5-13 MB at 100,000 REST instances, the spread between starts of one build.
  const trim = trimMalloc();
  return { ms: Math.round(performance.now() - started), heapUsedMb: Math.round(heap.used_heap_size / 2 ** 20), heapCommittedMb: Math.round(heap.total_heap_size / 2 ** 20), collections, ...trim, ...pages };
}

/**
 * What compactAfterLoad hands back once, kept handed back while the process runs: the C heap trimmed every 30 s,
 * the executable's pages released when they grow past the running server's own (malloc-trim.ts, file-pages.ts).
 * The server and each DNS worker start it once their load is in; the result stops both.
 */
export function handBackMemoryPeriodically(): () => void {
  const stops = [trimMallocPeriodically(), releaseExecutablePagesPeriodically(MALLOC_TRIM_INTERVAL_MS)];
  return () => stops.forEach((stop) => stop());
}
