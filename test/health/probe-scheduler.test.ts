import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProbeScheduler } from '../../src/health/probe-scheduler.js';
import type { ProbeResult } from '../../src/health/probes.js';
import type { CheckSpec } from '../../src/catalog/check-spec.js';

const check = (intervalMs: number, http = 'http://x/'): CheckSpec => ({ http, intervalMs, timeoutMs: intervalMs / 2, healthyThreshold: 1, unhealthyThreshold: 1 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('first probes spread over one interval; then every interval; removed targets are never probed again', async () => {
  const starts = new Map<string, number[]>();
  const s = new ProbeScheduler({
    concurrency: 100,
    runProbe: async (c) => ({ ok: true, detail: 'ok', durationMs: 0, at: Date.now() }) satisfies ProbeResult,
    onResult: (key) => starts.set(key, [...(starts.get(key) ?? []), Date.now()]),
  });
  const t0 = Date.now();
  for (let i = 0; i < 50; i++) s.set({ key: `t${i}`, check: check(200, `http://x/${i}`) });
  await sleep(110);
  const early = [...starts.values()].filter((v) => v.length > 0).length;
  assert.ok(early > 5 && early < 45, `${early} of 50 probed in the first half interval`);
  await sleep(450);
  s.remove('t0');
  const count = starts.get('t0')?.length ?? 0;
  await sleep(450);
  assert.equal(starts.get('t0')?.length ?? 0, count);
  const t1 = starts.get('t1')!;
  assert.ok(t1.length >= 3 && t1.length <= 6, `t1 probed ${t1.length} times in ~1 s at 200 ms`);
  assert.ok(t1[0]! - t0 <= 400);
  s.stop();
});

test('concurrency is bounded and one slow target does not hold up the others', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const done = new Map<string, number>();
  const s = new ProbeScheduler({
    concurrency: 4,
    random: () => 0,
    runProbe: async (c) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(c.http === 'http://slow/' ? c.timeoutMs : 5);
      inFlight--;
      return { ok: c.http !== 'http://slow/', detail: '', durationMs: 0, at: Date.now() };
    },
    onResult: (key) => done.set(key, (done.get(key) ?? 0) + 1),
  });
  s.set({ key: 'slow', check: { ...check(100, 'http://slow/'), timeoutMs: 90 } });
  for (let i = 0; i < 20; i++) s.set({ key: `fast${i}`, check: check(100, `http://fast/${i}`) });
  await sleep(550);
  s.stop();
  assert.ok(maxInFlight <= 4, `max in flight ${maxInFlight}`);
  for (let i = 0; i < 20; i++) assert.ok((done.get(`fast${i}`) ?? 0) >= 3, `fast${i} probed ${done.get(`fast${i}`)} times`);
  assert.ok(s.stats().probes > 60);
});
