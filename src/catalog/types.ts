/** The catalog's vocabulary: what every source turns its facts into. */
import { SharedStrings } from './shared-strings.js';

export type InstanceSource = 'kubernetes' | 'rest' | 'zonefile';

export type Protocol = 'tcp' | 'udp';

export interface InstancePort {
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
}

/**
 * healthy: answered. unhealthy: not answered (failed probes, not ready).
 * draining: kept but given no new traffic (terminating endpoints, weight 0).
 */
export type HealthState = 'healthy' | 'unhealthy' | 'draining';

/** What active probing says of an instance (absent when it is not probed). */
export interface ProbeHealth {
  readonly healthy: boolean;
  /** Success ratio over recent probes, in [0, 1]. */
  readonly score: number;
  readonly lastResult?: { readonly ok: boolean; readonly detail: string; readonly at: number; readonly durationMs: number };
}

export interface Instance {
  /** Identity within its source and service (a DNS label). */
  readonly id: string;
  /**
   * DNS label naming the instance below its service, when it differs from the id
   * (a Kubernetes endpoint's hostname, shared by its IPv4 and IPv6 addresses).
   */
  readonly name?: string;
  readonly source: InstanceSource;
  readonly address: string;
  readonly ports: readonly InstancePort[];
  /** 0..65535; 0 drains the instance. */
  readonly weight: number;
  readonly zone?: string;
  /** Kubernetes EndpointSlice hints.forZones: the zones whose clients this endpoint serves (locality uses these, not zone). */
  readonly hintZones?: readonly string[];
  readonly health: HealthState;
  /**
   * The cluster it runs in, when not the local one (`--cluster-name`): another watched Kubernetes cluster, or a
   * REST registration's `cluster`. Its DNS name is then `<name>.<cluster>.<svc>.<ns>.<zone>`, unique across
   * clusters whose Pod addresses may overlap.
   */
  readonly cluster?: string;
  /** Set by the health checker, kept across source updates of the same instance. */
  readonly probe?: ProbeHealth;
}

export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
}

export interface Service extends ServiceRef {
  /** Keyed by `${source}/${id}`: two sources may name the same instance id. */
  readonly instances: ReadonlyMap<string, Instance>;
  /** A CNAME target (Kubernetes ExternalName); such a service has no instances. */
  readonly alias?: string;
}

/** A type's fields writable: for an object built in steps before it is handed out read-only. */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Only the catalog's own fields of an instance: what a worker's replica needs. A source may hang more on its
 * instances (a REST instance carries its registration: timestamps, metadata, a check with its credentials), which
 * stays with the primary. One literal of the fields most instances have, the rare ones assigned after (V8 sizes the
 * object to the literal). `share` gives the strings the copy keeps (a replica shares those many instances spell
 * alike: a structured clone made each occurrence a string of its own).
 */
export function instanceFacts(i: Instance, share: <S extends string>(text: S) => S = (text) => text): Instance {
  const facts: Mutable<Instance> = {
    id: share(i.id),
    source: share(i.source),
    address: i.address,
    ports: i.ports,
    weight: i.weight,
    zone: i.zone === undefined ? undefined : share(i.zone),
    health: share(i.health),
  };
  if (i.name !== undefined) facts.name = i.name;
  if (i.hintZones !== undefined) facts.hintZones = i.hintZones;
  if (i.cluster !== undefined) facts.cluster = share(i.cluster);
  if (i.probe !== undefined) facts.probe = i.probe;
  return facts;
}

export function dnsNameOf(instance: Instance): string {
  return instance.name ?? instance.id;
}

export function serviceKey(namespace: string, name: string): string {
  // Joined, not a template: a key kept in maps must be one flat string, not a tree of cons strings.
  return [namespace, name].join('/');
}

/**
 * An instance's key in its service. A remote cluster's Kubernetes instances are held apart from the local
 * cluster's (the same Pod address may be in both); a REST id is unique in its service whatever its cluster.
 * The local cluster's Kubernetes instances, the most numerous, are keyed by their id itself (an address label):
 * no key string of their own (3.8 MB at 100,000 endpoints). Every other key has a `/`, which no id has.
 */
export function instanceKey(source: InstanceSource, id: string, cluster?: string): string {
  if (source === 'kubernetes' && cluster === undefined) return id;
  return sharedKeys.of(cluster === undefined || source !== 'kubernetes' ? [source, id].join('/') : [`${source}@${cluster}`, id].join('/'));
}

/** Whether an instance is one that `source` (and, for Kubernetes, `cluster`: undefined is the local one) holds. */
export function isHeldBy(i: Instance, source: InstanceSource, cluster?: string): boolean {
  return i.source === source && (source !== 'kubernetes' || i.cluster === cluster);
}

const sharedKeys = new SharedStrings();

export function keyOfInstance(i: Instance): string {
  return instanceKey(i.source, i.id, i.cluster);
}

/** An instance's name labels below its service: `<name>`, or `<name>`, `<cluster>` for another cluster's. */
export function nameLabelsOf(i: Instance): string[] {
  const name = i.name ?? i.id;
  return i.cluster === undefined ? [name] : [name, i.cluster];
}

/** Answered instances: healthy by their source and by probes, with a positive weight. */
export function isAnswerable(instance: Instance): boolean {
  return instance.health === 'healthy' && instance.weight > 0 && instance.probe?.healthy !== false;
}

/**
 * Instances held back only by failing probes: what "panic" mode serves when
 * nothing is answerable, since every probe failing at once more likely means
 * the prober is cut off than that the whole service is down.
 */
export function isPanicCandidate(instance: Instance): boolean {
  return instance.health === 'healthy' && instance.weight > 0 && instance.probe?.healthy === false;
}

/** What an operator sees of an instance: draining (weight 0 or terminating), unhealthy (source or probes), or healthy. */
export function instanceState(i: Instance): 'healthy' | 'unhealthy' | 'draining' {
  if (i.health === 'draining' || i.weight === 0) return 'draining';
  if (i.health === 'unhealthy' || i.probe?.healthy === false) return 'unhealthy';
  return 'healthy';
}
