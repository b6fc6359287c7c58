/**
 * The answer path pinned, against Knot DNS on the same records: each server on core 0 with one answering thread
 * (Knot `udp-workers: 1`; meshdns `--workers 1`, once with --udp-io recvmmsg and once with --udp-io dgram), dnsperf
 * on core 1, a fixed rate after a warm-up, rounds alternating. Reports CPU per answered query and p99 latency,
 * each as a ratio to Knot's in the same run (issue 24's goals: both ≤ 1.25), and p50 and p90 the same way.
 * Run: npm run bench:pinned (env: BENCH_QPS=20000, BENCH_SECONDS=5, BENCH_ROUNDS=7; BENCH_BASELINE=<another build's
 * dist/cli.js>, measured beside this one; BENCH_SPIN_NS=<ns>: also a raw loop that spends that long in JavaScript on
 * each query, to see whether meshdns's tail is its CPU a query or something else; BENCH_DGRAM=0: without the two
 * node:dgram servers, a shorter run when only the addon path changed). Needs knotd, dnsperf, taskset.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { registerBenchServices, writeQueryFile } from './bench-data.js';
import { startRawLoop } from './raw-loop-process.js';
import { dnsperf, quantile, warmUp } from './dnsperf.js';
import { startKnot, writeBenchZone } from './knot-server.js';
import { processCpuMs } from './proc.js';

const qps = Number(process.env.BENCH_QPS ?? 20_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const serverCore = ['taskset', '-c', '0'];
const clientCore = ['taskset', '-c', '1'];
const dir = mkdtempSync(join(tmpdir(), 'meshdns-pinned-'));
writeBenchZone(dir);
const queryFile = writeQueryFile(dir);

async function startRegistered(io: string, cli?: string): Promise<MeshdnsProcess> {
  const server = await startMeshdns(['--upstream', 'none', '--zones', mkdtempSync(join(dir, 'z-')), '--workers', '1', '--udp-io', io], { wrapper: serverCore, cli });
  await registerBenchServices(server.httpPort);
  return server;
}

const knot = await startKnot(dir, { workers: 1, wrapper: serverCore });
const servers: { name: string; port: number; pid: number; idleMs: number }[] = [{ name: 'knot', port: knot.port, pid: knot.proc.pid!, idleMs: 0 }];
const meshdns: MeshdnsProcess[] = [];
const ios = process.env.BENCH_DGRAM === '0' ? (['recvmmsg'] as const) : (['recvmmsg', 'dgram'] as const);
for (const io of ios) {
  const m = await startRegistered(io);
  meshdns.push(m);
  servers.push({ name: `meshdns-${io}`, port: m.dnsPort, pid: m.proc.pid!, idleMs: 0 });
}
// BENCH_BASELINE: another build's dist/cli.js (a checkout of the commit before a change, built), measured in the
// same rounds: a change's effect on the answer path, told apart from the machine's drift between runs.
if (process.env.BENCH_BASELINE) {
  const m = await startRegistered('recvmmsg', process.env.BENCH_BASELINE);
  meshdns.push(m);
  servers.push({ name: 'meshdns-baseline', port: m.dnsPort, pid: m.proc.pid!, idleMs: 0 });
}
const rawLoops: ChildProcess[] = [];
for (const io of ios) {
  const raw = await startRawLoop(io, serverCore);
  rawLoops.push(raw.proc);
  servers.push({ name: `raw-loop-${io}`, port: raw.port, pid: raw.proc.pid!, idleMs: 0 });
}
// BENCH_SPIN_NS: the raw loop through the addon, busy that long on each query. Set to meshdns's extra CPU a query
// over the raw loop, its latency says what an answer path of that cost gives, whatever the cost is made of.
if (process.env.BENCH_SPIN_NS) {
  const raw = await startRawLoop('recvmmsg', serverCore, Number(process.env.BENCH_SPIN_NS));
  rawLoops.push(raw.proc);
  servers.push({ name: `raw-loop-spin-${process.env.BENCH_SPIN_NS}ns`, port: raw.port, pid: raw.proc.pid!, idleMs: 0 });
}
// Every thread of every server on core 0 (Knot's and Node's helper threads too).
for (const s of servers) execFileSync('taskset', ['-a', '-p', '-c', '0', String(s.pid)], { stdio: 'ignore' });
for (const s of servers) await warmUp(s.port, queryFile, { extra: ['-Q', String(qps)], wrapper: clientCore });
// What each server spends with no query (timers, GC after the registrations): taken out of every round.
for (const s of servers) {
  const before = processCpuMs(s.pid);
  execFileSync('sleep', [String(seconds)]);
  s.idleMs = processCpuMs(s.pid) - before;
}
console.log(`node ${process.version}; servers on core 0 (one answering thread), dnsperf on core 1; ${qps} QPS, ${seconds} s a round, ${rounds} rounds alternating`);
const results = new Map<string, { us: number[]; p50: number[]; p90: number[]; p99: number[]; all: number[] }>(servers.map((s) => [s.name, { us: [], p50: [], p90: [], p99: [], all: [] }]));
for (let round = 1; round <= rounds; round++) {
  for (const s of servers) {
    const before = processCpuMs(s.pid);
    const r = await dnsperf(s.port, queryFile, seconds, { extra: ['-Q', String(qps)], verbose: true, wrapper: clientCore });
    const us = ((processCpuMs(s.pid) - before - s.idleMs) * 1000) / r.completed;
    const p99 = quantile(r.latenciesMs, 0.99) ?? NaN;
    const result = results.get(s.name)!;
    result.us.push(us);
    result.p50.push(quantile(r.latenciesMs, 0.5) ?? NaN);
    result.p90.push(quantile(r.latenciesMs, 0.9) ?? NaN);
    result.p99.push(p99);
    for (const ms of r.latenciesMs) result.all.push(ms);
    console.log(`round ${round} ${s.name.padEnd(16)} ${us.toFixed(1).padStart(5)} µs CPU a query  p99 ${p99.toFixed(3)} ms  (${r.completed} answered, ${r.lost} lost)`);
  }
}
// Ratios of each round (servers measured back to back) are steadier than ratios of medians on a shared machine.
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const knotResult = results.get('knot')!;
/** The median of each round's ratio of `xs` to `base` (`of` names the base), and the rounds' range. */
const roundRatios = (xs: number[], base: number[], of: string, digits: number): string => {
  const r = xs.map((x, i) => x / base[i]!);
  return `${median(r).toFixed(digits)}×${of} (rounds ${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)})`;
};
const ratios = (xs: number[], knotXs: number[]): string => roundRatios(xs, knotXs, " Knot's", 2);
// Every round's queries together: each server's share of the machine's stalls evens out over the whole run,
// where one round's p99 is set by whether a stall fell in it.
const pooled = (xs: number[]): number => quantile(xs.sort((a, b) => a - b), 0.99) ?? NaN;
const knotPooled = pooled(knotResult.all);
console.log(`knot: CPU a query ${median(knotResult.us).toFixed(1)} µs, p99 ${median(knotResult.p99).toFixed(3)} ms (medians)`);
for (const [name, r] of results) {
  if (name === 'knot') continue;
  console.log(`${name}: CPU a query ${median(r.us).toFixed(1)} µs = ${ratios(r.us, knotResult.us)}; p99 ${median(r.p99).toFixed(3)} ms = ${ratios(r.p99, knotResult.p99)}`);
  const pooledP99 = pooled(r.all);
  console.log(`${' '.repeat(name.length)}  p99 of all rounds' queries together ${pooledP99.toFixed(3)} ms = ${(pooledP99 / knotPooled).toFixed(2)}× Knot's ${knotPooled.toFixed(3)} ms`);
  // The body of the distribution beside its tail: on this shared machine every server's slowest 1 % comes in a few
  // runs of milliseconds-long stalls (the machine's, not a server's: Knot's p99.9 is 2-10 ms in the same rounds).
  console.log(`${' '.repeat(name.length)}  p50 ${median(r.p50).toFixed(3)} ms = ${ratios(r.p50, knotResult.p50)}; p90 ${median(r.p90).toFixed(3)} ms = ${ratios(r.p90, knotResult.p90)}`);
}
const baseline = results.get('meshdns-baseline');
if (baseline !== undefined) {
  const current = results.get('meshdns-recvmmsg')!;
  const against = (xs: number[], base: number[]): string => roundRatios(xs, base, '', 3);
  console.log(`this build against the baseline (${process.env.BENCH_BASELINE}), round by round: CPU a query ${against(current.us, baseline.us)}; p50 ${against(current.p50, baseline.p50)}; p99 ${against(current.p99, baseline.p99)}`);
}
knot.proc.kill();
for (const raw of rawLoops) raw.kill();
for (const m of meshdns) await m.stop();
process.exit(0);
