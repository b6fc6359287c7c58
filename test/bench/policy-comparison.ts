/**
 * The traffic policies on the answer path, in one run: three meshdns servers
 * with the same 1,000 services × 3 instances, one answering every service by
 * the default weighted order, one by round-robin, one by weighted order with
 * locality prefer-zone (the client, 127.0.0.1, is in a zone that holds one
 * instance of three), measured alternately with dnsperf over UDP.
 * Run: npm run bench:policy (env: BENCH_SECONDS=8, BENCH_ROUNDS=3). Needs dnsperf.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';
import { dnsperf } from './dnsperf.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const SERVICES = 1000;
const dir = mkdtempSync(join(tmpdir(), 'meshdns-policy-bench-'));
const queryFile = join(dir, 'queries.txt');
writeFileSync(queryFile, Array.from({ length: 20_000 }, (_, q) => (q % 10 < 7 ? `svc-${(q * 7919) % SERVICES}.bench.linkerd.local A` : `_http._tcp.svc-${(q * 7919) % SERVICES}.bench.linkerd.local SRV`)).join('\n') + '\n');

async function server(policy: object | undefined): Promise<MeshdnsProcess> {
  const s = await startMeshdns(['--upstream', 'none', '--zones', mkdtempSync(join(dir, 'z-')), '--client-zone', '127.0.0.1/32=zone-1']);
  for (let i = 0; i < SERVICES; i++) {
    await Promise.all(
      [0, 1, 2].map((k) =>
        api(s.httpPort, 'PUT', instancePath('bench', `svc-${i}`, `i${k}`), { address: `10.${100 + Math.floor(i / 250)}.${i % 250}.${k + 1}`, weight: [50, 30, 20][k], zone: `zone-${k}`, ports: [{ name: 'http', port: 8080 }] }),
      ),
    );
    if (policy !== undefined) await api(s.httpPort, 'PUT', `/v1/services/bench/svc-${i}/policy`, policy);
  }
  return s;
}

const servers: [string, MeshdnsProcess][] = [
  ['weighted', await server(undefined)],
  ['round-robin', await server({ loadBalancer: 'round-robin' })],
  ['prefer-zone', await server({ locality: 'prefer-zone' })],
];
const totals = new Map<string, number>();
for (let round = 1; round <= rounds; round++) {
  for (const [name, s] of servers) {
    const { qps } = await dnsperf(s.dnsPort, queryFile, seconds);
    totals.set(name, (totals.get(name) ?? 0) + qps);
    console.log(`round ${round} ${name.padEnd(12)} ${qps.toFixed(0).padStart(7)} qps`);
  }
}
const base = totals.get('weighted')!;
console.log(`node ${process.version}; QPS relative to weighted: round-robin ${(totals.get('round-robin')! / base).toFixed(2)}, prefer-zone ${(totals.get('prefer-zone')! / base).toFixed(2)}`);
for (const [, s] of servers) await s.stop();
process.exit(0);
