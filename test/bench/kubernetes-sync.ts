/**
 * 10,000 Services × 10 endpoints in the fake API server: time from start to
 * the first complete answer set, and resident memory after.
 * Run: npm run bench:kubernetes
 */
import { readFileSync } from 'node:fs';
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { endpointSlice, FakeKubeApiServer, service } from '../support/fake-kube-apiserver.js';
import { startMeshdns } from '../support/meshdns-process.js';

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

const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const started = Date.now();
const s = await startMeshdns(['--upstream', 'none', '--kubeconfig', api.kubeconfig(), '--log-level', 'info']);
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
await s.stop();
await api.stop();
process.exit(0);
