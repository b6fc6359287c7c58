import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import type { InstanceSource } from '../catalog/types.js';
import { checkKind, type CheckKind, type CheckSpec } from '../catalog/check-spec.js';
import { HealthTracker } from './health-tracker.js';
import { ProbeScheduler, type SchedulerStats } from './probe-scheduler.js';
import type { ProbeResult } from './probes.js';

export interface InstanceRef {
  readonly namespace: string;
  readonly service: string;
  readonly source: InstanceSource;
  readonly id: string;
  /** Another cluster's instance (undefined: the local cluster's). */
  readonly cluster?: string;
}

/** Told of every probe, for metrics. */
export type ProbeObserver = (kind: CheckKind, result: ProbeResult) => void;

interface Tracked {
  ref: InstanceRef;
  check: CheckSpec;
  tracker: HealthTracker;
}

/**
 * Owns probing: sources say which instances have checks (track/untrack);
 * results go through a HealthTracker and into the catalog, which is the only
 * thing this module writes.
 */
export class HealthMonitor {
  private readonly tracked = new Map<string, Tracked>();
  private readonly scheduler: ProbeScheduler;

  constructor(
    private readonly catalog: Catalog,
    private readonly logger: Logger,
    opts: { concurrency: number; observer?: ProbeObserver; runProbe?: (check: CheckSpec) => Promise<ProbeResult> },
  ) {
    this.scheduler = new ProbeScheduler({
      concurrency: opts.concurrency,
      runProbe: opts.runProbe,
      onResult: (key, result) => {
        const t = this.tracked.get(key);
        if (t === undefined) return;
        opts.observer?.(checkKind(t.check), result);
        this.onResult(t, result);
      },
    });
  }

  static keyOf(ref: InstanceRef): string {
    return `${ref.cluster === undefined ? ref.source : `${ref.source}@${ref.cluster}`}/${ref.namespace}/${ref.service}/${ref.id}`;
  }

  track(ref: InstanceRef, check: CheckSpec): void {
    const key = HealthMonitor.keyOf(ref);
    const existing = this.tracked.get(key);
    if (existing !== undefined && JSON.stringify(existing.check) === JSON.stringify(check)) return;
    this.tracked.set(key, { ref, check, tracker: new HealthTracker(check.healthyThreshold, check.unhealthyThreshold) });
    this.scheduler.set({ key, check });
  }

  untrack(ref: InstanceRef): void {
    const key = HealthMonitor.keyOf(ref);
    if (!this.tracked.delete(key)) return;
    this.scheduler.remove(key);
    this.catalog.setProbe(ref.namespace, ref.service, ref.source, ref.id, undefined, ref.cluster);
  }

  stats(): SchedulerStats {
    return this.scheduler.stats();
  }

  stop(): void {
    this.scheduler.stop();
  }

  private onResult(t: Tracked, result: ProbeResult): void {
    const wasHealthy = t.tracker.healthy;
    t.tracker.record(result.ok);
    const { ref } = t;
    this.catalog.setProbe(ref.namespace, ref.service, ref.source, ref.id, {
      healthy: t.tracker.healthy,
      score: t.tracker.score,
      lastResult: { ok: result.ok, detail: result.detail, at: result.at, durationMs: result.durationMs },
    }, ref.cluster);
    if (wasHealthy !== t.tracker.healthy) {
      this.logger.info(
        { service: `${ref.namespace}/${ref.service}`, id: ref.id, source: ref.source, result: result.detail },
        t.tracker.healthy ? 'instance passed its probes again: answered' : 'instance failed its probes: no longer answered',
      );
    }
  }
}
