import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { endpointSlice, FakeKubeApiServer, service } from '../support/fake-kube-apiserver.js';
import { startMeshdns } from '../support/meshdns-process.js';
import { rssMb } from './proc.js';
const services = 10_000, perService = 10;
const api = await FakeKubeApiServer.start();
for (let i = 0; i < services; i++) {
  const ns = `ns-${i % 100}`;
  api.apply('services', service(ns, `svc-${i}`));
  api.apply('endpointslices', endpointSlice(ns, `svc-${i}-abcde`, `svc-${i}`, Array.from({ length: perService }, (_, e) => ({ address: `10.${(i >> 8) & 255}.${i & 255}.${e + 1}`, pod: `svc-${i}-${e}` }))));
}
const s = await startMeshdns(['--upstream', 'none', '--kubeconfig', api.kubeconfig(), '--log-level', 'info'], { wrapper: ['bash', '-c', 'exec "$0" --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=/tmp/k8 "$@"'] });
const last = `svc-${services - 1}.ns-${(services - 1) % 100}.linkerd.local`;
for (;;) {
  const reply = await udpExchange(s.dnsPort, buildQuery(last, { edns: {} }), 500);
  if (reply !== null && decode(reply).answers.length === perService) break;
  await new Promise((r) => setTimeout(r, 20));
}
await new Promise((r) => setTimeout(r, 2000));
console.log('rss', rssMb(s.proc.pid!).toFixed(0));
s.proc.kill('SIGUSR2');
await new Promise((r) => setTimeout(r, 20000));
await s.stop();
await api.stop();
