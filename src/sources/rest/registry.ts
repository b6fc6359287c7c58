import type { Logger } from 'pino';
import type { Catalog } from '../../catalog/catalog.js';
import { heartbeatMissed, isExpired, isRestInstance, lastHeartbeat, keyOfRegistration, registrationKey, registrationOf, removalDelayMs, sameRegistration, toInstance, type Registration, type RestInstance } from '../../store/registration.js';
import { instanceKey } from '../../catalog/types.js';
import type { RegistrationStore, StoreEvent } from '../../store/store.js';
import type { CheckSpec } from '../../catalog/check-spec.js';
import { registrationProblem } from './registration-rules.js';
import type { TrafficPolicy } from '../../catalog/policy.js';

/** Where registrations with a `check` are handed for active probing (the health monitor). */
export interface ProbeTracker {
  track(ref: { namespace: string; service: string; source: 'rest'; id: string }, check: CheckSpec): void;
  untrack(ref: { namespace: string; service: string; source: 'rest'; id: string }): void;
}

export interface RestRegistryOptions {
  store: RegistrationStore;
  catalog: Catalog;
  /** A TTL registration without heartbeats this long is removed from the store. */
  deregisterAfterMs: number;
  logger: Logger;
  probes?: ProbeTracker;
  now?: () => number;
  sweepIntervalMs?: number;
  /** The mesh zones (keys), for checking stored rows as the API checks writes. */
  zoneKeys: readonly string[];
  /** --cluster-name: a registration whose `cluster` names it is the local cluster's (plain instance names). */
  localCluster?: string;
}

/** Where a registration is: its namespace, service and id. */
interface RegistrationRef {
  readonly namespace: string;
  readonly service: string;
  readonly id: string;
}

/**
 * REST registrations: the store holds the truth, the catalog's instances hold
 * it in memory (each REST instance carries its registration: no mirror beside
 * them). A write is applied to the catalog only after the store has
 * acknowledged it, so what DNS answers is always something that survives a
 * crash. TTL registrations that miss their heartbeat stop being answered;
 * after --deregister-after they are removed (by etcd's lease, or here for SQLite).
 */
export class RestRegistry {
  /**
   * The registrations with a heartbeat TTL: the only ones the sweep has anything to do for. Sweeping all
   * of them twice a second made ~3 MB of iterator garbage a sweep at 100,000 registrations (an async function's
   * loop), 8 MB/s on an idle server, which the heap then grew by between collections.
   */
  private readonly withTtl = new Map<string, RegistrationRef>();
  private readonly expired = new Set<string>();
  /** Stored rows that no longer validate (written by an older version): not answered, reported. */
  readonly invalid = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  loaded = false;

  constructor(private readonly opts: RestRegistryOptions) {
    this.now = opts.now ?? Date.now;
  }

  private listening = false;
  /** Services whose policy came from the store: a re-list that no longer has one puts the defaults back. */
  private readonly storedPolicies = new Set<string>();

  async start(): Promise<void> {
    // Listen first: the store reports keys it refuses while it opens. start() may be retried; listen once.
    if (!this.listening) this.opts.store.onRemoteChange((event) => this.applyRemote(event));
    this.listening = true;
    const all = (await this.opts.store.open()).filter((r) => this.loadable(r));
    const now = this.now();
    for (const r of all) {
      this.keep(keyOfRegistration(r), r);
      if (isExpired(r, now)) this.expired.add(keyOfRegistration(r));
    }
    // The catalog holds the registrations from here on (the instances carry them).
    this.opts.catalog.replaceSource(
      'rest',
      all.map((r) => ({ namespace: r.namespace, service: r.service, instance: toInstance(r, now, this.opts.localCluster) })),
    );
    for (const r of all) this.syncProbe(r);
    for (const p of await this.opts.store.policies()) {
      this.storedPolicies.add(`${p.namespace}/${p.service}`);
      this.opts.catalog.setPolicy(p.namespace, p.service, p.policy);
    }
    this.timer = setInterval(() => void this.sweep(), this.opts.sweepIntervalMs ?? 500);
    this.timer.unref();
    this.loaded = true;
    this.opts.logger.info({ store: this.opts.store.kind, registrations: all.length }, 'registrations loaded');
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.opts.store.close();
  }

  get(namespace: string, service: string, id: string): Registration | undefined {
    const held = this.held(namespace, service, id);
    return held === undefined ? undefined : registrationOf(namespace, service, held);
  }

  /** The catalog's instance of a registration. */
  private held(namespace: string, service: string, id: string): RestInstance | undefined {
    const i = this.opts.catalog.get(namespace, service)?.instances.get(instanceKey('rest', id));
    return i !== undefined && isRestInstance(i) ? i : undefined;
  }

  async register(r: Registration): Promise<Registration> {
    await this.opts.store.put(r);
    this.apply(r);
    return r;
  }

  async deregister(namespace: string, service: string, id: string): Promise<boolean> {
    const key = registrationKey(namespace, service, id);
    const held = this.held(namespace, service, id) !== undefined || this.invalid.has(key);
    // Asked of the store even when nothing is held: a stored row the catalog refused is still deleted.
    const stored = await this.opts.store.delete(namespace, service, id);
    this.invalid.delete(key);
    this.remove(namespace, service, id);
    return held || stored;
  }

  /** Stores a service's policy, then puts it in force (as registrations: only what the store acknowledged). */
  async setPolicy(namespace: string, service: string, policy: TrafficPolicy): Promise<void> {
    await this.opts.store.putPolicy(namespace, service, policy);
    this.storedPolicies.add(`${namespace}/${service}`);
    this.opts.catalog.setPolicy(namespace, service, policy);
  }

  /** Back to the defaults; false when the service had no stored policy. */
  async deletePolicy(namespace: string, service: string): Promise<boolean> {
    const existed = await this.opts.store.deletePolicy(namespace, service);
    this.storedPolicies.delete(`${namespace}/${service}`);
    this.opts.catalog.setPolicy(namespace, service, undefined);
    return existed;
  }

  /** Renews a TTL; undefined when the registration is unknown. */
  async heartbeat(namespace: string, service: string, id: string): Promise<Registration | undefined> {
    const current = this.get(namespace, service, id);
    if (current === undefined) return undefined;
    const renewed: Registration = { ...current, heartbeatAt: this.now() };
    if (!(await this.opts.store.heartbeat(renewed))) return undefined;
    this.apply(renewed);
    return renewed;
  }

  private apply(r: Registration): void {
    const key = keyOfRegistration(r);
    const previous = this.get(r.namespace, r.service, r.id);
    this.keep(key, r);
    const now = this.now();
    if (isExpired(r, now)) this.expired.add(key);
    else this.expired.delete(key);
    // Our own etcd writes come back through the watch: nothing to redo.
    if (previous !== undefined && sameRegistration(previous, r)) return;
    this.opts.catalog.upsert(r.namespace, r.service, toInstance(r, now, this.opts.localCluster));
    this.syncProbe(r);
  }

  private syncProbe(r: Registration): void {
    const ref = { namespace: r.namespace, service: r.service, source: 'rest' as const, id: r.id };
    if (r.check !== undefined) this.opts.probes?.track(ref, r.check);
    else this.opts.probes?.untrack(ref);
  }

  private remove(namespace: string, service: string, id: string): void {
    const key = registrationKey(namespace, service, id);
    this.expired.delete(key);
    this.opts.probes?.untrack({ namespace, service, source: 'rest', id });
    this.withTtl.delete(key);
    this.opts.catalog.remove(namespace, service, 'rest', id);
  }

  /**
   * Whether a stored row may be answered: one that fails today's checks is
   * loaded past (logged once, kept in `invalid` for /readyz and the metric),
   * so one bad row never keeps the others from loading.
   */
  private loadable(r: Registration): boolean {
    const problem = registrationProblem(r, this.opts.zoneKeys);
    const key = keyOfRegistration(r);
    if (problem === undefined) {
      this.invalid.delete(key);
      return true;
    }
    if (!this.invalid.has(key)) {
      this.opts.logger.error({ registration: key, problem: problem.message }, 'a stored registration no longer validates and is not answered; re-register it or delete it');
    }
    this.invalid.set(key, problem.message);
    return false;
  }

  /** Whether the store's changes are being followed (etcd: false while re-listing after a lost watch). */
  get following(): boolean {
    return this.opts.store.following;
  }

  private applyRemote(event: StoreEvent): void {
    try {
      if (event.kind === 'policy') {
        const key = `${event.namespace}/${event.service}`;
        if (event.policy === undefined) this.storedPolicies.delete(key);
        else this.storedPolicies.add(key);
        this.opts.catalog.setPolicy(event.namespace, event.service, event.policy);
        return;
      }
      if (event.kind === 'replace') {
        this.replaceAll(event.registrations, event.policies, event.invalid);
        return;
      }
      if (event.kind === 'invalid') {
        // A key now holding something that cannot be answered no longer answers what it held before.
        this.invalid.set(event.key, event.problem);
        const [namespace, service, id] = event.key.split('/');
        if (namespace && service && id) this.remove(namespace, service, id);
        return;
      }
      if (event.kind === 'put' && this.loadable(event.registration)) {
        this.apply(event.registration);
        return;
      }
      const { namespace, service, id } = event.kind === 'put' ? event.registration : event;
      if (event.kind === 'delete') this.invalid.delete(registrationKey(namespace, service, id));
      this.remove(namespace, service, id);
    } catch (err) {
      this.opts.logger.error({ err: (err as Error).message }, 'ignoring an invalid registration from the store');
    }
  }

  /** The store's whole state after a re-list: what it no longer has is removed, the rest applied (unchanged rows cost nothing). */
  private replaceAll(registrations: readonly Registration[], policies: readonly { namespace: string; service: string; policy: TrafficPolicy }[], invalid: ReadonlyMap<string, string>): void {
    this.invalid.clear();
    for (const [key, problem] of invalid) this.invalid.set(key, problem);
    const kept = registrations.filter((r) => this.loadable(r));
    const keys = new Set(kept.map(keyOfRegistration));
    // Listed first: removing changes the catalog's maps the listing walks.
    for (const r of [...this.heldRefs()]) if (!keys.has(registrationKey(r.namespace, r.service, r.id))) this.remove(r.namespace, r.service, r.id);
    for (const r of kept) this.apply(r);
    const policyKeys = new Set(policies.map((p) => `${p.namespace}/${p.service}`));
    for (const key of [...this.storedPolicies]) {
      if (policyKeys.has(key)) continue;
      const slash = key.indexOf('/');
      this.opts.catalog.setPolicy(key.slice(0, slash), key.slice(slash + 1), undefined);
      this.storedPolicies.delete(key);
    }
    for (const p of policies) {
      this.storedPolicies.add(`${p.namespace}/${p.service}`);
      this.opts.catalog.setPolicy(p.namespace, p.service, p.policy);
    }
    this.opts.logger.info({ registrations: kept.length, policies: policies.length, invalid: this.invalid.size }, 'registrations replaced by a fresh list of the store');
  }

  /** Notes whether a registration has a TTL (the catalog holds the rest). */
  private keep(key: string, r: Registration): void {
    if (r.ttlMs === undefined) this.withTtl.delete(key);
    else this.withTtl.set(key, { namespace: r.namespace, service: r.service, id: r.id });
  }

  /** Every registration the catalog holds. */
  private *heldRefs(): Generator<RegistrationRef> {
    for (const svc of this.opts.catalog.all()) {
      for (const i of svc.instances.values()) if (isRestInstance(i)) yield { namespace: svc.namespace, service: svc.name, id: i.id };
    }
  }

  /** Marks missed heartbeats unhealthy (and healed ones healthy); removes long-dead TTL registrations. */
  private async sweep(): Promise<void> {
    const now = this.now();
    // A copy of the TTL keys: removals below change the set while the loop awaits.
    for (const [key, r] of [...this.withTtl]) {
      const held = this.held(r.namespace, r.service, r.id);
      if (held === undefined || held.ttlMs === undefined) continue;
      const heartbeatAt = lastHeartbeat(held);
      const expired = heartbeatMissed(held.ttlMs, heartbeatAt, now);
      if (expired !== this.expired.has(key)) {
        if (expired) this.expired.add(key);
        else this.expired.delete(key);
        this.opts.catalog.setHealth(r.namespace, r.service, 'rest', r.id, expired ? 'unhealthy' : 'healthy');
        this.opts.logger.info({ service: `${r.namespace}/${r.service}`, id: r.id }, expired ? 'heartbeat missed: instance no longer answered' : 'heartbeat resumed');
      }
      if (this.opts.store.kind === 'sqlite' && now - heartbeatAt > removalDelayMs(held, this.opts.deregisterAfterMs)) {
        try {
          await this.opts.store.delete(r.namespace, r.service, r.id);
          this.remove(r.namespace, r.service, r.id);
          this.opts.logger.info({ service: `${r.namespace}/${r.service}`, id: r.id }, 'deregistered after missing heartbeats for --deregister-after');
        } catch (err) {
          this.opts.logger.warn({ err: (err as Error).message }, 'could not remove an expired registration; will retry');
        }
      }
    }
  }

  /** Registrations answered from (counted in the catalog: at start, for the log line). */
  size(): number {
    let n = 0;
    for (const _ of this.heldRefs()) n++;
    return n;
  }
}
