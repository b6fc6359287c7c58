import type { Catalog, ZoneRange } from '../catalog/catalog.js';
import type { Instance } from '../catalog/types.js';
import type { TrafficPolicy } from '../catalog/policy.js';
import type { TrafficSplit } from '../catalog/split.js';

/** One service as sent from the primary to its workers (plain data: structured-clone safe). */
export interface ServiceSnapshot {
  readonly namespace: string;
  readonly name: string;
  readonly alias?: string;
  readonly instances: Instance[];
  /** The service's policy when one is set (a service may have a policy and no instances). */
  readonly policy?: TrafficPolicy;
  /** The service's traffic split when it is the apex of one. */
  readonly split?: TrafficSplit;
  /** A source says it exists even without instances. */
  readonly declared?: boolean;
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
    const policy = catalog.hasPolicy(key) ? catalog.policyOf(key) : undefined;
    const split = catalog.splitOf(key);
    const slash = key.indexOf('/');
    const declared = catalog.isDeclared(key);
    if (svc === undefined && policy === undefined && split === undefined && !declared) removed.push(key);
    else services.push({ namespace: key.slice(0, slash), name: key.slice(slash + 1), alias: svc?.alias, instances: svc === undefined ? [] : [...svc.instances.values()], policy, split, declared });
  }
  return { type: 'catalog', services, removed };
}

export function fullSnapshot(catalog: Catalog): CatalogMessage {
  return snapshotOf(catalog, catalog.keys());
}

/** A worker applies what its primary's catalog says, service by service. */
export function applySnapshot(catalog: Catalog, message: CatalogMessage): void {
  for (const key of message.removed) {
    const slash = key.indexOf('/');
    catalog.setPolicy(key.slice(0, slash), key.slice(slash + 1), undefined);
    catalog.setSplit(key.slice(0, slash), key.slice(slash + 1), undefined);
    catalog.declare(key.slice(0, slash), key.slice(slash + 1), false);
    catalog.restore(key, undefined);
  }
  for (const s of message.services) {
    // The primary sends the policy in force, whichever source set it.
    catalog.setPolicy(s.namespace, s.name, s.policy);
    catalog.setSplit(s.namespace, s.name, s.split);
    catalog.declare(s.namespace, s.name, s.declared === true);
    catalog.restore(`${s.namespace}/${s.name}`, s.instances.length === 0 && s.alias === undefined ? undefined : s);
  }
}

/** Client zone ranges learnt from Kubernetes Nodes, sent whole when they change (a few hundred entries at most). */
export interface ClientZonesMessage {
  readonly type: 'client-zones';
  readonly ranges: readonly ZoneRange[];
}

/** Pod address → namespace (consumer routes), sent whole when it changes (a Map: the channel uses structured clone). */
export interface ClientNamespacesMessage {
  readonly type: 'client-namespaces';
  readonly entries: ReadonlyMap<string, string>;
}
