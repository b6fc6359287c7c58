/**
 * DNS latency while REST writes arrive: dnsperf at a fixed 20k QPS over UDP,
 * once idle and once while 1,000 registration writes a second change weights
 * of random instances (each write a catalog change, an answer rebuild and,
 * with workers, a fan-out), in one run; then the writes alone, for what one
 * costs meshdns's threads. Run: npm run bench:write-load
 * (env: BENCH_SECONDS=10, BENCH_WORKERS=1, BENCH_WRITES_PER_SECOND=1000; BENCH_CLI=<another build's dist/cli.js> to
 * measure that build).
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { api, instancePath } from '../support/rest-client.js';
import { dnsperf, quantile, warmUp } from './dnsperf.js';
import { childrenOf, processCpuMs, statCpuMs } from './proc.js';
import { startMeshdns } from '../support/meshdns-process.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const workers = process.env.BENCH_WORKERS ?? '1';
const writesPerSecond = Number(process.env.BENCH_WRITES_PER_SECOND ?? 1000);
const SERVICES = 1000;
const dir = mkdtempSync(join(tmpdir(), 'meshdns-write-load-'));
const address = (svc: number, i: number): string => `10.${100 + Math.floor(svc / 250)}.${svc % 250}.${i + 1}`;
const queryFile = join(dir, 'queries.txt');
writeFileSync(queryFile, Array.from({ length: 20_000 }, (_, q) => `svc-${(q * 7919) % SERVICES}.bench.linkerd.local A`).join('\n') + '\n');

const server = await startMeshdns(['--upstream', 'none', '--workers', workers, '--zones', mkdtempSync(join(dir, 'z-'))], { cli: process.env.BENCH_CLI });
const body = (s: number, i: number, weight: number): object => ({ address: address(s, i), weight, ports: [{ name: 'http', port: 8080, protocol: 'tcp' }] });
for (let s = 0; s < SERVICES; s++) await Promise.all([0, 1, 2].map((i) => api(server.httpPort, 'PUT', instancePath('bench', `svc-${s}`, `i${i}`), body(s, i, 100))));

/**
 * CPU milliseconds (user + system) of meshdns by the part that spent them, from /proc: the primary's main thread
 * (REST, sources, catalog, and the answers too with --workers 1), its store thread (SQLite), V8's helper threads
 * (garbage collection, compilation), libuv's pool, and forked DNS workers (--workers N, all their threads).
 */
type Role = 'main thread' | 'store thread' | 'V8 helpers' | 'libuv pool' | 'DNS workers';
function cpuByRole(pid: number): Map<Role, number> {
  const roles = new Map<Role, number>();
  const add = (role: Role, ms: number): void => void roles.set(role, (roles.get(role) ?? 0) + ms);
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.indexOf(')'));
      add(comm === 'WorkerThread' ? 'store thread' : comm.startsWith('V8') ? 'V8 helpers' : comm.startsWith('libuv') ? 'libuv pool' : 'main thread', statCpuMs(stat));
    }
  } catch {
    // gone
  }
  for (const child of childrenOf(pid)) {
    try {
      add('DNS workers', processCpuMs(child));
    } catch {
      // gone
    }
  }
  return roles;
}
const cpuMs = (pid: number): number => [...cpuByRole(pid).values()].reduce((a, b) => a + b, 0);

/**
 * Where the machine's cores went during a phase: meshdns (all its processes), dnsperf and this script (the
 * REST writer), in cores. On a 2-core machine, near 2.0 in all means latency is queueing for a core.
 */
let dnsperfCpu = 0;
async function withCpu<T>(run: () => Promise<T>): Promise<{ result: T; cores: string; wall: number; roles: Map<Role, number> }> {
  const started = Date.now();
  const roles0 = cpuByRole(server.proc.pid!);
  const meshdns0 = [...roles0.values()].reduce((a, b) => a + b, 0);
  const self0 = process.cpuUsage();
  dnsperfCpu = 0;
  const result = await run();
  const wall = Date.now() - started;
  const self = process.cpuUsage(self0);
  const used = { meshdns: cpuMs(server.proc.pid!) - meshdns0, dnsperf: dnsperfCpu, writer: (self.user + self.system) / 1000 };
  const cores = Object.entries(used).map(([k, v]) => `${k} ${(v / wall).toFixed(2)}`).join(', ');
  const roles = new Map([...cpuByRole(server.proc.pid!)].map(([role, ms]) => [role, ms - (roles0.get(role) ?? 0)]));
  return { result, wall, roles, cores: `cores: ${cores}, total ${(Object.values(used).reduce((a, b) => a + b, 0) / wall).toFixed(2)}` };
}

async function latencies(): Promise<{ p50: number; p99: number; max: number; lost: number }> {
  const r = await dnsperf(server.dnsPort, queryFile, seconds, { extra: ['-Q', '20000'], verbose: true });
  dnsperfCpu = r.cpuMs;
  const at = (q: number): number => quantile(r.latenciesMs, q)!;
  return { p50: at(0.5), p99: at(0.99), max: at(1), lost: r.lost };
}

/**
 * One PUT on kept-alive connections with node:http: fetch (undici) spent ~0.3 ms of CPU per request here, a
 * fifth of a core at 1,000 writes/s taken from the machine that meshdns and dnsperf share.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
function put(path: string, json: object): Promise<number> {
  const payload = JSON.stringify(json);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.httpPort, path, method: 'PUT', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(payload);
  });
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
        const p = put(instancePath('bench', `svc-${s}`, `i${n % 3}`), body(s, n % 3, 1 + (n % 200)))
          .then((status) => void (status === 200 ? ok++ : failed++))
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
await warmUp(server.dnsPort, queryFile);
const idle = await withCpu(latencies);
console.log(`idle                     ${fmt(idle.result)}\n                         ${idle.cores}`);
let writes = { ok: 0, failed: 0 };
const busy = await withCpu(async () => {
  const w = writer();
  const r = await latencies();
  writes = await w.stop();
  return r;
});
console.log(`${writesPerSecond} REST writes/s   ${fmt(busy.result)}  (writes acknowledged ${writes.ok}, ${(writes.ok / seconds).toFixed(0)}/s; failed ${writes.failed})\n                         ${busy.cores}`);
// What a write costs meshdns, by part: the same writes with no queries arriving (under queries, a saturated machine
// answers fewer of them, which would hide part of the writes' cost).
const alone = await withCpu(async () => {
  const w = writer();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return w.stop();
});
const perWrite = [...alone.roles].map(([role, ms]) => [role, (ms * 1000) / Math.max(1, alone.result.ok)] as const);
console.log(`${writesPerSecond} REST writes/s alone  a write costs meshdns ${perWrite.reduce((a, [, us]) => a + us, 0).toFixed(0)} µs of CPU: ${perWrite.filter(([, us]) => us >= 1).map(([role, us]) => `${role} ${us.toFixed(0)}`).join(', ')}`);
const again = await withCpu(latencies);
console.log(`idle again               ${fmt(again.result)}\n                         ${again.cores}`);
await server.stop();
process.exit(0);
