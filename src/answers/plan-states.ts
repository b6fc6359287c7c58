import type { Catalog } from '../catalog/catalog.js';
import { planAnswers } from './answer-plan.js';
import { reportUnbuildable, SkipReporter, type SkippedRecord } from './instance-names.js';
import { serviceKeys } from './name-table.js';
import type { SoftWeight } from './soft-weight.js';

export interface PlanStateEvents {
  /** Told when a service enters or leaves panic (for the warning log and the metric). */
  onPanic?: (serviceKey: string, inPanic: boolean, mode: 'serve-all' | 'serve-none') => void;
  /** Told when a service starts (backup) or stops (undefined) answering a backup's instances. */
  onFailover?: (serviceKey: string, backup: string | undefined) => void;
}

/** What operators watch of the answer plans: the services in panic, and those failing over (to which backup). */
export interface PlanStateView {
  readonly inPanic: ReadonlySet<string>;
  readonly failingOver: ReadonlyMap<string, string>;
}

/**
 * The panic and failover state of each service's plan, and which services' plans depend on which others
 * (failover backups, split backends), so that a backup's change reaches the services that name it. Kept by the
 * name tables of a process that answers, or alone (watchPlanStates) by a worker pool's primary, which answers
 * nothing itself.
 */
export class PlanStates implements PlanStateView {
  readonly inPanic = new Set<string>();
  /** Services answering a backup's instances now, with the backup (`svc.ns`). */
  readonly failingOver = new Map<string, string>();
  private readonly dependsOn = new Map<string, readonly string[]>();
  private readonly dependants = new Map<string, Set<string>>();

  constructor(
    private readonly allUnhealthy: 'serve-all' | 'serve-none',
    private readonly events: PlanStateEvents = {},
  ) {}

  /** The changed services and every service whose plan depends on one of them. */
  affected(keys: ReadonlySet<string>): Set<string> {
    const out = new Set(keys);
    for (const key of keys) for (const dependant of this.dependants.get(key) ?? []) out.add(dependant);
    return out;
  }

  /** A service's plan was made: the services it depends on. */
  track(key: string, dependsOn: readonly string[]): void {
    for (const old of this.dependsOn.get(key) ?? []) this.dependants.get(old)?.delete(key);
    if (dependsOn.length === 0) {
      this.dependsOn.delete(key);
      return;
    }
    this.dependsOn.set(key, dependsOn);
    for (const b of dependsOn) {
      let set = this.dependants.get(b);
      if (set === undefined) this.dependants.set(b, (set = new Set()));
      set.add(key);
    }
  }

  /** The plan every client gets (not a consumer route's or a cluster's view): its failover and panic state. */
  set(key: string, failoverTo: string | undefined, panic: boolean): void {
    if (this.failingOver.get(key) !== failoverTo) {
      if (failoverTo === undefined) this.failingOver.delete(key);
      else this.failingOver.set(key, failoverTo);
      this.events.onFailover?.(key, failoverTo);
    }
    if (panic !== this.inPanic.has(key)) {
      if (panic) this.inPanic.add(key);
      else this.inPanic.delete(key);
      this.events.onPanic?.(key, panic, this.allUnhealthy);
    }
  }

  /** A service gone: no dependencies, no state. */
  forget(key: string): void {
    this.track(key, []);
    this.set(key, undefined, false);
  }
}

/**
 * The plan states of a catalog without name tables, for a worker pool's primary: each changed service's plan is
 * made again (the plan only: no record is encoded), its state recorded, and the records its names could not carry
 * reported as the name tables would (the workers that build them say nothing, so that it is said once).
 */
export function watchPlanStates(
  catalog: Catalog,
  zoneKeys: readonly string[],
  opts: { soft?: SoftWeight; allUnhealthy?: 'serve-all' | 'serve-none'; onSkipped?: (skipped: SkippedRecord) => void } & PlanStateEvents,
): PlanStateView {
  const allUnhealthy = opts.allUnhealthy ?? 'serve-all';
  const states = new PlanStates(allUnhealthy, opts);
  const report = new SkipReporter(opts.onSkipped);
  const ctx = { catalog, soft: opts.soft, allUnhealthy };
  const replan = (key: string): void => {
    const plan = planAnswers(ctx, key);
    states.track(key, plan.dependsOn);
    states.set(key, plan.failoverTo, plan.panic);
    const svc = catalog.getByKey(key);
    if (svc !== undefined && svc.alias === undefined) for (const zoneKey of zoneKeys) reportUnbuildable(key, svc, serviceKeys(svc.namespace, svc.name, zoneKey).svcKey, report);
  };
  catalog.onChange((keys) => {
    for (const key of states.affected(keys)) replan(key);
  });
  for (const key of catalog.keys()) replan(key);
  return states;
}
