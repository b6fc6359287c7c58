/**
 * A traffic split (shared/interface.md, "Mesh traffic objects"): the apex service's names answer its
 * backends' instances, backend b first in weight_b / Σ weight of answers. A fact about the apex, kept by the
 * catalog like a policy, from whichever mesh object said so.
 */

export interface SplitBackend {
  /** Catalog key `ns/name` of the backend service (the apex itself: its own instances). */
  readonly service: string;
  /** ≥ 0; 0 drains the backend. */
  readonly weight: number;
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
  readonly backends: readonly SplitBackend[];
  readonly origin: SplitOrigin;
}

/** `shop/web` → `web.shop`, as the API and the failover list name services. */
export function serviceRef(key: string): string {
  const slash = key.indexOf('/');
  return `${key.slice(slash + 1)}.${key.slice(0, slash)}`;
}
