/**
 * 5,000 instances with gRPC health checks every second, each against a target of its own (127.x.y.z, one
 * channel each), served by a real grpc-js health server in another process: does probing keep up? Reports the
 * probe rate against the schedule, the p99 schedule lag and the prober's CPU. Run: npm run bench:grpc-probes
 * (env BENCH_INSTANCES, BENCH_SECONDS).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../support/meshdns-process.js';
import { measureProbing } from './probe-harness.js';

const instances = Number(process.env.BENCH_INSTANCES ?? 5_000);
const intervalMs = 1000;
const seconds = Number(process.env.BENCH_SECONDS ?? 20);

const targets = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test', 'bench', 'grpc-probe-targets.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise<number>((resolve) => targets.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { port: number }).port)));

const lines = await measureProbing({
  instances,
  intervalMs,
  seconds,
  skipIntervals: 3,
  checkOf: (i) => ({
    grpc: `127.${1 + ((i >> 16) & 255)}.${(i >> 8) & 255}.${i & 255}:${port}`,
    grpcService: i % 2 === 0 ? '' : 'bench.v1.Svc',
    grpcTls: false,
    intervalMs,
    timeoutMs: 800,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
  }),
});
targets.kill();
console.log(['gRPC checks, each instance its own target:', ...lines].join('\n'));
process.exit(0);
