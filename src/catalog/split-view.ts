import type { Catalog } from './catalog.js';
import { serviceRef, type SplitBackend, type SplitOrigin } from './split.js';
import { isAnswerable } from './types.js';

export interface SplitBackendView {
  readonly service: string;
  readonly weight: number;
  /** The Istio subset, and how many of the service's instances are in it now. */
  readonly subset?: { readonly name: string; readonly instances: number };
  readonly answering: boolean;
}

/** A split as the API and the console show it: where it came from, which rule is in force, each backend's weight and whether it takes traffic now. */
export interface SplitView {
  readonly from: SplitOrigin;
  /** The part of the object in force (the rule a request without headers, for path /, takes). */
  readonly rule?: string;
  readonly loadBalancer?: string;
  readonly backends: SplitBackendView[];
  /** Splits for the clients of some namespaces only (consumer routes). */
  readonly consumers?: { readonly namespace: string; readonly from: SplitOrigin; readonly rule?: string; readonly backends: SplitBackendView[] }[];
}

function backendView(catalog: Catalog, b: SplitBackend): SplitBackendView {
  const svc = catalog.getByKey(b.service);
  const members = b.subset === undefined ? undefined : new Set(b.subset.members);
  const answering = b.weight > 0 && svc !== undefined && svc.alias === undefined && [...svc.instances.values()].some((i) => isAnswerable(i) && (members === undefined || members.has(i.id)));
  return { service: serviceRef(b.service), weight: b.weight, ...(b.subset === undefined ? {} : { subset: { name: b.subset.name, instances: b.subset.members.length } }), answering };
}

export function splitView(catalog: Catalog, key: string): SplitView | undefined {
  const split = catalog.splitOf(key);
  if (split === undefined) return undefined;
  return {
    from: { ...split.origin },
    ...(split.rule === undefined ? {} : { rule: split.rule }),
    ...(split.loadBalancer === undefined ? {} : { loadBalancer: split.loadBalancer }),
    backends: split.backends.map((b) => backendView(catalog, b)),
    ...(split.consumers === undefined
      ? {}
      : { consumers: split.consumers.map((c) => ({ namespace: c.namespace, from: { ...c.origin }, ...(c.rule === undefined ? {} : { rule: c.rule }), backends: c.backends.map((b) => backendView(catalog, b)) })) }),
  };
}
