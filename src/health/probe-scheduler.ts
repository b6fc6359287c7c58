import type { CheckSpec } from '../catalog/check-spec.js';
import { GrpcProbes } from './grpc-probe.js';
import { probeHttp, probeTcp, type ProbeResult } from './probes.js';

export interface ProbeTarget {
  readonly key: string;
  readonly check: CheckSpec;
}

interface Scheduled {
  target: ProbeTarget;
  due: number;
  timer: NodeJS.Timeout | undefined;
  removed: boolean;
}

export interface SchedulerStats {
  readonly targets: number;
  readonly probes: number;
  readonly inFlight: number;
  readonly queued: number;
  /** 99th percentile of (start − due) over recent probes, in ms: how far behind schedule probing runs. */
  readonly lagP99Ms: number;
}

export interface ProbeSchedulerOptions {
  /** Probes in flight at most; the rest wait their turn in due order. */
  concurrency: number;
  onResult: (key: string, result: ProbeResult) => void;
  random?: () => number;
  /** Replaceable for tests of the scheduler itself. */
  runProbe?: (check: CheckSpec) => Promise<ProbeResult>;
}

const LAG_SAMPLES = 8192;

/** Runs one check of any kind; gRPC checks ride on the channels `grpc` keeps per target. */
export function runCheck(check: CheckSpec, grpc: GrpcProbes): Promise<ProbeResult> {
  if (check.http !== undefined) return probeHttp(check.http, check.timeoutMs);
  if (check.grpc !== undefined) return grpc.check(check.grpc, check.grpcService ?? '', check.grpcTls === true, check.timeoutMs);
  return probeTcp(check.tcp!, check.timeoutMs);
}

/**
 * Runs each target's probe every interval. First probes are spread over one
 * interval at random so a thousand registrations do not probe in lockstep;
 * later ones keep their phase with ±5% jitter. Concurrency is bounded, and a
 * slow target holds one slot for at most its timeout, so it cannot delay
 * the others. A removed target is never probed again.
 */
export class ProbeScheduler {
  private readonly targets = new Map<string, Scheduled>();
  private readonly queue: Scheduled[] = [];
  private inFlight = 0;
  private probes = 0;
  private readonly lags = new Float64Array(LAG_SAMPLES);
  private lagCount = 0;
  private readonly random: () => number;
  private readonly runProbe: (check: CheckSpec) => Promise<ProbeResult>;
  private stopped = false;
  private readonly grpc = new GrpcProbes();

  constructor(private readonly opts: ProbeSchedulerOptions) {
    this.random = opts.random ?? Math.random;
    this.runProbe = opts.runProbe ?? ((check) => runCheck(check, this.grpc));
  }

  /** Adds or replaces a target; an unchanged check keeps its schedule. */
  set(target: ProbeTarget): void {
    const existing = this.targets.get(target.key);
    if (existing !== undefined && JSON.stringify(existing.target.check) === JSON.stringify(target.check)) return;
    if (existing !== undefined) this.cancel(existing);
    if (target.check.grpc !== undefined) this.grpc.acquire(target.check.grpc, target.check.grpcTls === true);
    const entry: Scheduled = { target, due: Date.now() + this.random() * target.check.intervalMs, timer: undefined, removed: false };
    this.targets.set(target.key, entry);
    this.arm(entry);
  }

  remove(key: string): void {
    const entry = this.targets.get(key);
    if (entry === undefined) return;
    this.cancel(entry);
    this.targets.delete(key);
  }

  has(key: string): boolean {
    return this.targets.has(key);
  }

  stop(): void {
    this.stopped = true;
    for (const entry of this.targets.values()) this.cancel(entry);
    this.targets.clear();
    this.queue.length = 0;
    this.grpc.close();
  }

  stats(): SchedulerStats {
    const n = Math.min(this.lagCount, LAG_SAMPLES);
    const sorted = Array.from(this.lags.subarray(0, n)).sort((a, b) => a - b);
    return {
      targets: this.targets.size,
      probes: this.probes,
      inFlight: this.inFlight,
      queued: this.queue.length,
      lagP99Ms: n === 0 ? 0 : sorted[Math.min(n - 1, Math.floor(n * 0.99))]!,
    };
  }

  private cancel(entry: Scheduled): void {
    const check = entry.target.check;
    if (!entry.removed && check.grpc !== undefined) this.grpc.release(check.grpc, check.grpcTls === true);
    entry.removed = true;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  private arm(entry: Scheduled): void {
    entry.timer = setTimeout(() => this.fire(entry), Math.max(0, entry.due - Date.now()));
    entry.timer.unref();
  }

  private fire(entry: Scheduled): void {
    entry.timer = undefined;
    if (entry.removed || this.stopped) return;
    if (this.inFlight >= this.opts.concurrency) {
      this.queue.push(entry);
      return;
    }
    this.start(entry);
  }

  private start(entry: Scheduled): void {
    this.inFlight++;
    const startedAt = Date.now();
    this.lags[this.lagCount++ % LAG_SAMPLES] = Math.max(0, startedAt - entry.due);
    this.runProbe(entry.target.check)
      .catch((err: Error): ProbeResult => ({ ok: false, detail: err.message, durationMs: Date.now() - startedAt, at: startedAt }))
      .then((result) => {
        this.inFlight--;
        this.probes++;
        if (!entry.removed && !this.stopped) {
          this.opts.onResult(entry.target.key, result);
          const interval = entry.target.check.intervalMs;
          entry.due = Math.max(Date.now(), entry.due + interval * (0.95 + 0.1 * this.random()));
          this.arm(entry);
        }
        this.drain();
      });
  }

  private drain(): void {
    while (this.inFlight < this.opts.concurrency && this.queue.length > 0) {
      const next = this.queue.shift()!;
      if (!next.removed) this.start(next);
    }
  }
}
