import type { Catalog } from '../catalog/catalog.js';
import { failoverKey, type LoadBalancer, type TrafficPolicy } from '../catalog/policy.js';
import type { SplitBackend, TrafficSplit } from '../catalog/split.js';
import { isAnswerable, isPanicCandidate, type Instance, type Service } from '../catalog/types.js';
import { DEFAULT_SOFT_WEIGHT, effectiveWeight, type SoftWeight } from './soft-weight.js';

/**
 * The answer plan: which instances a service's names answer, and with what weight each, decided in one place
 * for the name tables (what DNS answers), the console and the API (what they show), and the metrics (panic,
 * failover). Health, drains, panic, failover, splits (subsets, their own load balancers) are all here; what
 * depends on the client (zone preference, consumer routes) and the per-query draw are the answer path's.
 */

/** Split shares are scaled to this total: whole SRV weights and round-robin counts stay fine-grained. */
export const SHARE_SCALE = 10_000;

export interface PlanMember {
  readonly instance: Instance;
  /** Catalog key of the service the instance belongs to (a backup's or a split backend's when not the planned one). */
  readonly service: string;
  /** Its weight in the draw: its split share (out of SHARE_SCALE), else its own probe-shaded weight. */
  readonly weight: number;
  /** Its group (split backends whose subsets order themselves), an index into `groupPolicies`. */
  readonly group: number;
}

export type PlanState = 'own' | 'split' | 'failover' | 'panic' | 'none';

export interface AnswerPlan {
  readonly members: readonly PlanMember[];
  /** The policy that orders the answer (a backup's own while failing over, with the planned service's limit). */
  readonly policy: TrafficPolicy;
  /** Present when split backends' subsets order themselves: each group's load balancer. */
  readonly groupPolicies?: readonly LoadBalancer[];
  readonly state: PlanState;
  /** While failing over: the backup answering (`svc.ns`). */
  readonly failoverTo?: string;
  /** Every instance fails its probes (answered per --all-unhealthy). */
  readonly panic: boolean;
  /** Services whose change changes this plan (failover backups, split backends). */
  readonly dependsOn: readonly string[];
}

export interface PlanContext {
  readonly catalog: Catalog;
  readonly soft?: SoftWeight;
  readonly allUnhealthy?: 'serve-all' | 'serve-none';
  /** The instances of a service that may carry its names (the name tables leave out names that cannot be built). */
  readonly usable?: (key: string, service: Service) => Instance[];
}

/** The registered weight shaded by the probe score (panic serves failing instances at their score too). */
export function weightOf(i: Instance, soft: SoftWeight = DEFAULT_SOFT_WEIGHT): number {
  const w = i.probe === undefined ? i.weight : effectiveWeight(i.weight, i.probe.score, soft);
  // A weight that rounds to nothing would never be drawn; keep a sliver so order stays defined.
  return Math.max(w, 1e-6);
}

function inSubset(instances: Instance[], backend: SplitBackend): Instance[] {
  if (backend.subset === undefined) return instances;
  const ids = new Set(backend.subset.members);
  return instances.filter((i) => ids.has(i.id));
}

/**
 * The plan of one service. `split` is the split in force for the clients planned for (the one for everyone by
 * default; a consumer route's for its namespace's clients; none: undefined).
 */
export function planAnswers(ctx: PlanContext, key: string, split: TrafficSplit | undefined = everyoneSplit(ctx.catalog.splitOf(key))): AnswerPlan {
  const { catalog } = ctx;
  const soft = ctx.soft ?? DEFAULT_SOFT_WEIGHT;
  const policy = catalog.policyOf(key);
  const usable = (k: string, svc: Service): Instance[] => (ctx.usable === undefined ? [...svc.instances.values()] : ctx.usable(k, svc));
  const svc = catalog.getByKey(key);
  const instances = svc === undefined || svc.alias !== undefined ? [] : usable(key, svc);
  // Every split of the apex counts (the local one and other clusters' for their clients): whichever view is being
  // planned, a change to any backend rebuilds the apex.
  const dependsOn = [...new Set([...policy.failover.map(failoverKey), ...allBackends(catalog.splitOf(key)), ...[...catalog.clusterSplitsOf(key).values()].flatMap(allBackends)])].filter((k) => k !== key);
  const own = instances.filter(isAnswerable);
  const base = { policy, panic: false, dependsOn };

  if (split !== undefined && split.backends.length > 0) {
    const composed = composeSplit(ctx, key, own, split, soft);
    if (composed !== undefined) {
      const splitPolicy = split.loadBalancer === undefined ? policy : { ...policy, loadBalancer: split.loadBalancer };
      return { ...base, ...composed, policy: splitPolicy, state: 'split' };
    }
  }
  const mine = (list: Instance[]): PlanMember[] => list.map((instance) => ({ instance, service: key, weight: weightOf(instance, soft), group: 0 }));
  if (own.length > 0) return { ...base, members: mine(own), state: 'own' };
  for (const ref of policy.failover) {
    const backupKey = failoverKey(ref);
    const backup = catalog.getByKey(backupKey);
    if (backup === undefined || backup.alias !== undefined) continue;
    const answerable = usable(backupKey, backup).filter(isAnswerable);
    if (answerable.length === 0) continue;
    // The backup's order, the planned service's answer limit: a limit is what the clients of this name were
    // promised (the way to keep weights behind caching resolvers), whoever answers.
    const backupPolicy = catalog.policyOf(backupKey);
    const answerLimit = policy.answerLimit > 0 ? policy.answerLimit : backupPolicy.answerLimit;
    return {
      ...base,
      members: answerable.map((instance) => ({ instance, service: backupKey, weight: weightOf(instance, soft), group: 0 })),
      policy: { ...backupPolicy, answerLimit },
      state: 'failover',
      failoverTo: ref,
    };
  }
  const candidates = instances.filter(isPanicCandidate);
  if (candidates.length > 0) {
    // Panic: every instance fails its probes; that many failures at once more often means the prober is cut off.
    return { ...base, members: (ctx.allUnhealthy ?? 'serve-all') === 'serve-all' ? mine(candidates) : [], state: 'panic', panic: true };
  }
  return { ...base, members: [], state: 'none' };
}

function everyoneSplit(split: TrafficSplit | undefined): TrafficSplit | undefined {
  return split === undefined || split.backends.length === 0 ? undefined : split;
}

function allBackends(split: TrafficSplit | undefined): string[] {
  if (split === undefined) return [];
  return [...split.backends, ...(split.consumers ?? []).flatMap((c) => c.backends)].map((b) => b.service);
}

/**
 * A split's members: each backend with a positive weight and something answerable gets weight_b / Σ of first
 * answers, divided among its instances by their own (probe-shaded) weights. A backend with nothing answerable
 * drops out and the others share its part. Undefined when no backend has anything.
 */
function composeSplit(ctx: PlanContext, key: string, own: Instance[], split: TrafficSplit, soft: SoftWeight): Pick<AnswerPlan, 'members' | 'groupPolicies'> | undefined {
  const { catalog } = ctx;
  const groups: { members: Instance[]; service: string; weight: number; loadBalancer?: LoadBalancer }[] = [];
  for (const b of split.backends) {
    if (!(b.weight > 0)) continue;
    if (b.service === key) {
      const members = inSubset(own, b);
      if (members.length > 0) groups.push({ members, service: key, weight: b.weight, loadBalancer: b.subset?.loadBalancer });
      continue;
    }
    const backend = catalog.getByKey(b.service);
    if (backend === undefined || backend.alias !== undefined) continue;
    const all = ctx.usable === undefined ? [...backend.instances.values()] : ctx.usable(b.service, backend);
    const members = inSubset(all.filter(isAnswerable), b);
    if (members.length > 0) groups.push({ members, service: b.service, weight: b.weight, loadBalancer: b.subset?.loadBalancer });
  }
  if (groups.length === 0) return undefined;
  const total = groups.reduce((sum, g) => sum + g.weight, 0);
  const members: PlanMember[] = [];
  const seen = new Set<Instance>();
  for (const [index, g] of groups.entries()) {
    const sum = g.members.reduce((acc, i) => acc + weightOf(i, soft), 0);
    for (const instance of g.members) {
      if (seen.has(instance)) continue;
      seen.add(instance);
      members.push({ instance, service: g.service, weight: (SHARE_SCALE * g.weight * weightOf(instance, soft)) / (total * sum), group: index });
    }
  }
  // Subsets with load balancers of their own order the answer within themselves (Istio's subset trafficPolicy).
  const grouped = groups.length > 1 && groups.some((g) => g.loadBalancer !== undefined);
  if (!grouped) return { members: members.map((m) => ({ ...m, group: 0 })) };
  const fallback = catalog.policyOf(key).loadBalancer;
  return { members, groupPolicies: groups.map((g) => g.loadBalancer ?? split.loadBalancer ?? fallback) };
}

/**
 * Each member's share of first answers, as the answer path draws them for a client with no zone preference:
 * weighted and round robin by weight (round robin exactly so over each window), random evenly; grouped plans by
 * the groups' shares, then within each group by its own policy.
 */
export function firstAnswerShares(plan: AnswerPlan): Map<Instance, number> {
  const out = new Map<Instance, number>();
  const byGroup = new Map<number, PlanMember[]>();
  for (const m of plan.members) {
    const list = byGroup.get(m.group) ?? [];
    list.push(m);
    byGroup.set(m.group, list);
  }
  const total = plan.members.reduce((sum, m) => sum + m.weight, 0);
  for (const [group, members] of byGroup) {
    const lb = plan.groupPolicies?.[group] ?? plan.policy.loadBalancer;
    const groupShare = plan.groupPolicies === undefined ? 1 : members.reduce((sum, m) => sum + m.weight, 0) / total;
    const groupTotal = members.reduce((sum, m) => sum + m.weight, 0);
    for (const m of members) {
      const within = lb === 'random' ? 1 / members.length : m.weight / groupTotal;
      out.set(m.instance, groupShare * within);
    }
  }
  return out;
}
