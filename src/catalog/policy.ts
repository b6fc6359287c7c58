/** A service's traffic policy (docs/traffic-policy.md): how its answers are ordered and cut. */

export type LoadBalancer = 'weighted' | 'round-robin' | 'random';
export type Locality = 'off' | 'prefer-zone';
/**
 * Which clusters' instances a client gets (docs/clusters.md): its own cluster's while it has any answerable
 * (prefer-local), every cluster's together by weight (all), or its own cluster's only (local-only).
 */
export type ClusterChoice = 'prefer-local' | 'all' | 'local-only';
export const CLUSTER_CHOICES: readonly ClusterChoice[] = ['prefer-local', 'all', 'local-only'];

export interface TrafficPolicy {
  readonly loadBalancer: LoadBalancer;
  /** Backups, in order, as `<svc>.<ns>`: answered when this service has nothing answerable. */
  readonly failover: readonly string[];
  readonly locality: Locality;
  /** Records per A/AAAA/SRV answer at most; 0 = the global --answer-limit. */
  readonly answerLimit: number;
  /** Absent: prefer-local. */
  readonly clusters?: ClusterChoice;
}

export function clustersOf(policy: TrafficPolicy): ClusterChoice {
  return policy.clusters ?? 'prefer-local';
}

export const DEFAULT_POLICY: TrafficPolicy = Object.freeze({ loadBalancer: 'weighted', failover: Object.freeze([]) as readonly string[], locality: 'off', answerLimit: 0 });

/** `web.shop` → the catalog key `shop/web`. */
export function failoverKey(ref: string): string {
  const dot = ref.indexOf('.');
  return `${ref.slice(dot + 1)}/${ref.slice(0, dot)}`;
}

const SERVICE_REF = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Whether `ref` names another service than `<service>.<namespace>` as `<svc>.<ns>` (a failover entry). */
export function isBackupRef(ref: unknown, namespace: string, service: string): boolean {
  return typeof ref === 'string' && SERVICE_REF.test(ref) && ref !== `${service}.${namespace}`;
}

/** A stored policy read back (SQLite row, etcd value), checked field by field so a bad row is refused by name. */
export function parsePolicy(namespace: string, service: string, text: string): TrafficPolicy {
  const p = JSON.parse(text) as Partial<TrafficPolicy>;
  const failover = p.failover ?? [];
  const valid =
    ['weighted', 'round-robin', 'random'].includes(p.loadBalancer ?? 'weighted') &&
    ['off', 'prefer-zone'].includes(p.locality ?? 'off') &&
    Number.isInteger(p.answerLimit ?? 0) &&
    (p.answerLimit ?? 0) >= 0 &&
    (p.answerLimit ?? 0) <= 65535 &&
    Array.isArray(failover) &&
    failover.every((f) => isBackupRef(f, namespace, service)) &&
    (p.clusters === undefined || CLUSTER_CHOICES.includes(p.clusters));
  if (!valid) throw new Error(`stored policy of ${namespace}/${service} has an unexpected shape`);
  return { loadBalancer: p.loadBalancer ?? 'weighted', failover, locality: p.locality ?? 'off', answerLimit: p.answerLimit ?? 0, ...(p.clusters === undefined ? {} : { clusters: p.clusters }) };
}
