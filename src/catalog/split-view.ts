import type { Catalog } from './catalog.js';
import { serviceRef, type SplitOrigin } from './split.js';
import { isAnswerable } from './types.js';

/** A split as the API and the console show it: where it came from, each backend's weight and whether it takes traffic now. */
export interface SplitView {
  readonly from: SplitOrigin;
  readonly backends: { readonly service: string; readonly weight: number; readonly answering: boolean }[];
}

export function splitView(catalog: Catalog, key: string): SplitView | undefined {
  const split = catalog.splitOf(key);
  if (split === undefined) return undefined;
  return {
    from: { ...split.origin },
    backends: split.backends.map((b) => {
      const svc = catalog.getByKey(b.service);
      const answering = b.weight > 0 && svc !== undefined && svc.alias === undefined && [...svc.instances.values()].some(isAnswerable);
      return { service: serviceRef(b.service), weight: b.weight, answering };
    }),
  };
}
