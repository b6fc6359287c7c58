/**
 * dnsperf as every answer-path benchmark runs it: 8 clients, 500 queries outstanding at most, the bench's query
 * file. Its output goes to a file that is read afterwards: with -v dnsperf prints a line per query, and a reader
 * on a pipe (the bench's own Node process) woke for each, 20,000 times a second, taking a third of a core from the
 * servers measured on this 2-core machine.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface DnsperfResult {
  readonly qps: number;
  readonly completed: number;
  readonly lost: number;
  readonly avgMs: number;
  /** Every query's latency in ms, sorted; empty unless the run was verbose. */
  readonly latenciesMs: readonly number[];
  /** CPU dnsperf itself used (bash's `times`), ms. */
  readonly cpuMs: number;
}

const dir = mkdtempSync(join(tmpdir(), 'meshdns-dnsperf-'));
let runs = 0;

export async function dnsperf(port: number, queryFile: string, seconds: number, opts: { extra?: readonly string[]; verbose?: boolean; /** A command that execs dnsperf (e.g. ['taskset', '-c', '1']). */ wrapper?: readonly string[] } = {}): Promise<DnsperfResult> {
  const output = join(dir, `run-${runs++}.out`);
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', queryFile, '-l', String(seconds), '-c', '8', '-q', '500', ...(opts.extra ?? []), ...(opts.verbose ? ['-v'] : [])];
  const { stdout: times } = await promisify(execFile)('bash', ['-c', '"${@:2}" > "$1"; times', 'dnsperf', output, ...(opts.wrapper ?? []), 'dnsperf', ...args]);
  const out = readFileSync(output, 'utf8');
  // A verbose run's file is a line per query (6 MB for 100,000): benches make hundreds, and /tmp filled up.
  rmSync(output);
  const number = (pattern: RegExp): number => Number(pattern.exec(out)?.[1]);
  // `times` prints the shell's own CPU, then its children's (dnsperf): the last line.
  const t = [...times.matchAll(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/gm)].at(-1);
  return {
    qps: number(/Queries per second:\s+([\d.]+)/),
    completed: number(/Queries completed:\s+(\d+)/),
    lost: number(/Queries lost:\s+(\d+)/),
    avgMs: number(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    latenciesMs: [...out.matchAll(/^> \S+ .* ([\d.]+)$/gm)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b),
    cpuMs: t === undefined ? 0 : (Number(t[1]) * 60 + Number(t[2]) + Number(t[3]) * 60 + Number(t[4])) * 1000,
  };
}

/** The latency at quantile q (0.99: p99) of a sorted list, or null for an empty one. */
export function quantile(sortedMs: readonly number[], q: number): number | null {
  return sortedMs.length === 0 ? null : sortedMs[Math.min(sortedMs.length - 1, Math.floor(sortedMs.length * q))]!;
}

/**
 * Unmeasured warm-up: in its first seconds under load V8 is still compiling the answer path, which cost a first
 * measured round up to a fifth of its QPS and put its p99 at tens of ms. Servers with nothing to warm (Knot) get
 * the same run, so that every server is measured from the same state.
 */
export async function warmUp(port: number, queryFile: string, opts: { extra?: readonly string[]; wrapper?: readonly string[] } = {}): Promise<void> {
  await dnsperf(port, queryFile, 3, opts);
}
