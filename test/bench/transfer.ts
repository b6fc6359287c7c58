/**
 * Zone transfers at scale (issue 27): a mesh zone of 100,000 stored REST instances. How long an AXFR takes and
 * how big it is, the server's resident memory before, at its peak during and after transfers, and the answer
 * path's latency (sequential UDP queries for existing names) while nothing else runs against while AXFRs run back
 * to back. Ratios in one run; not pinned (see docs/performance.md for the pinned CPU bench).
 * Run: npm run bench:transfer (env BENCH_INSTANCES, BENCH_TRANSFERS)
 */
import { spawn } from 'node:child_process';
import { buildQuery, udpExchange } from '../support/dns-client.js';
import { filledDataDir, filledServiceName } from '../support/filled-store.js';
import { freePort } from '../support/free-port.js';
import { startMeshdns } from '../support/meshdns-process.js';
import { rssMb } from './proc.js';

const instances = Number(process.env.BENCH_INSTANCES ?? 100_000);
const transfers = Number(process.env.BENCH_TRANSFERS ?? 5);
const services = Math.ceil(instances / 3);
const dataDir = filledDataDir(instances);
const dnsPort = await freePort();
const s = await startMeshdns(['--upstream', 'none', '--dns', `127.0.0.1:${dnsPort}`, '--data-dir', dataDir, '--transfer-allow', '127.0.0.0/8']);
while ((await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status !== 200) await new Promise((r) => setTimeout(r, 20));
await new Promise((r) => setTimeout(r, 1000));
const pid = s.proc.pid!;

/** Sequential queries for existing names for `ms`: each one's latency in µs. */
async function queryLatencies(ms: number): Promise<number[]> {
  const out: number[] = [];
  const end = performance.now() + ms;
  let k = 0;
  while (performance.now() < end) {
    const t = performance.now();
    if ((await udpExchange(dnsPort, buildQuery(filledServiceName(k++ % services)))) === null) throw new Error('a query went unanswered');
    out.push((performance.now() - t) * 1000);
  }
  return out.sort((a, b) => a - b);
}
const pct = (xs: number[], p: number): string => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))]!.toFixed(0);

/** One AXFR by dig: wall time, records and bytes as dig counts them. */
function axfr(): Promise<{ ms: number; records: number; bytes: number; messages: number }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const dig = spawn('dig', ['@127.0.0.1', '-p', String(dnsPort), '+noall', '+stats', 'linkerd.local', 'AXFR']);
    let text = '';
    dig.stdout.on('data', (d: Buffer) => (text += d.toString()));
    dig.on('error', reject);
    dig.on('close', () => {
      const m = /XFR size: (\d+) records \(messages (\d+), bytes (\d+)\)/.exec(text);
      if (m === null) return reject(new Error(`no transfer: ${text.slice(0, 300)}`));
      resolve({ ms: performance.now() - t, records: Number(m[1]), messages: Number(m[2]), bytes: Number(m[3]) });
    });
  });
}

const rssBefore = rssMb(pid);
await queryLatencies(2000); // warm-up
const quiet = await queryLatencies(5000);
let peak = rssBefore;
const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 20);
let running = true;
const results: Awaited<ReturnType<typeof axfr>>[] = [];
const transferring = (async () => {
  for (let i = 0; i < transfers; i++) results.push(await axfr());
  running = false;
})();
const during: number[] = [];
while (running) during.push(...(await queryLatencies(500)));
await transferring;
during.sort((a, b) => a - b);
clearInterval(sampler);
await new Promise((r) => setTimeout(r, 2000));
const rssAfter = rssMb(pid);

const times = results.map((r) => r.ms).sort((a, b) => a - b);
console.log(`${instances} stored registrations in ${services} services; ${transfers} AXFRs back to back, by dig`);
console.log(`AXFR: ${results[0]!.records} records, ${results[0]!.messages} messages, ${(results[0]!.bytes / 2 ** 20).toFixed(1)} MiB; median ${times[Math.floor(times.length / 2)]!.toFixed(0)} ms, max ${times.at(-1)!.toFixed(0)} ms`);
console.log(`resident memory: ${rssBefore.toFixed(0)} MB before, ${peak.toFixed(0)} MB at the peak of the transfers, ${rssAfter.toFixed(0)} MB 2 s after`);
console.log(`sequential UDP queries, quiet: p50 ${pct(quiet, 0.5)} µs, p99 ${pct(quiet, 0.99)} µs (${quiet.length} queries)`);
console.log(`sequential UDP queries, during transfers: p50 ${pct(during, 0.5)} µs, p99 ${pct(during, 0.99)} µs, max ${pct(during, 1)} µs (${during.length} queries)`);
await s.stop();
process.exit(0);
