import type { Catalog } from '../catalog/catalog.js';
import type { Instance } from '../catalog/types.js';

/** One service as sent from the primary to its workers (plain data: structured-clone safe). */
export interface ServiceSnapshot {
  readonly namespace: string;
  readonly name: string;
  readonly alias?: string;
  readonly instances: Instance[];
}

export interface CatalogMessage {
  readonly type: 'catalog';
  readonly services: ServiceSnapshot[];
  /** Keys ("ns/name") of services that no longer exist. */
  readonly removed: string[];
}

export function snapshotOf(catalog: Catalog, keys: Iterable<string>): CatalogMessage {
  const services: ServiceSnapshot[] = [];
  const removed: string[] = [];
  for (const key of keys) {
    const svc = catalog.getByKey(key);
    if (svc === undefined) removed.push(key);
    else services.push({ namespace: svc.namespace, name: svc.name, alias: svc.alias, instances: [...svc.instances.values()] });
  }
  return { type: 'catalog', services, removed };
}

export function fullSnapshot(catalog: Catalog): CatalogMessage {
  return snapshotOf(catalog, [...catalog.all()].map((s) => `${s.namespace}/${s.name}`));
}

/** A worker applies what its primary's catalog says, service by service. */
export function applySnapshot(catalog: Catalog, message: CatalogMessage): void {
  for (const key of message.removed) catalog.restore(key, undefined);
  for (const s of message.services) catalog.restore(`${s.namespace}/${s.name}`, s);
}
