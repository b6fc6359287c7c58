/**
 * meshdns against Knot DNS on the same records, measured alternately in one run,
 * beside the ceiling of the runtime (a raw Node UDP loop answering one
 * pre-encoded packet). 1,000 services × 3 instances (weights 50/30/20, one
 * named port each) are registered through meshdns's REST API and written as a
 * zone file for Knot; dnsperf sends 70% A, 20% SRV, 10% nonexistent names.
 * meshdns runs three times: --workers 1 and --workers 2 (UDP through the native recvmmsg addon where it is built),
 * and --workers 1 with --udp-io dgram. Run: npm run bench
 * (env: BENCH_SECONDS=10, BENCH_ROUNDS=2). Needs knotd and dnsperf (Debian: knot, dnsperf).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMeshdns } from '../support/meshdns-process.js';
import { registerBenchServices, SERVICES, writeQueryFile } from './bench-data.js';
import { startRawLoop } from './raw-loop-process.js';
import { startKnot, writeBenchZone } from './knot-server.js';
import { dnsperf, quantile, warmUp } from './dnsperf.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const dir = mkdtempSync(join(tmpdir(), 'meshdns-bench-'));

writeBenchZone(dir);
const queryFile = writeQueryFile(dir);

interface Result {
  qps: number;
  lost: number;
  avgMs: number;
  p99Ms: number | null;
}

/** dnsperf's summary; p99 from its per-query lines when verbose (used for the fixed-load run). */
async function measure(port: number, extra: string[], verbose: boolean): Promise<Result> {
  const r = await dnsperf(port, queryFile, seconds, { extra, verbose });
  return { qps: r.qps, lost: r.lost, avgMs: r.avgMs, p99Ms: quantile(r.latenciesMs, 0.99) };
}

async function startRegistered(workers: number, io = 'auto'): Promise<Awaited<ReturnType<typeof startMeshdns>>> {
  const server = await startMeshdns(['--upstream', 'none', '--zones', mkdtempSync(join(tmpdir(), 'meshdns-empty-zones-')), '--workers', String(workers), '--udp-io', io]);
  const t0 = Date.now();
  await registerBenchServices(server.httpPort);
  console.log(`--workers ${workers}: registered ${SERVICES * 3} instances through REST in ${Date.now() - t0} ms`);
  return server;
}

const knot = await startKnot(dir);
const raw = await startRawLoop();
const meshdns1 = await startRegistered(1);
const meshdns2 = await startRegistered(2);
// UDP through node:dgram (the fallback where the addon is not built), to compare the two paths in one run.
const meshdns1Dgram = await startRegistered(1, 'dgram');
console.log(`node ${process.version}; knotd with its default threads; dnsperf -c 8 -q 500, ${seconds} s a run, ${rounds} rounds alternating`);

const fmt = (r: Result): string =>
  `${r.qps.toFixed(0).padStart(7)} qps  lost ${String(r.lost).padStart(5)}  avg ${r.avgMs.toFixed(3)} ms${r.p99Ms === null ? '' : `  p99 ${r.p99Ms.toFixed(3)} ms`}`;
const runs: [string, string[], boolean][] = [
  ['udp', [], false],
  ['tcp', ['-m', 'tcp'], false],
  ['udp 20k qps', ['-Q', '20000'], true],
];
const servers = [
  ['knot', knot.port],
  ['raw-node', raw.port],
  ['meshdns-w1', meshdns1.dnsPort],
  ['meshdns-w2', meshdns2.dnsPort],
  ['w1-dgram', meshdns1Dgram.dnsPort],
] as const;
for (const [, port] of servers) await warmUp(port, queryFile);
for (const [name, extra, verbose] of runs) {
  const totals: Record<string, number> = {};
  for (let round = 1; round <= rounds; round++) {
    for (const [server, port] of servers) {
      // The raw loop only speaks UDP; the dgram run differs from w1 in UDP only.
      if ((server === 'raw-node' || server === 'w1-dgram') && extra.includes('tcp')) continue;
      const r = await measure(port, extra, verbose);
      totals[server] = (totals[server] ?? 0) + r.qps;
      console.log(`${name.padEnd(12)} round ${round} ${server.padEnd(10)} ${fmt(r)}`);
    }
  }
  const ratio = (a: string, b: string): string => (totals[a] === undefined || totals[b] === undefined ? 'n/a' : (totals[a]! / totals[b]!).toFixed(2));
  console.log(
    `${name.padEnd(12)} QPS ratios: w1/knot ${ratio('meshdns-w1', 'knot')}  w2/knot ${ratio('meshdns-w2', 'knot')}  w1/raw-node ${ratio('meshdns-w1', 'raw-node')}  w2/w1 ${ratio('meshdns-w2', 'meshdns-w1')}  w1-dgram/knot ${ratio('w1-dgram', 'knot')}`,
  );
}
knot.proc.kill();
raw.proc.kill();
await meshdns1.stop();
await meshdns2.stop();
await meshdns1Dgram.stop();
process.exit(0);
