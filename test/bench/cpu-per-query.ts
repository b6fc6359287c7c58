/**
 * CPU per answered query at a fixed rate: meshdns (--workers 1) against the raw Node UDP loop (the runtime's
 * ceiling: one pre-encoded answer, no parsing, no lookup), on the same dnsperf load, alternating rounds.
 * Maximum-QPS runs on this shared 2-core machine swing ±25% between runs; CPU time per query at a rate both
 * sustain is far steadier, so it is the figure to compare changes of the answer path by.
 * Run: npm run bench:cpu (env: BENCH_QPS=20000, BENCH_SECONDS=5, BENCH_ROUNDS=3)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMeshdns } from '../support/meshdns-process.js';
import { registerBenchServices, writeQueryFile } from './bench-data.js';
import { startRawLoop } from './raw-loop-process.js';
import { dnsperf } from './dnsperf.js';
import { processCpuMs } from './proc.js';

const qps = Number(process.env.BENCH_QPS ?? 20_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'meshdns-cpu-'));
const queryFile = writeQueryFile(dir);


const meshdns = await startMeshdns(['--upstream', 'none', '--zones', mkdtempSync(join(dir, 'z-'))]);
await registerBenchServices(meshdns.httpPort);
const { proc: raw, port: rawPort } = await startRawLoop();

/** One fixed-rate run: CPU microseconds the server spent per completed query. */
async function run(port: number, pid: number, idleCpu: number): Promise<{ usPerQuery: number; completed: number }> {
  const before = processCpuMs(pid);
  const { completed } = await dnsperf(port, queryFile, seconds, { extra: ['-Q', String(qps)] });
  const used = processCpuMs(pid) - before - idleCpu;
  return { usPerQuery: (used * 1000) / completed, completed };
}

// What each process spends doing nothing (timers, the store's worker, GC after the registrations): measured
// while no query arrives and taken out of every round, so that only answering is compared.
const idleMs = (pid: number): number => {
  const before = processCpuMs(pid);
  execFileSync('sleep', [String(seconds)]);
  return processCpuMs(pid) - before;
};
execFileSync('sleep', ['2']);
const idle = { raw: idleMs(raw.pid!), meshdns: idleMs(meshdns.proc.pid!) };
console.log(`node ${process.version}; ${qps} QPS for ${seconds} s per round, ${rounds} rounds alternating; CPU per completed query`);
console.log(`idle CPU per ${seconds} s (subtracted): raw loop ${idle.raw.toFixed(0)} ms, meshdns ${idle.meshdns.toFixed(0)} ms`);
const results = { raw: [] as number[], meshdns: [] as number[] };
for (let r = 1; r <= rounds; r++) {
  const a = await run(rawPort, raw.pid!, idle.raw);
  const b = await run(meshdns.dnsPort, meshdns.proc.pid!, idle.meshdns);
  results.raw.push(a.usPerQuery);
  results.meshdns.push(b.usPerQuery);
  console.log(`round ${r}  raw loop ${a.usPerQuery.toFixed(1)} µs (${a.completed} queries)   meshdns ${b.usPerQuery.toFixed(1)} µs (${b.completed} queries)`);
}
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
console.log(`median: raw loop ${median(results.raw).toFixed(1)} µs, meshdns ${median(results.meshdns).toFixed(1)} µs per query; meshdns / raw loop efficiency ${(median(results.raw) / median(results.meshdns)).toFixed(2)}`);
raw.kill();
await meshdns.stop();
process.exit(0);
