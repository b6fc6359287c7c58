/** The data every answer-path benchmark uses, so their figures compare: 1,000 services × 3 instances and one query mix. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, instancePath } from '../support/rest-client.js';

export const SERVICES = 1000;
export const WEIGHTS = [50, 30, 20];

/** Instance i of service svc: 10.100.0.1 and up. */
export const benchAddress = (svc: number, i: number): string => `10.${100 + Math.floor(svc / 250)}.${svc % 250}.${i + 1}`;

/** dnsperf's query file: 70% A, 20% SRV, 10% nonexistent names, from a fixed seed. Returns its path. */
export function writeQueryFile(dir: string): string {
  const queries: string[] = [];
  let seed = 12345;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
  for (let q = 0; q < 20_000; q++) {
    const r = rand(100);
    const s = rand(SERVICES);
    queries.push(r < 70 ? `svc-${s}.bench.linkerd.local A` : r < 90 ? `_http._tcp.svc-${s}.bench.linkerd.local SRV` : `nope-${s}.bench.linkerd.local A`);
  }
  const file = join(dir, 'queries.txt');
  writeFileSync(file, queries.join('\n') + '\n');
  return file;
}

/** Registers the bench's services (SERVICES × WEIGHTS instances, one named port each) through meshdns's REST API. */
export async function registerBenchServices(httpPort: number): Promise<void> {
  for (let s = 0; s < SERVICES; s++) {
    await Promise.all(WEIGHTS.map((weight, i) => api(httpPort, 'PUT', instancePath('bench', `svc-${s}`, `i${i}`), { address: benchAddress(s, i), weight, ports: [{ name: 'http', port: 8080, protocol: 'tcp' }] })));
  }
}
