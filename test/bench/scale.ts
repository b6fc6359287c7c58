/**
 * Scale: 100,000 stored REST registrations — start-up time to ready, resident
 * memory, and how fast one instance change is visible in answers. Services
 * have 3 instances (weights 50/30/20) in 100 namespaces; BENCH_PER_SERVICE=1
 * gives every instance a service of its own, the costliest shape.
 * Run: npm run bench:scale (env BENCH_INSTANCES, BENCH_PER_SERVICE, BENCH_WORKERS, BENCH_SCRAPES (30),
 * BENCH_REVERSE=off to measure without the PTR table, BENCH_SETTLE_MS to measure later than 1 s after ready,
 * BENCH_AFTER_MS (40,000; 0: none) how long after the scrapes, answering a query a second, the last reading is taken,
 * BENCH_CLI=<another build's dist/cli.js> to measure that build with this bench)
 */
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { startMeshdns } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';
import { childrenOf, groupResidentMb, rssMb } from './proc.js';
import { freePort } from '../support/free-port.js';
import { filledDataDir } from '../support/filled-store.js';

const instances = Number(process.env.BENCH_INSTANCES ?? 100_000);
const workers = process.env.BENCH_WORKERS;
const reverse = process.env.BENCH_REVERSE ?? 'on';
const perService = Number(process.env.BENCH_PER_SERVICE ?? 3);
// Fill the store the way meshdns would, in one transaction (the setup is not what is measured).
const dataDir = filledDataDir(instances, perService);

const t0 = Date.now();
// startMeshdns runs Node with the flags `npm start` and the image use (package.json, Dockerfile).
// A fixed port, as deployments have: workers then take their snapshots at once (a port 0 serializes them).
const dnsPort = await freePort();
const s = await startMeshdns(['--upstream', 'none', '--dns', `127.0.0.1:${dnsPort}`, '--data-dir', dataDir, '--reverse-lookups', reverse, ...(workers ? ['--workers', workers] : [])], { cli: process.env.BENCH_CLI });
while ((await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status !== 200) await new Promise((r) => setTimeout(r, 10));
const readyMs = Date.now() - t0;
// The last service registered: answering it means the whole load is in.
const lastService = Math.floor((instances - 1) / perService);
const lastServiceName = `svc-${lastService}.ns-${lastService % 100}.linkerd.local`;
const probe = decode((await udpExchange(s.dnsPort, buildQuery(lastServiceName)))!);
// BENCH_SETTLE_MS: wait longer before measuring (what the load's garbage leaves once collected).
await new Promise((r) => setTimeout(r, Number(process.env.BENCH_SETTLE_MS ?? 1000)));
let rss = rssMb(s.proc.pid!);
const perProcess = [rss, ...childrenOf(s.proc.pid!).map(rssMb)];
// With workers, count every process of the tree.
for (const pid of childrenOf(s.proc.pid!)) rss += rssMb(pid);
const group = groupResidentMb([s.proc.pid!, ...childrenOf(s.proc.pid!)]);

// One change at a time: time from the write's acknowledgement until a query sees it.
const visible: number[] = [];
for (let k = 0; k < 20; k++) {
  const address = `10.250.${k}.1`;
  const r = await api(s.httpPort, 'PUT', instancePath('ns-0', 'svc-0', 'i0'), { address, weight: 50, ports: [{ name: 'http', port: 8080 }] });
  if (r.status !== 200) throw new Error(JSON.stringify(r.body));
  const acked = performance.now();
  for (;;) {
    const reply = decode((await udpExchange(s.dnsPort, buildQuery('i0.svc-0.ns-0.linkerd.local')))!);
    if (reply.answers[0]?.address === address) break;
  }
  visible.push(performance.now() - acked);
}
visible.sort((a, b) => a - b);
console.log(`${instances} stored registrations, ${perService} per service${workers ? `, ${workers} workers` : ''}, --reverse-lookups ${reverse}`);
console.log(`start to /readyz 200: ${readyMs} ms (answering: ${probe.answers.length} addresses for the last service)`);
const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
const mb = (name: string): string => (Number(new RegExp(`^${name} ([\\d.e+]+)`, 'm').exec(metrics)?.[1] ?? NaN) / 2 ** 20).toFixed(0);
console.log(`resident memory (all processes): ${rss.toFixed(0)} MB${perProcess.length > 1 ? ` (${perProcess.map((m) => m.toFixed(0)).join(' + ')})` : ''} (main process: V8 heap used ${mb('nodejs_heap_size_used_bytes')} MB of ${mb('nodejs_heap_size_total_bytes')} MB, external ${mb('nodejs_external_memory_bytes')} MB)`);
if (perProcess.length > 1) console.log(`  the same with the processes' shared file pages (the Node binary, libraries) counted once, as a container's memory counts them: ${group.toFixed(0)} MB`);
console.log(`one change visible after the 200: median ${visible[10]!.toFixed(2)} ms, max ${visible[19]!.toFixed(2)} ms`);
// What Prometheus does to it: scrapes make garbage the old generation keeps until its next full collection, so
// the resident size under scraping, not just after the start, is what a memory limit must cover.
let peak = 0;
for (let k = 0; k < Number(process.env.BENCH_SCRAPES ?? 30); k++) {
  await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  await new Promise((r) => setTimeout(r, 100));
  peak = Math.max(peak, [s.proc.pid!, ...childrenOf(s.proc.pid!)].reduce((sum, pid) => sum + rssMb(pid), 0));
}
console.log(`resident memory under ${process.env.BENCH_SCRAPES ?? 30} /metrics scrapes (all processes): peak ${peak.toFixed(0)} MB`);
// A server that has served a while: the scrapes' garbage collected, the writer thread stopped (30 s without a write),
// the pages of the executable the served requests ran mapped again (after the start's release), the 30 s trims run.
const afterMs = Number(process.env.BENCH_AFTER_MS ?? 40_000);
if (afterMs > 0) {
  for (let waited = 0; waited < afterMs; waited += 1000) {
    await udpExchange(s.dnsPort, buildQuery(lastServiceName));
    await new Promise((r) => setTimeout(r, 1000));
  }
  const pids = [s.proc.pid!, ...childrenOf(s.proc.pid!)];
  const later = pids.reduce((sum, pid) => sum + rssMb(pid), 0);
  console.log(`resident memory ${afterMs / 1000} s after the scrapes, answering a query a second (all processes): ${later.toFixed(0)} MB${pids.length > 1 ? `; shared file pages counted once: ${groupResidentMb(pids).toFixed(0)} MB` : ''}`);
}
await s.stop();
process.exit(0);
