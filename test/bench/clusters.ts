/**
 * Several clusters (issue 26): 3 clusters × 2,000 Services × 3 endpoints, the same Services in each (namespace
 * sameness), each cluster its own list/watch API server with a Node placing its clients. Against one cluster of the
 * same 2,000 × 3: time to ready and to the last service answering every cluster, resident memory, one endpoint
 * change in a remote cluster to that cluster's clients' answers, and the answer path (dnsperf from a client of the
 * local cluster at a fixed rate: CPU per answered query, alternating rounds in one run).
 * Run: npm run bench:clusters (BENCH_SERVICES to change the size)
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { endpointSlice, FakeKubeApiServer, node, service } from '../support/fake-kube-apiserver.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { dnsperf, warmUp } from './dnsperf.js';
import { processCpuMs, rssMb } from './proc.js';

const services = Number(process.env.BENCH_SERVICES ?? 2000);
const perService = 3;
const CLUSTERS = ['east', 'west', 'north'] as const;
const clientOf = (c: number): string => `127.0.${10 + c}.5`;
const address = (c: number, i: number, e: number): string => `10.${100 + c * 10 + (i >> 8)}.${i & 255}.${e + 1}`;

async function cluster(c: number): Promise<FakeKubeApiServer> {
  const api = await FakeKubeApiServer.start();
  api.apply('nodes', node(`${CLUSTERS[c]}-1`, undefined, [`127.0.${10 + c}.0/24`]));
  for (let i = 0; i < services; i++) {
    const ns = `ns-${i % 50}`;
    api.apply('services', service(ns, `svc-${i}`));
    api.apply('endpointslices', endpointSlice(ns, `svc-${i}-x`, `svc-${i}`, Array.from({ length: perService }, (_, e) => ({ address: address(c, i, e) }))));
  }
  return api;
}

const answers = async (s: MeshdnsProcess, name: string, from: string): Promise<string[]> => {
  const reply = await udpExchange(s.dnsPort, buildQuery(name, { edns: {} }), 500, '127.0.0.1', from);
  return reply === null ? [] : decode(reply).answers.map((a) => a.address ?? '');
};

async function start(apis: FakeKubeApiServer[]): Promise<{ s: MeshdnsProcess; readyMs: number; completeMs: number; rss: number; heap: number }> {
  const started = Date.now();
  const s = await startMeshdns(['--upstream', 'none', '--kubernetes', 'on', '--kubeconfig', apis[0]!.kubeconfig(), '--cluster-name', 'east', ...apis.slice(1).flatMap((a, k) => ['--kubernetes-cluster', `${CLUSTERS[k + 1]}=${a.kubeconfig()}`])]);
  while ((await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status !== 200) await new Promise((r) => setTimeout(r, 10));
  const readyMs = Date.now() - started;
  // Complete: the last service answers each cluster's clients with that cluster's endpoints.
  const last = `svc-${services - 1}.ns-${(services - 1) % 50}.linkerd.local`;
  for (let c = 0; c < apis.length; c++) {
    while ((await answers(s, last, clientOf(c))).sort().join() !== Array.from({ length: perService }, (_, e) => address(c, services - 1, e)).sort().join()) await new Promise((r) => setTimeout(r, 10));
  }
  const completeMs = Date.now() - started;
  await new Promise((r) => setTimeout(r, 1000));
  const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  const heap = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? NaN) / 2 ** 20;
  return { s, readyMs, completeMs, rss: rssMb(s.proc.pid!), heap };
}

const queryFile = join(mkdtempSync(join(tmpdir(), 'meshdns-bench-clusters-')), 'queries.txt');
writeFileSync(queryFile, Array.from({ length: 1000 }, (_, k) => `svc-${(k * 7) % services}.ns-${((k * 7) % services) % 50}.linkerd.local A`).join('\n') + '\n');

const apis = await Promise.all(CLUSTERS.map((_, c) => cluster(c)));
const one = await start([apis[0]!]);
const three = await start(apis);
console.log(`${services} Services × ${perService} endpoints per cluster`);
console.log(`one cluster:    ready after ${one.readyMs} ms, complete after ${one.completeMs} ms, resident memory ${one.rss.toFixed(0)} MB, V8 heap used ${one.heap.toFixed(0)} MB`);
console.log(`three clusters: ready after ${three.readyMs} ms, every cluster's answers complete after ${three.completeMs} ms, resident memory ${three.rss.toFixed(0)} MB, V8 heap used ${three.heap.toFixed(0)} MB`);

// One endpoint change in a remote cluster, to that cluster's clients.
const changed = `svc-${services - 1}`;
const ns = `ns-${(services - 1) % 50}`;
const t0 = Date.now();
apis[2]!.apply('endpointslices', endpointSlice(ns, `${changed}-x`, changed, Array.from({ length: perService }, (_, e) => ({ address: address(2, services - 1, e), ready: e !== 0 }))));
while ((await answers(three.s, `${changed}.${ns}.linkerd.local`, clientOf(2))).length !== perService - 1) await new Promise((r) => setTimeout(r, 2));
console.log(`one endpoint turned unready in north reached north's clients' answers after ${Date.now() - t0} ms`);

// The answer path: the same queries from the default client at a fixed rate, CPU per answered query of each
// server (steadier than maximum QPS on this shared machine), idle CPU (watch bookmarks, timers) taken out.
for (const s of [one.s, three.s]) await warmUp(s.dnsPort, queryFile);
const rate = Number(process.env.BENCH_QPS ?? 15_000);
const seconds = 5;
const idleMs = async (pid: number): Promise<number> => {
  const before = processCpuMs(pid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return processCpuMs(pid) - before;
};
const idle = { one: await idleMs(one.s.proc.pid!), three: await idleMs(three.s.proc.pid!) };
const usPerQuery = async (s: MeshdnsProcess, idleCpu: number): Promise<number> => {
  const before = processCpuMs(s.proc.pid!);
  const { completed } = await dnsperf(s.dnsPort, queryFile, seconds, { extra: ['-Q', String(rate)] });
  return ((processCpuMs(s.proc.pid!) - before - idleCpu) * 1000) / completed;
};
const cpu: Record<'one' | 'three', number[]> = { one: [], three: [] };
for (let round = 0; round < 3; round++) {
  cpu.one.push(await usPerQuery(one.s, idle.one));
  cpu.three.push(await usPerQuery(three.s, idle.three));
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`answer path at ${rate} QPS, CPU per answered query (idle ${idle.one.toFixed(0)} / ${idle.three.toFixed(0)} ms per ${seconds} s taken out): one cluster ${cpu.one.map((x) => x.toFixed(1)).join(', ')} µs; three clusters ${cpu.three.map((x) => x.toFixed(1)).join(', ')} µs; median ratio three/one ${(median(cpu.three) / median(cpu.one)).toFixed(2)}`);
// Memory again after the load (young garbage of the start collected by then).
const after = async (s: MeshdnsProcess): Promise<string> => {
  const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  return `resident ${rssMb(s.proc.pid!).toFixed(0)} MB, heap used ${(Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? NaN) / 2 ** 20).toFixed(0)} MB`;
};
console.log(`after the load: one cluster ${await after(one.s)}; three clusters ${await after(three.s)}`);
await one.s.stop();
await three.s.stop();
for (const a of apis) await a.stop();
process.exit(0);
