/**
 * A traffic split (docs/mesh-traffic.md): the apex service's names answer its
 * backends' instances, backend b first in weight_b / Σ weight of answers. A fact about the apex, kept by the
 * catalog like a policy, from whichever mesh object said so.
 */

export interface SplitBackend {
  /** Catalog key `ns/name` of the backend service (the apex itself: its own instances). */
  readonly service: string;
  /** ≥ 0; 0 drains the backend. */
  readonly weight: number;
  /**
   * An Istio subset of the service: its name, the ids of the service's instances in it now, and its own load
   * balancer (the subset's trafficPolicy.loadBalancer), which orders the answer within the subset.
   */
  readonly subset?: { readonly name: string; readonly members: readonly string[]; readonly loadBalancer?: 'weighted' | 'round-robin' | 'random' };
}

export interface SplitOrigin {
  /** HTTPRoute, TrafficSplit or VirtualService. */
  readonly kind: string;
  /** Its API group (gateway.networking.k8s.io, policy.linkerd.io, split.smi-spec.io, networking.istio.io). */
  readonly group: string;
  readonly namespace: string;
  readonly name: string;
}

export interface TrafficSplit {
  /** Empty when no object splits the apex for every client (only consumer routes do). */
  readonly backends: readonly SplitBackend[];
  readonly origin: SplitOrigin;
  /** The part of the object in force: `rules[1]`, `http[0]`, `tcp[0]` (the rule a plain request takes). */
  readonly rule?: string;
  /** Load balancing inside the split when one subset takes all of it and has its own (Istio subset trafficPolicy). */
  readonly loadBalancer?: 'weighted' | 'round-robin' | 'random';
  /**
   * Splits for the clients of one namespace only (GAMMA consumer routes, Istio objects exported to some
   * namespaces): such a client gets its namespace's split instead of the one above.
   */
  readonly consumers?: readonly ConsumerSplit[];
}

export interface ConsumerSplit {
  /** The clients' namespace. */
  readonly namespace: string;
  readonly backends: readonly SplitBackend[];
  readonly origin: SplitOrigin;
  readonly rule?: string;
  readonly loadBalancer?: 'weighted' | 'round-robin' | 'random';
}

/** Every backend service a split names, for everyone or for some clients. */
export function backendsOf(split: TrafficSplit | undefined): string[] {
  if (split === undefined) return [];
  return [...split.backends, ...(split.consumers ?? []).flatMap((c) => c.backends)].map((b) => b.service);
}

/** `shop/web` → `web.shop`, as the API and the failover list name services. */
export function serviceRef(key: string): string {
  const slash = key.indexOf('/');
  return `${key.slice(slash + 1)}.${key.slice(0, slash)}`;
}
