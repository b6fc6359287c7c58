/**
 * Measures dns2's server against meshdns on the same records, with dnsperf
 * (Debian package), alternating in one run: the figures behind the README's
 * "Why not dns2's server" section. Run: npm run bench:dns2
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMeshdns, repoRoot } from '../support/meshdns-process.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const queries = join(tmpdir(), 'meshdns-dns2-queries.txt');
writeFileSync(queries, 'web.default.linkerd.local A\n'.repeat(9) + 'missing.default.linkerd.local A\n');

function dnsperf(port: number): { qps: number; lost: number } {
  const out = execFileSync('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', queries, '-l', String(seconds), '-c', '4', '-q', '200'], { encoding: 'utf8' });
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1]);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(out)?.[1]);
  return { qps, lost };
}

async function startDns2(): Promise<{ port: number; stop: () => void }> {
  const proc = spawn(process.execPath, [join(repoRoot, 'test', 'bench', 'dns2-server.mjs')], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => proc.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { port: number }).port)));
  return { port, stop: () => proc.kill() };
}

const dns2 = await startDns2();
const meshdns = await startMeshdns(['--upstream', 'none']);
const results: Record<string, number[]> = { dns2: [], meshdns: [] };
for (let round = 0; round < 2; round++) {
  for (const [name, port] of [['dns2', dns2.port], ['meshdns', meshdns.dnsPort]] as const) {
    const r = dnsperf(port);
    results[name]!.push(r.qps);
    console.log(`round ${round + 1} ${name.padEnd(8)} ${r.qps.toFixed(0).padStart(7)} qps, lost ${r.lost}`);
  }
}
dns2.stop();
await meshdns.stop();
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`dns2/meshdns QPS ratio: ${(mean(results.dns2!) / mean(results.meshdns!)).toFixed(2)}`);
