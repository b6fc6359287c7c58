/**
 * Knot DNS serving the benches' records (bench-data.ts) from a zone file: the reference the answer-path
 * benchmarks compare meshdns with. Needs knotd (Debian: knot).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../support/free-port.js';
import { benchAddress, SERVICES, WEIGHTS } from './bench-data.js';

/** The records meshdns builds from the bench's REST registrations, as a zone file for Knot. */
export function writeBenchZone(dir: string): void {
  const zone = ['$ORIGIN linkerd.local.', '$TTL 5', '@ SOA ns.dns hostmaster 1 7200 1800 86400 5', '@ NS ns.dns', 'ns.dns A 127.0.0.1'];
  for (let s = 0; s < SERVICES; s++) {
    for (let i = 0; i < 3; i++) {
      zone.push(`svc-${s}.bench A ${benchAddress(s, i)}`);
      zone.push(`_http._tcp.svc-${s}.bench SRV 0 ${WEIGHTS[i]} 8080 i${i}.svc-${s}.bench`);
      zone.push(`i${i}.svc-${s}.bench A ${benchAddress(s, i)}`);
    }
  }
  writeFileSync(join(dir, 'linkerd.local.zone'), zone.join('\n') + '\n');
}

export interface KnotOptions {
  /** Knot's threads: `udp-workers` and `tcp-workers` (default: Knot's own, one per core). */
  readonly workers?: number;
  /** A command that execs knotd (e.g. ['taskset', '-c', '0']). */
  readonly wrapper?: readonly string[];
}

/** knotd on a free port answering the zone that writeBenchZone left in `dir`; resolves once it answers. */
export async function startKnot(dir: string, opts: KnotOptions = {}): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const conf = join(dir, 'knot.conf');
  const threads = opts.workers === undefined ? '' : `  udp-workers: ${opts.workers}\n  tcp-workers: ${opts.workers}\n  background-workers: 1\n`;
  writeFileSync(
    conf,
    `server:\n  listen: 127.0.0.1@${port}\n  rundir: "${dir}"\n${threads}database:\n  storage: "${dir}"\ntemplate:\n  - id: default\n    storage: "${dir}"\n    file: "%s.zone"\nzone:\n  - domain: linkerd.local\nlog:\n  - target: stderr\n    any: error\n`,
  );
  const command = [...(opts.wrapper ?? []), 'knotd', '-c', conf];
  const proc = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    try {
      if (execFileSync('dig', ['@127.0.0.1', '-p', String(port), '+short', '+time=1', '+tries=1', 'svc-1.bench.linkerd.local'], { encoding: 'utf8' }).trim()) return { port, proc };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('knotd did not start');
}
