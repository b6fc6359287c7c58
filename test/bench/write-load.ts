/**
 * DNS latency while REST writes arrive: dnsperf at a fixed 20k QPS over UDP,
 * once idle and once while 1,000 registration writes a second change weights
 * of random instances (each write a catalog change, an answer rebuild and,
 * with workers, a fan-out), in one run. Run: npm run bench:write-load
 * (env: BENCH_SECONDS=10, BENCH_WORKERS=1, BENCH_WRITES_PER_SECOND=1000).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { api, instancePath } from '../support/rest-client.js';
import { startMeshdns } from '../support/meshdns-process.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const workers = process.env.BENCH_WORKERS ?? '1';
const writesPerSecond = Number(process.env.BENCH_WRITES_PER_SECOND ?? 1000);
const SERVICES = 1000;
const dir = mkdtempSync(join(tmpdir(), 'meshdns-write-load-'));
const address = (svc: number, i: number): string => `10.${100 + Math.floor(svc / 250)}.${svc % 250}.${i + 1}`;
const queryFile = join(dir, 'queries.txt');
writeFileSync(queryFile, Array.from({ length: 20_000 }, (_, q) => `svc-${(q * 7919) % SERVICES}.bench.linkerd.local A`).join('\n') + '\n');

const server = await startMeshdns(['--upstream', 'none', '--workers', workers, '--zones', mkdtempSync(join(dir, 'z-'))]);
const body = (s: number, i: number, weight: number): object => ({ address: address(s, i), weight, ports: [{ name: 'http', port: 8080, protocol: 'tcp' }] });
for (let s = 0; s < SERVICES; s++) await Promise.all([0, 1, 2].map((i) => api(server.httpPort, 'PUT', instancePath('bench', `svc-${s}`, `i${i}`), body(s, i, 100))));

async function latencies(): Promise<{ p50: number; p99: number; max: number; lost: number }> {
  const { stdout } = await promisify(execFile)('dnsperf', ['-s', '127.0.0.1', '-p', String(server.dnsPort), '-d', queryFile, '-l', String(seconds), '-c', '8', '-q', '500', '-Q', '20000', '-v'], { maxBuffer: 512 * 1024 * 1024 });
  const all = [...stdout.matchAll(/^> \S+ .* ([\d.]+)$/gm)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
  const at = (q: number): number => all[Math.min(all.length - 1, Math.floor(all.length * q))]!;
  return { p50: at(0.5), p99: at(0.99), max: all[all.length - 1]!, lost: Number(/Queries lost:\s+(\d+)/.exec(stdout)?.[1]) };
}

/** Writes at a steady rate until stopped; counts what was acknowledged. */
function writer(): { stop: () => Promise<{ ok: number; failed: number }> } {
  let running = true;
  let ok = 0;
  let failed = 0;
  let n = 0;
  const loop = (async () => {
    const started = Date.now();
    const inFlight = new Set<Promise<void>>();
    while (running) {
      const due = Math.floor(((Date.now() - started) / 1000) * writesPerSecond);
      while (n < due && inFlight.size < 64) {
        const s = (n * 104729) % SERVICES;
        const p = api(server.httpPort, 'PUT', instancePath('bench', `svc-${s}`, `i${n % 3}`), body(s, n % 3, 1 + (n % 200)))
          .then((r) => void (r.status === 200 ? ok++ : failed++))
          .catch(() => void failed++);
        n++;
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    await Promise.all(inFlight);
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { ok, failed };
    },
  };
}

const fmt = (r: { p50: number; p99: number; max: number; lost: number }): string => `p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms  max ${r.max.toFixed(1)} ms  lost ${r.lost}`;
console.log(`node ${process.version}; --workers ${workers}; 20k QPS UDP for ${seconds} s`);
console.log(`idle                     ${fmt(await latencies())}`);
const w = writer();
const busy = await latencies();
const writes = await w.stop();
console.log(`${writesPerSecond} REST writes/s   ${fmt(busy)}  (writes acknowledged ${writes.ok}, ${(writes.ok / seconds).toFixed(0)}/s; failed ${writes.failed})`);
console.log(`idle again               ${fmt(await latencies())}`);
await server.stop();
process.exit(0);
