import type { Instance, InstancePort, Mutable } from '../catalog/types.js';
import type { CheckSpec } from '../catalog/check-spec.js';


/** A REST registration as the stores keep it: everything needed to rebuild the catalog instance after a restart. */
export interface Registration {
  readonly namespace: string;
  readonly service: string;
  readonly id: string;
  readonly address: string;
  readonly ports: readonly InstancePort[];
  readonly weight: number;
  readonly zone?: string;
  /** The cluster (site) it runs in, as the registration said; absent: the local cluster. */
  readonly cluster?: string;
  /** Heartbeat TTL; absent for registrations that live until deleted. */
  readonly ttlMs?: number;
  readonly check?: CheckSpec;
  readonly metadata: Readonly<Record<string, string>>;
  readonly registeredAt: number;
  readonly heartbeatAt: number;
}

export function registrationKey(namespace: string, service: string, id: string): string {
  // Joined, not a template: a key kept in maps must be one flat string, not a tree of cons strings.
  return [namespace, service, id].join('/');
}

export function keyOfRegistration(r: Registration): string {
  return registrationKey(r.namespace, r.service, r.id);
}

/** Whether a TTL registration has missed its heartbeat. */
export function isExpired(r: Registration, now: number): boolean {
  return heartbeatMissed(r.ttlMs, r.heartbeatAt, now);
}

/** Whether a TTL has run out since the last heartbeat (never, without a TTL). */
export function heartbeatMissed(ttlMs: number | undefined, heartbeatAt: number, now: number): boolean {
  return ttlMs !== undefined && now - heartbeatAt > ttlMs;
}

/**
 * How long after its last heartbeat a TTL registration is removed: its TTL
 * first (until then it is alive), then --deregister-after of being failed, as
 * Consul's deregister_critical_service_after counts from the check going
 * critical. A TTL longer than --deregister-after thus never loses its
 * registration while the TTL still runs.
 */
export function removalDelayMs(r: { readonly ttlMs?: number }, deregisterAfterMs: number): number {
  return (r.ttlMs ?? 0) + deregisterAfterMs;
}

/**
 * A REST registration as the catalog holds it: the instance DNS answers from, carrying what the API and the store
 * need besides (its timestamps, TTL, check and metadata). One object a registration: a mirror of the registrations
 * beside the catalog's instances (an object, a key and a map entry each, and the instance) cost ~16 MB at 100,000.
 * Its namespace and service are where the catalog keeps it.
 */
export interface RestInstance extends Instance {
  readonly source: 'rest';
  readonly ttlMs?: number;
  readonly check?: CheckSpec;
  readonly metadata: Readonly<Record<string, string>>;
  readonly registeredAt: number;
  /**
   * Absent while it is the registration time (a registration never renewed: most of them, and a time is a
   * 16-byte number object of its own, 1.6 MB at 100,000 besides the field); read it with lastHeartbeat.
   */
  readonly heartbeatAt?: number;
  /** The registration's `cluster` when it named the local cluster (--cluster-name), which the instance leaves out. */
  readonly saidCluster?: string;
}

/** When the registration was last renewed: its registration time until a heartbeat came. */
export function lastHeartbeat(i: RestInstance): number {
  return i.heartbeatAt ?? i.registeredAt;
}

/** Whether a catalog instance carries its registration (the REST source's, on the primary; a worker's replica does not). */
export function isRestInstance(i: Instance): i is RestInstance {
  return i.source === 'rest' && typeof (i as Partial<RestInstance>).registeredAt === 'number';
}

/** The catalog's instance; `localCluster` (--cluster-name): a registration that names it is the local cluster's. */
export function toInstance(r: Registration, now: number, localCluster?: string): RestInstance {
  // One literal of the fields every registration has: V8 sizes it to them (the spread form kept four empty slots
  // an object, 3 MB at 100,000); the optional ones, rare, are added after.
  const i: Mutable<RestInstance> = {
    id: r.id,
    source: 'rest',
    address: r.address,
    ports: r.ports,
    weight: r.weight,
    health: isExpired(r, now) ? 'unhealthy' : 'healthy',
    metadata: r.metadata,
    registeredAt: r.registeredAt,
  };
  if (r.zone !== undefined) i.zone = r.zone;
  if (r.heartbeatAt !== r.registeredAt) i.heartbeatAt = r.heartbeatAt;
  const local = r.cluster === undefined || r.cluster === localCluster;
  if (!local) i.cluster = r.cluster;
  else if (r.cluster !== undefined) i.saidCluster = r.cluster;
  if (r.ttlMs !== undefined) i.ttlMs = r.ttlMs;
  if (r.check !== undefined) i.check = r.check;
  return i;
}

/** The registration an instance holds, as the store keeps it (fields in one order: two equal ones serialize alike). */
export function registrationOf(namespace: string, service: string, i: RestInstance): Registration {
  const cluster = i.cluster ?? i.saidCluster;
  return {
    namespace,
    service,
    id: i.id,
    address: i.address,
    ports: i.ports,
    weight: i.weight,
    ...(i.zone === undefined ? {} : { zone: i.zone }),
    ...(cluster === undefined ? {} : { cluster }),
    ...(i.ttlMs === undefined ? {} : { ttlMs: i.ttlMs }),
    ...(i.check === undefined ? {} : { check: i.check }),
    metadata: i.metadata,
    registeredAt: i.registeredAt,
    heartbeatAt: lastHeartbeat(i),
  };
}

/** Whether two registrations say the same (whatever order their fields came in). */
export function sameRegistration(a: Registration, b: Registration): boolean {
  return serialize(registrationOf(a.namespace, a.service, toInstance(a, 0))) === serialize(registrationOf(b.namespace, b.service, toInstance(b, 0)));
}

/** JSON form kept in the stores. Parsing checks the shape so a corrupt row cannot poison the catalog. */
export function serialize(r: Registration): string {
  return JSON.stringify(r);
}

export function deserialize(text: string): Registration {
  const r = JSON.parse(text) as Registration;
  if (typeof r !== 'object' || r === null || typeof r.namespace !== 'string' || typeof r.service !== 'string' || typeof r.id !== 'string' || typeof r.address !== 'string' || !Array.isArray(r.ports) || typeof r.weight !== 'number') {
    throw new Error('stored registration has an unexpected shape');
  }
  return compact(r);
}

const EMPTY_METADATA: Readonly<Record<string, string>> = Object.freeze({});
/** Distinct port lists seen; most instances share one of a few ("http 8080 tcp"). Bounded, so odd lists cannot grow it. */
const sharedPorts = new Map<string, readonly InstancePort[]>();
const SHARED_PORTS_MAX = 10_000;

/**
 * The same registration, sharing what many registrations hold alike: the
 * empty metadata object and identical port lists (frozen, as nothing may
 * change them). At 100,000 registrations these were a tenth of the heap.
 */
export function compact(r: Registration): Registration {
  const key = JSON.stringify(r.ports);
  let ports = sharedPorts.get(key);
  if (ports === undefined) {
    ports = Object.freeze(r.ports.map((p) => Object.freeze({ name: p.name, port: p.port, protocol: p.protocol })));
    if (sharedPorts.size < SHARED_PORTS_MAX) sharedPorts.set(key, ports);
  }
  const metadata = Object.keys(r.metadata ?? {}).length === 0 ? EMPTY_METADATA : r.metadata;
  return { ...r, ports, metadata };
}
