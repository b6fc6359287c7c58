import type { TrafficPolicy } from '../catalog/policy.js';
import type { Registration } from './registration.js';

/** A change made by another replica (etcd) and seen through the store's watch. */
export type StoreEvent =
  | { readonly kind: 'put'; readonly registration: Registration }
  | { readonly kind: 'delete'; readonly namespace: string; readonly service: string; readonly id: string }
  /** A service's policy set (policy) or removed (undefined). */
  | { readonly kind: 'policy'; readonly namespace: string; readonly service: string; readonly policy: TrafficPolicy | undefined }
  /** The whole store as it is now, after a watch that could not resume (compaction): replaces what is held. */
  | { readonly kind: 'replace'; readonly registrations: readonly Registration[]; readonly policies: readonly StoredPolicy[]; readonly invalid: ReadonlyMap<string, string> }
  /** A key whose value cannot be answered (unreadable, or a body that disagrees with its key): `key` is `<ns>/<svc>/<id>` when the key has that shape. */
  | { readonly kind: 'invalid'; readonly key: string; readonly problem: string };

export interface StoredPolicy {
  readonly namespace: string;
  readonly service: string;
  readonly policy: TrafficPolicy;
}

/**
 * The mesh zones' SOA serials, shared by replicas of one store (etcd) so that a secondary that follows one replica
 * and then another never sees a serial go back: each replica publishes what it stamps, the largest is kept, and
 * every replica adopts a larger one it sees.
 */
export interface SharedSerials {
  /** A serial this replica stamped (coalesced; kept only when larger than the one stored). */
  publish(zoneKey: string, serial: number): void;
  /** Serials in the store: those there at open and every one published since, by any replica. */
  onSerial(listener: (zoneKey: string, serial: number) => void): void;
}

/** The store cannot take writes right now (etcd unreachable, disk full or read-only): the API answers 503. */
export class StoreUnavailableError extends Error {}

/**
 * Durable home of REST registrations. A resolved put/delete/heartbeat is on
 * disk (SQLite, synchronous commit) or acknowledged by the etcd quorum.
 */
export interface RegistrationStore {
  readonly kind: 'sqlite' | 'etcd';
  /** Opens the store and returns every registration in it. */
  open(): Promise<Registration[]>;
  put(registration: Registration): Promise<void>;
  delete(namespace: string, service: string, id: string): Promise<boolean>;
  /** Records a heartbeat; resolves false when the registration is unknown. */
  heartbeat(registration: Registration): Promise<boolean>;
  /** Every stored traffic policy (after open). */
  policies(): Promise<StoredPolicy[]>;
  putPolicy(namespace: string, service: string, policy: TrafficPolicy): Promise<void>;
  /** Resolves false when the service had no stored policy. */
  deletePolicy(namespace: string, service: string): Promise<boolean>;
  /** Zone serials shared between replicas; undefined where one process owns the store (SQLite). */
  readonly serials?: SharedSerials;
  /** Changes from elsewhere (other replicas). The SQLite store has none. */
  onRemoteChange(listener: (event: StoreEvent) => void): void;
  /** False while a shared store's changes are not being followed (etcd: re-listing after a lost watch). */
  readonly following: boolean;
  close(): Promise<void>;
}
