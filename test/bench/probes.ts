/**
 * 10,000 instances with HTTP checks every 5 s against local targets: does
 * probing keep up? Reports achieved probe rate against the schedule, p99
 * schedule lag and the CPU the prober used. Run: npm run bench:probes
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../support/meshdns-process.js';
import { measureProbing } from './probe-harness.js';

const instances = Number(process.env.BENCH_INSTANCES ?? 10_000);
const intervalMs = 5000;
const seconds = Number(process.env.BENCH_SECONDS ?? 30);

const targets = spawn(process.execPath, [join(repoRoot, 'test', 'bench', 'probe-targets.mjs'), '8'], { stdio: ['ignore', 'pipe', 'inherit'] });
const ports = await new Promise<number[]>((resolve) => targets.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { ports: number[] }).ports)));
const lines = await measureProbing({
  instances,
  intervalMs,
  seconds,
  skipIntervals: 1,
  checkOf: (i) => ({ http: `http://127.0.0.1:${ports[i % ports.length]}/healthz`, intervalMs, timeoutMs: 1000, healthyThreshold: 2, unhealthyThreshold: 3 }),
});
targets.kill();
console.log(['HTTP checks:', ...lines].join('\n'));
process.exit(0);
