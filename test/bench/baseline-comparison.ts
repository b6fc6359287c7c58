/**
 * This build against another build of meshdns, on the same data and load, in
 * one run, alternating: shows whether a change slowed the answer path.
 *   BENCH_BASELINE=/path/to/other/checkout (built: dist/cli.js and node_modules)
 *   BENCH_BASELINE_NODE=/usr/bin/node (the Node that runs it; default: this one)
 *   npm run bench:baseline   (env: BENCH_SECONDS=10, BENCH_ROUNDS=3, BENCH_WORKERS=1)
 * 1,000 services × 3 instances registered through REST in both; dnsperf as in
 * `npm run bench`: full speed over UDP, then a fixed 20k QPS for latency.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startMeshdns } from '../support/meshdns-process.js';
import { registerBenchServices, writeQueryFile } from './bench-data.js';
import { dnsperf, quantile, warmUp } from './dnsperf.js';

const baseline = process.env.BENCH_BASELINE;
if (baseline === undefined) throw new Error('set BENCH_BASELINE to a built checkout of meshdns to compare with');
const baselineNode = process.env.BENCH_BASELINE_NODE ?? process.execPath;
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const workers = process.env.BENCH_WORKERS ?? '1';
const dir = mkdtempSync(join(tmpdir(), 'meshdns-baseline-'));

const queryFile = writeQueryFile(dir);

/** The other build, started like startMeshdns does (free ports, waits for "meshdns listening"). */
async function startBaseline(): Promise<{ dnsPort: number; httpPort: number; proc: ChildProcess }> {
  const args = [join(baseline!, 'dist', 'cli.js'), 'serve', '--dns', '127.0.0.1:0', '--http', '127.0.0.1:0', '--upstream', 'none', '--workers', workers, '--zones', mkdtempSync(join(dir, 'z-')), '--data-dir', mkdtempSync(join(dir, 'd-'))];
  const proc = spawn(baselineNode, args, { cwd: baseline, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let text = '';
    proc.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /.*"msg":"meshdns listening".*/.exec(text);
      if (m) resolve(m[0]);
    });
    proc.on('exit', () => reject(new Error(`baseline exited: ${text}`)));
  });
  const entry = JSON.parse(line) as { dns: string[]; http: string };
  return { proc, dnsPort: Number(entry.dns[0]!.split(':').pop()), httpPort: Number(entry.http.split(':').pop()) };
}


const before = await startBaseline();
const after = await startMeshdns(['--upstream', 'none', '--workers', workers, '--zones', mkdtempSync(join(dir, 'z-'))]);
await registerBenchServices(before.httpPort);
await registerBenchServices(after.httpPort);
await warmUp(before.dnsPort, queryFile);
await warmUp(after.dnsPort, queryFile);
const nodeVersion = (bin: string): string => execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
console.log(`baseline ${baseline} on node ${nodeVersion(baselineNode)}; this build on node ${process.version}; --workers ${workers}`);
for (const [name, extra] of [['udp', []], ['udp 20k qps', ['-Q', '20000']]] as const) {
  const totals = { baseline: 0, 'this build': 0 };
  for (let round = 1; round <= rounds; round++) {
    for (const [which, port] of [['baseline', before.dnsPort], ['this build', after.dnsPort]] as const) {
      // The fixed-rate run reads each query's latency (verbose) for its p99.
      const r = await dnsperf(port, queryFile, seconds, { extra, verbose: (extra as readonly string[]).includes('-Q') });
      const p99Ms = quantile(r.latenciesMs, 0.99);
      totals[which] += r.qps;
      console.log(`${name.padEnd(12)} round ${round} ${which.padEnd(10)} ${r.qps.toFixed(0).padStart(7)} qps${p99Ms === null ? '' : `  p99 ${p99Ms.toFixed(3)} ms`}`);
    }
  }
  console.log(`${name.padEnd(12)} this build / baseline QPS ratio ${(totals['this build'] / totals.baseline).toFixed(2)}`);
}
before.proc.kill();
await after.stop();
process.exit(0);
