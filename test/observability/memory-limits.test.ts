import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { compactAfterLoad, workerHeapLimitMb } from '../../src/observability/memory-limits.js';
import { startMeshdns } from '../support/meshdns-process.js';

/**
 * Issue 29: the V8 heap is bounded by the container's memory limit (a real cgroup with a 512 MiB limit, meshdns
 * started inside it as a container runtime would), the bound is in the log and the metrics, and DNS workers
 * share the container instead of each taking V8's default half of it.
 */
const LIMIT = 512 * 2 ** 20;

/** A memory cgroup with LIMIT (v2 where the machine has it, else v1), or why one cannot be made here. */
function makeCgroup(name: string): { procs: string; remove: () => void } | string {
  try {
    const v2 = '/sys/fs/cgroup/cgroup.controllers';
    if (existsSync(v2) && readFileSync(v2, 'utf8').includes('memory')) {
      const dir = join('/sys/fs/cgroup', name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'memory.max'), String(LIMIT));
      return { procs: join(dir, 'cgroup.procs'), remove: () => rmdirSync(dir) };
    }
    const dir = join('/sys/fs/cgroup/memory', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(LIMIT));
    return { procs: join(dir, 'cgroup.procs'), remove: () => rmdirSync(dir) };
  } catch (err) {
    return `no memory cgroup can be made here (${(err as Error).message}); this needs root and a cgroup filesystem`;
  }
}

async function inCgroup(t: TestContext, args: string[], check: (metrics: string, logs: string[]) => void): Promise<void> {
  const cgroup = makeCgroup(`meshdns-test-${process.pid}-${args.length}`);
  if (typeof cgroup === 'string') {
    t.skip(cgroup);
    return;
  }
  const s = await startMeshdns(['--upstream', 'none', ...args], { wrapper: ['bash', '-c', `echo $$ > ${cgroup.procs} && exec "$@"`, 'into-cgroup'] });
  try {
    const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
    check(metrics, s.logs);
  } finally {
    await s.stop();
    // The processes are gone: the cgroup can go.
    for (let i = 0; i < 20; i++) {
      try {
        cgroup.remove();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}

const gauge = (metrics: string, name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);

test('in a 512 MiB container: the heap limit is about half of it (Node 24 reads the cgroup), said in the log and the metrics', async (t) => {
  await inCgroup(t, [], (metrics, logs) => {
    assert.equal(gauge(metrics, 'meshdns_memory_limit_bytes'), LIMIT);
    const heap = gauge(metrics, 'meshdns_heap_limit_bytes');
    assert.ok(heap > 0.3 * LIMIT && heap < 0.6 * LIMIT, `heap limit ${heap / 2 ** 20} MB`);
    const line = JSON.parse(logs.find((l) => l.includes('"msg":"meshdns listening"'))!) as { memoryLimitMb: number; heapLimitMb: number };
    assert.equal(line.memoryLimitMb, 512);
    assert.equal(line.heapLimitMb, Math.round(heap / 2 ** 20));
    // The container's own count of its memory, what the limit is held against.
    const workingSet = gauge(metrics, 'meshdns_memory_working_set_bytes');
    assert.ok(workingSet > 10 * 2 ** 20 && workingSet < LIMIT, `working set ${workingSet / 2 ** 20} MB`);
  });
});

test('--workers 2 in a 512 MiB container: each worker\'s heap gets its share (three quarters of the container over three processes)', async (t) => {
  await inCgroup(t, ['--workers', '2'], (metrics, logs) => {
    const line = JSON.parse(logs.find((l) => l.includes('DNS workers share the container'))!) as { heapLimitMbEach: number };
    assert.equal(line.heapLimitMbEach, 128);
    // Summed over the two workers, as their heap use is.
    const heap = gauge(metrics, 'meshdns_heap_limit_bytes');
    assert.ok(heap >= 2 * 128 * 2 ** 20 && heap < 2 * 160 * 2 ** 20, `workers' heap limits ${heap / 2 ** 20} MB`);
    // Three processes' resident sizes summed count the Node executable's pages each maps (what the running server
    // uses of it, once its start's are handed back) three times; the cgroup counts them once (or not at all, when
    // they were in the page cache before the container started): the alert reads the cgroup.
    const workingSet = gauge(metrics, 'meshdns_memory_working_set_bytes');
    const summed = gauge(metrics, 'process_resident_memory_bytes');
    assert.ok(workingSet > 10 * 2 ** 20 && workingSet < summed, `working set ${workingSet / 2 ** 20} MB, resident summed ${summed / 2 ** 20} MB`);
  });
});

test('the workers\' share: none without a container limit or with the operator\'s own --max-old-space-size; never below 128 MB', () => {
  assert.equal(workerHeapLimitMb({ containerBytes: undefined, heapLimitBytes: 0 }, 2, [], ''), undefined);
  assert.equal(workerHeapLimitMb({ containerBytes: 2 * 2 ** 30, heapLimitBytes: 0 }, 2, [], ''), 512);
  assert.equal(workerHeapLimitMb({ containerBytes: 2 * 2 ** 30, heapLimitBytes: 0 }, 2, ['--max-old-space-size=300'], ''), undefined);
  assert.equal(workerHeapLimitMb({ containerBytes: 2 * 2 ** 30, heapLimitBytes: 0 }, 2, [], '--max-old-space-size=300'), undefined);
  assert.equal(workerHeapLimitMb({ containerBytes: 256 * 2 ** 20, heapLimitBytes: 0 }, 4, [], ''), 128);
});

test('compactAfterLoad gives the pages of a load\'s garbage back to the system', () => {
  // A load's shape: many objects made, a few kept, the rest left for a collection V8 would run much later.
  let made: { a: number; b: string }[] = [];
  for (let i = 0; i < 1_500_000; i++) made.push({ a: i, b: `x${i}` });
  made = made.filter((_, i) => i % 50 === 0);
  const before = getHeapStatistics().total_heap_size;
  const result = compactAfterLoad();
  const after = getHeapStatistics().total_heap_size;
  assert.ok(result.ms >= 0 && result.heapUsedMb > 0);
  assert.ok(after < before / 2, `heap ${Math.round(before / 2 ** 20)} MB → ${Math.round(after / 2 ** 20)} MB`);
  assert.equal(made.length, 30_000, 'what is kept stays');
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'the collector is not left exposed');
});

test('compactAfterLoad collects again while much more is committed than in use (a load that peaked high)', () => {
  // Every eighth object of 3,000,000 kept: live objects on every page of a ~300 MB heap, more than one
  // memory-reducing collection empties (measured: two collections, ~300 → 35 MB committed for 33 in use).
  let made: { a: number; b: string }[] = [];
  for (let i = 0; i < 3_000_000; i++) made.push({ a: i, b: `x${i}` });
  made = made.filter((_, i) => i % 8 === 0);
  const result = compactAfterLoad();
  const heap = getHeapStatistics();
  const slackMb = (heap.total_heap_size - heap.used_heap_size) / 2 ** 20;
  assert.equal(result.heapCommittedMb, Math.round(heap.total_heap_size / 2 ** 20));
  assert.ok(result.collections >= 1 && result.collections <= 4, `${result.collections} collections`);
  // What is left committed beyond the heap in use is within the bound the collections stop at (4 MB or a tenth).
  assert.ok(slackMb <= Math.max(4, heap.used_heap_size / 2 ** 20 / 10) + 2, `${result.heapCommittedMb} MB committed for ${result.heapUsedMb} MB in use after ${result.collections} collections`);
  assert.equal(made.length, 375_000);
});
