/**
 * 10,000 Services × 10 endpoints in the fake API server: time from start to
 * the first complete answer set, and resident memory after. Then 1,000
 * traffic splits (HTTPRoutes) over 3,000 backend Services: time to the
 * first complete split answers, memory, and how long one canary step of
 * every split takes to reach the answers.
 * Run: npm run bench:kubernetes (BENCH_SERVICES, BENCH_SPLITS to change the sizes; BENCH_SETTLE_MS, 10,000, how long
 * after the first reading memory is read again; BENCH_CLI=<another build's dist/cli.js> to measure that build)
 */
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { endpointSlice, FakeKubeApiServer, httpRoute, MESH_CRDS, service } from '../support/fake-kube-apiserver.js';
import { startMeshdns } from '../support/meshdns-process.js';
import { rssMb } from './proc.js';

const services = Number(process.env.BENCH_SERVICES ?? 10_000);
const perService = 10;
const api = await FakeKubeApiServer.start();
for (let i = 0; i < services; i++) {
  const ns = `ns-${i % 100}`;
  api.apply('services', service(ns, `svc-${i}`));
  api.apply(
    'endpointslices',
    endpointSlice(ns, `svc-${i}-abcde`, `svc-${i}`, Array.from({ length: perService }, (_, e) => ({ address: `10.${(i >> 8) & 255}.${i & 255}.${e + 1}`, pod: `svc-${i}-${e}` }))),
  );
}

const started = Date.now();
const s = await startMeshdns(['--upstream', 'none', '--kubeconfig', api.kubeconfig(), '--log-level', 'info'], { cli: process.env.BENCH_CLI });
const listening = Date.now() - started;
const last = `svc-${services - 1}.ns-${(services - 1) % 100}.linkerd.local`;
for (;;) {
  const reply = await udpExchange(s.dnsPort, buildQuery(last, { edns: {} }), 500);
  if (reply !== null && decode(reply).answers.length === perService) break;
  await new Promise((r) => setTimeout(r, 20));
}
const complete = Date.now() - started;
// Every service answers in full.
let full = 0;
for (let i = 0; i < services; i += Math.ceil(services / 200)) {
  const reply = decode((await udpExchange(s.dnsPort, buildQuery(`svc-${i}.ns-${i % 100}.linkerd.local`, { edns: {} })))!);
  if (reply.answers.length === perService) full++;
}
await new Promise((r) => setTimeout(r, 1000));
const rss = rssMb(s.proc.pid!);
console.log(`${services} Services × ${perService} endpoints (${services * perService} instances)`);
console.log(`listening after ${listening} ms; complete answer set after ${complete} ms; sampled services complete: ${full}/200`);
console.log(`meshdns resident memory: ${rss.toFixed(0)} MB`);
// Settled: what it holds once the start's garbage is collected (V8's memory reducer, the periodic trim), still
// answering (a query a second), as a pod is between Prometheus scrapes. BENCH_SETTLE_MS=0 skips it.
const settle = Number(process.env.BENCH_SETTLE_MS ?? 10_000);
if (settle > 0) {
  for (let waited = 0; waited < settle; waited += 1000) {
    await udpExchange(s.dnsPort, buildQuery(last, { edns: {} }), 500);
    await new Promise((r) => setTimeout(r, 1000));
  }
  console.log(`meshdns resident memory ${(settle / 1000).toFixed(0)} s later, answering a query a second: ${rssMb(s.proc.pid!).toFixed(0)} MB`);
}
await s.stop();
await api.stop();

// ---- splits ------------------------------------------------------------
const splits = Number(process.env.BENCH_SPLITS ?? 1000);
const perBackend = 3;
const address = (b: number, e: number): string => `10.${100 + (b >> 8)}.${b & 255}.${e + 1}`;

/** The same Services with and without the HTTPRoutes: what the splits cost in sync time and memory. */
async function splitPhase(withRoutes: boolean): Promise<void> {
  const kube = await FakeKubeApiServer.start();
  const ROUTES = kube.installCrd(MESH_CRDS.httproutes);
  for (let a = 0; a < splits; a++) {
    const ns = `team-${a % 50}`;
    kube.apply('services', service(ns, `app-${a}`));
    for (let v = 0; v < 3; v++) {
      const b = a * 3 + v;
      kube.apply('services', service(ns, `app-${a}-v${v}`));
      kube.apply('endpointslices', endpointSlice(ns, `app-${a}-v${v}-x`, `app-${a}-v${v}`, Array.from({ length: perBackend }, (_, e) => ({ address: address(b, e) }))));
    }
    if (withRoutes) kube.apply(ROUTES, httpRoute(ns, `app-${a}`, `app-${a}`, [[`app-${a}-v0`, 80], [`app-${a}-v1`, 15], [`app-${a}-v2`, 5]]));
  }
  const started = Date.now();
  const m = await startMeshdns(['--upstream', 'none', '--kubeconfig', kube.kubeconfig(), '--log-level', 'info'], { cli: process.env.BENCH_CLI });
  const answers = async (name: string): Promise<number> => {
    const reply = await udpExchange(m.dnsPort, buildQuery(name, { edns: {} }), 500);
    return reply === null ? 0 : decode(reply).answers.length;
  };
  // Done: the last apex answers its backends' 9 addresses (with routes), the last backend its 3 (without).
  const last = withRoutes ? `app-${splits - 1}.team-${(splits - 1) % 50}.linkerd.local` : `app-${splits - 1}-v2.team-${(splits - 1) % 50}.linkerd.local`;
  const expected = withRoutes ? 3 * perBackend : perBackend;
  for (let waited = 0; (await answers(last)) !== expected; waited += 20) {
    if (waited > 120_000) throw new Error(`not answered in 2 min; last log lines:\n${m.logs.slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const complete = Date.now() - started;
  let full = 0;
  const step = Math.ceil(splits / 200);
  for (let a = 0; a < splits; a += step) if ((await answers(`app-${a}.team-${a % 50}.linkerd.local`)) === (withRoutes ? 3 * perBackend : 0)) full++;
  await new Promise((r) => setTimeout(r, 1000));
  const rss = rssMb(m.proc.pid!);
  const metrics = await (await fetch(`http://127.0.0.1:${m.httpPort}/metrics`)).text();
  const heap = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? NaN) / 2 ** 20;
  if (!withRoutes) {
    console.log(`the same ${splits * 4} Services without HTTPRoutes: complete after ${complete} ms; resident memory ${rss.toFixed(0)} MB, heap used ${heap.toFixed(0)} MB`);
  } else {
    // One canary step on every split at once: v0 drained. Done when the last apex no longer answers v0.
    const stepped = Date.now();
    for (let a = 0; a < splits; a++) kube.apply(ROUTES, httpRoute(`team-${a % 50}`, `app-${a}`, `app-${a}`, [[`app-${a}-v0`, 0], [`app-${a}-v1`, 50], [`app-${a}-v2`, 50]]));
    while ((await answers(last)) !== 2 * perBackend) await new Promise((r) => setTimeout(r, 10));
    const stepMs = Date.now() - stepped;
    console.log(`${splits} splits (HTTPRoutes) over ${splits * 3} backend Services × ${perBackend} endpoints, plus ${splits} apex Services`);
    console.log(`every split answering after ${complete} ms from start; sampled apexes complete: ${full}/${Math.ceil(splits / step)}; resident memory ${rss.toFixed(0)} MB, heap used ${heap.toFixed(0)} MB`);
    console.log(`a step of all ${splits} splits reached the last apex's answers after ${stepMs} ms`);
  }
  await m.stop();
  await kube.stop();
}

await splitPhase(false);
await splitPhase(true);
process.exit(0);
