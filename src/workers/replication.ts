import type { Catalog, ZoneRange } from '../catalog/catalog.js';
import { instanceFacts, serviceKey, type Instance } from '../catalog/types.js';
import { SharedStrings } from '../catalog/shared-strings.js';
import type { TrafficPolicy } from '../catalog/policy.js';
import type { TrafficSplit } from '../catalog/split.js';
import type { ClusterSetService } from '../catalog/clusterset.js';

/**
 * The replication protocol between the primary and its DNS workers (`--workers N`), in order:
 *
 *   worker → primary  hello                 its catalog and name tables exist; it wants the state
 *   primary → worker  snapshot (seq n)      everything: services, client zones, client namespaces
 *   worker → primary  listening (seq n)     applied, then bound (or joined) the shared port: answering now
 *   primary → worker  catalog / client-zones / client-namespaces / cluster-set (seq n+1, n+2, …)   changes, in order
 *   worker → primary  resync (expected, got)  a change arrived out of order: it wants a fresh snapshot
 *   primary → worker  snapshot (seq m)      …which it applies while answering from its last consistent state
 *   worker → primary  applied (seq m)
 *
 * A worker never binds before it holds the whole catalog, so a new or replacement worker cannot answer NXDOMAIN for
 * a name that exists; /readyz counts only workers that have reported the snapshot applied. Every message carries
 * the primary's sequence number; the IPC channel is ordered, so a gap means a message was lost or a worker missed
 * what was sent before it was registered, and it asks for the whole state again.
 */

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
  /** Other clusters' splits of it, for their own clients. */
  readonly clusterSplits?: readonly (readonly [string, TrafficSplit])[];
  /** A source says it exists even without instances. */
  readonly declared?: boolean;
}

/** Changed services (state, not operations: applying one twice is harmless). */
export interface CatalogMessage {
  readonly type: 'catalog';
  readonly seq: number;
  /** The mesh zones' SOA serials after these changes (transfers and NOTIFY carry the primary's). */
  readonly serials?: readonly (readonly [string, number])[];
  readonly services: ServiceSnapshot[];
  /** Keys ("ns/name") of services that no longer exist. */
  readonly removed: string[];
}

/** Client zone ranges learnt from Kubernetes Nodes, sent whole when they change (a few hundred entries at most). */
export interface ClientZonesMessage {
  readonly type: 'client-zones';
  readonly seq: number;
  readonly ranges: readonly ZoneRange[];
}

/** Pod address → namespace (consumer routes), sent whole when it changes (a Map: the channel uses structured clone). */
export interface ClientNamespacesMessage {
  readonly type: 'client-namespaces';
  readonly seq: number;
  readonly entries: ReadonlyMap<string, string>;
}

/** The services imported into the cluster set (MCS API), sent whole when they change. */
export interface ClusterSetMessage {
  readonly type: 'cluster-set';
  readonly seq: number;
  readonly services: readonly ClusterSetService[];
}

/** Everything a worker answers from, as of `seq`. */
export interface SnapshotMessage {
  readonly type: 'snapshot';
  readonly seq: number;
  readonly serials?: readonly (readonly [string, number])[];
  readonly services: ServiceSnapshot[];
  readonly ranges: readonly ZoneRange[];
  readonly entries: ReadonlyMap<string, string>;
  readonly clusterSet: readonly ClusterSetService[];
}

export type StateMessage = SnapshotMessage | CatalogMessage | ClientZonesMessage | ClientNamespacesMessage | ClusterSetMessage;

/** Messages a worker sends to its primary. */
export type WorkerMessage =
  | { readonly type: 'hello' }
  | { readonly type: 'listening'; readonly seq: number; readonly bound: import('../config/listen-address.js').ListenAddress[]; readonly udpIo: import('../dns/udp-batch.js').UdpIoChoice }
  | { readonly type: 'applied'; readonly seq: number }
  | { readonly type: 'resync'; readonly expected: number; readonly got: number }
  | { readonly type: 'failed'; readonly message: string };

function serviceSnapshots(catalog: Catalog, keys: Iterable<string>): { services: ServiceSnapshot[]; removed: string[] } {
  const services: ServiceSnapshot[] = [];
  const removed: string[] = [];
  for (const key of keys) {
    const svc = catalog.getByKey(key);
    const policy = catalog.hasPolicy(key) ? catalog.policyOf(key) : undefined;
    const split = catalog.splitOf(key);
    const slash = key.indexOf('/');
    const declared = catalog.isDeclared(key);
    const clusterSplits = [...catalog.clusterSplitsOf(key)];
    if (svc === undefined && policy === undefined && split === undefined && !declared && clusterSplits.length === 0) removed.push(key);
    else {
      services.push({ namespace: key.slice(0, slash), name: key.slice(slash + 1), alias: svc?.alias, instances: svc === undefined ? [] : [...svc.instances.values()].map((i) => instanceFacts(i)), policy, split, declared, ...(clusterSplits.length === 0 ? {} : { clusterSplits }) });
    }
  }
  return { services, removed };
}

export function changesOf(catalog: Catalog, keys: Iterable<string>, seq: number, serials?: readonly (readonly [string, number])[]): CatalogMessage {
  return { type: 'catalog', seq, ...serviceSnapshots(catalog, keys), ...(serials === undefined ? {} : { serials }) };
}

export function snapshotOf(catalog: Catalog, seq: number, serials?: readonly (readonly [string, number])[]): SnapshotMessage {
  return {
    type: 'snapshot',
    seq,
    services: serviceSnapshots(catalog, catalog.keys()).services,
    ranges: catalog.clientZoneRanges(),
    entries: catalog.clientNamespaces(),
    clusterSet: catalog.clusterSet(),
    ...(serials === undefined ? {} : { serials }),
  };
}

function applyService(catalog: Catalog, received: ServiceSnapshot): void {
  const s = { ...received, namespace: replicaStrings.of(received.namespace) };
  const key = serviceKey(s.namespace, s.name);
  // The primary sends the policy in force, whichever source set it.
  catalog.setPolicy(s.namespace, s.name, s.policy);
  catalog.setSplit(s.namespace, s.name, s.split);
  const clusterSplits = new Map(s.clusterSplits ?? []);
  for (const cluster of catalog.clusterSplitsOf(key).keys()) if (!clusterSplits.has(cluster)) catalog.setSplit(s.namespace, s.name, undefined, cluster);
  for (const [cluster, split] of clusterSplits) catalog.setSplit(s.namespace, s.name, split, cluster);
  catalog.declare(s.namespace, s.name, s.declared === true);
  catalog.restore(key, s.instances.length === 0 && s.alias === undefined ? undefined : { ...s, instances: s.instances.map(replicaInstance) });
}

/**
 * Strings a replica would otherwise hold once per instance: a structured clone makes every occurrence of a string
 * a string of its own (at 100,000 instances a worker held 100,000 copies each of "rest" and "healthy", and of ids
 * that repeat across services, `i0`…). Bounded: unique ones (addresses, Pod names) stop being kept past 4,096.
 */
const replicaStrings = new SharedStrings();
const shareReplicaString = <S extends string>(text: S): S => replicaStrings.of(text);

/**
 * An instance as a worker keeps it: its catalog fields in one literal (a deserialized object keeps its fields in
 * a separate array, ~40 bytes more an instance) with the shared strings above; ~10 MB a worker at 100,000 instances.
 */
function replicaInstance(i: Instance): Instance {
  return instanceFacts(i, shareReplicaString);
}

function removeService(catalog: Catalog, key: string): void {
  const slash = key.indexOf('/');
  catalog.setPolicy(key.slice(0, slash), key.slice(slash + 1), undefined);
  catalog.setSplit(key.slice(0, slash), key.slice(slash + 1), undefined);
  for (const cluster of catalog.clusterSplitsOf(key).keys()) catalog.setSplit(key.slice(0, slash), key.slice(slash + 1), undefined, cluster);
  catalog.declare(key.slice(0, slash), key.slice(slash + 1), false);
  catalog.restore(key, undefined);
}

/** A worker applies changed services, each rebuilt once. */
export function applyChanges(catalog: Catalog, message: CatalogMessage): void {
  catalog.batch(() => {
    for (const key of message.removed) removeService(catalog, key);
    for (const s of message.services) applyService(catalog, s);
  });
}

/** Services applied per slice of a snapshot before the event loop gets a turn (answers queued meanwhile go out). */
const SNAPSHOT_SLICE = 1000;

/**
 * A worker applies a whole snapshot: what it holds and the snapshot does not is removed, the rest replaced.
 * Slice by slice, with a turn of the event loop between slices, so that a worker already answering (a resync)
 * keeps answering while it applies 100,000 instances; each service is replaced whole, so an answer is from the
 * old state or the new one, never from half a service. The message's services are let go once applied (its list
 * is emptied): the replica holds copies (replicaInstance), and the heap compaction after a worker's first snapshot
 * must find the clone garbage, not still held by the message its caller has in hand.
 */
export async function applySnapshot(catalog: Catalog, message: SnapshotMessage): Promise<void> {
  const present = new Set(message.services.map((s) => `${s.namespace}/${s.name}`));
  const gone = catalog.keys().filter((k) => !present.has(k));
  catalog.batch(() => {
    for (const key of gone) removeService(catalog, key);
  });
  for (let i = 0; i < message.services.length; i += SNAPSHOT_SLICE) {
    const slice = message.services.slice(i, i + SNAPSHOT_SLICE);
    catalog.batch(() => {
      for (const s of slice) applyService(catalog, s);
    });
    if (i + SNAPSHOT_SLICE < message.services.length) await new Promise((r) => setImmediate(r));
  }
  message.services.length = 0;
  catalog.setClientZoneRanges(message.ranges, null);
  catalog.setClientNamespaces(message.entries, null);
  catalog.setClusterSet(message.clusterSet);
}
