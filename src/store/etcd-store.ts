import { noop } from 'cockatiel';
import { Etcd3, type IKeyValue, type Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { deserialize, removalDelayMs, keyOfRegistration, serialize, type Registration } from './registration.js';
import { StoreUnavailableError, type RegistrationStore, type StoredPolicy, type StoreEvent } from './store.js';
import { parsePolicy, type TrafficPolicy } from '../catalog/policy.js';
import { EtcdChannels } from './etcd-channels.js';
import { EtcdSerials, SERIAL_SEGMENT } from './etcd-serials.js';

const POLICY_SEGMENT = '_policy/';

export interface EtcdStoreOptions {
  endpoints: readonly string[];
  /** Registrations live under this prefix; several meshdns deployments can share one etcd. */
  prefix: string;
  /** TTL registrations ride on an etcd lease this long, renewed by every heartbeat on any replica. */
  deregisterAfterMs: number;
  callTimeoutMs: number;
  logger: Logger;
  /** PEM contents: the CA, and a client certificate chain with its key for --client-cert-auth. */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
  auth?: { username: string; password: string };
  /** A watch could not resume and the store is being re-listed (a metric counts these). */
  onResync?: (reason: 'compacted' | 'watch-error') => void;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err as Error);
      },
    );
  });
}

/**
 * Registrations shared by several replicas: one key per registration under
 * a prefix, watched so every replica applies every change within a moment.
 * A TTL registration is bound to a lease of --deregister-after; a heartbeat
 * to any replica renews it, so etcd itself removes registrations nobody
 * renews, and every replica sees the delete.
 */
export class EtcdStore implements RegistrationStore {
  readonly kind = 'etcd';
  private readonly client: Etcd3;
  private watcher: Watcher | undefined;
  private readonly listeners: ((event: StoreEvent) => void)[] = [];
  private readonly leases = new Map<string, string>();
  private loadedPolicies: StoredPolicy[] = [];
  private readonly channels = new EtcdChannels();
  readonly serials: EtcdSerials;

  constructor(private readonly opts: EtcdStoreOptions) {
    this.client = new Etcd3({
      hosts: [...opts.endpoints],
      grpcOptions: this.channels.options(),
      dialTimeout: opts.callTimeoutMs,
      ...(opts.tls === undefined ? {} : { credentials: { rootCertificate: opts.tls.ca, certChain: opts.tls.cert, privateKey: opts.tls.key } }),
      ...(opts.auth === undefined ? {} : { auth: { username: opts.auth.username, password: opts.auth.password } }),
      // No retries or circuit breaker inside the client: a failed write is a 503 now, and the
      // next request tries again at once (gRPC reconnects underneath).
      faultHandling: { host: () => noop, global: noop },
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + opts.callTimeoutMs }),
    });
    this.serials = new EtcdSerials(this.client, opts.prefix, opts.logger);
  }

  private keyOf(namespace: string, service: string, id: string): string {
    return `${this.opts.prefix}${namespace}/${service}/${id}`;
  }

  /** False from a watch that cannot resume until a re-list has replaced the state and a new watch runs. */
  following = false;
  private stopped = false;
  private resyncTimer: NodeJS.Timeout | undefined;

  async open(): Promise<Registration[]> {
    const listed = await this.listAndWatch();
    this.loadedPolicies = listed.policies;
    // Keys refused at load are reported like those refused later (the registry listens before it opens).
    for (const [key, problem] of listed.invalid) this.emit({ kind: 'invalid', key, problem });
    return listed.registrations;
  }

  /**
   * Lists everything under the prefix at one revision, then watches from just after it: nothing written in
   * between is missed. Used at open and after a watch is lost for good.
   */
  private async listAndWatch(): Promise<{ registrations: Registration[]; policies: StoredPolicy[]; invalid: Map<string, string> }> {
    let kvs: IKeyValue[];
    let revision: string;
    try {
      const listed = await withTimeout(this.client.getAll().prefix(this.opts.prefix).exec(), this.opts.callTimeoutMs * 2, 'etcd list');
      kvs = listed.kvs;
      revision = listed.header.revision;
    } catch (err) {
      throw new Error(`cannot read registrations from etcd at ${this.opts.endpoints.join(', ')}: ${(err as Error).message}`);
    }
    const registrations: Registration[] = [];
    const policies: StoredPolicy[] = [];
    const invalid = new Map<string, string>();
    for (const kv of kvs) {
      if (this.serials.seen(kv)) continue;
      const policy = this.parsePolicyKv(kv);
      if (policy !== null) {
        if (policy?.policy !== undefined) policies.push(policy as StoredPolicy);
        continue;
      }
      const r = this.parse(kv, (key, problem) => invalid.set(key, problem));
      if (r !== undefined) registrations.push(r);
    }
    const watcher = await this.client
      .watch()
      .prefix(this.opts.prefix)
      .startRevision(String(BigInt(revision) + 1n))
      .create();
    this.watcher = watcher;
    watcher.on('put', (kv) => {
      if (this.serials.seen(kv)) return;
      const policy = this.parsePolicyKv(kv);
      if (policy !== null) {
        if (policy !== undefined) this.emit({ kind: 'policy', ...policy });
        return;
      }
      const r = this.parse(kv, (key, problem) => this.emit({ kind: 'invalid', key, problem }));
      if (r !== undefined) this.emit({ kind: 'put', registration: r });
    });
    watcher.on('delete', (kv) => {
      const key = kv.key.toString().slice(this.opts.prefix.length);
      // A zone serial is never deleted by meshdns; one deleted by hand is simply raised again by the next stamp.
      if (key.startsWith(SERIAL_SEGMENT)) return;
      if (key.startsWith(POLICY_SEGMENT)) {
        const [namespace = '', service = ''] = key.slice(POLICY_SEGMENT.length).split('/');
        this.emit({ kind: 'policy', namespace, service, policy: undefined });
        return;
      }
      this.leases.delete(key);
      const [namespace, service, id] = key.split('/');
      // The key is the identity: its delete removes what it held, whatever its body said.
      if (namespace && service && id) this.emit({ kind: 'delete', namespace, service, id });
    });
    watcher.on('disconnected', () => this.opts.logger.warn({ endpoints: this.opts.endpoints }, 'etcd watch lost; DNS keeps answering from memory while it reconnects'));
    watcher.on('connected', () => this.opts.logger.info('etcd watch connected'));
    // The client resumes a dropped watch from its last revision by itself; an error means it will not (the
    // revision was compacted away, or etcd cancelled the watch): start over from a fresh list.
    watcher.on('error', (err: Error) => {
      if (watcher !== this.watcher) return;
      this.watchLost(err);
    });
    this.following = true;
    return { registrations, policies, invalid };
  }

  /**
   * A watch that cannot resume (ErrCompacted, a cancelled watch): stop trusting it, re-list at the current
   * revision, replace the local state with what was listed, and watch from there, as Kubernetes' reflectors
   * and etcd's own clients do. Until then the replica says it is not following (readiness, a metric).
   */
  private watchLost(err: Error): void {
    const compacted = /compact/i.test(err.message);
    this.following = false;
    this.opts.onResync?.(compacted ? 'compacted' : 'watch-error');
    this.opts.logger.warn({ err: err.message, reason: compacted ? 'compacted' : 'watch-error' }, 'etcd watch cannot resume; re-listing the registrations and watching again from the current revision');
    const old = this.watcher;
    this.watcher = undefined;
    void old?.cancel().catch(() => undefined);
    this.resync(500);
  }

  private resync(delayMs: number): void {
    if (this.stopped) return;
    this.resyncTimer = setTimeout(() => {
      this.listAndWatch().then(
        (listed) => {
          this.loadedPolicies = listed.policies;
          this.emit({ kind: 'replace', registrations: listed.registrations, policies: listed.policies, invalid: listed.invalid });
          this.opts.logger.info({ registrations: listed.registrations.length, policies: listed.policies.length }, 'etcd re-listed: following the store again');
        },
        (err: unknown) => {
          this.opts.logger.warn({ err: (err as Error).message, retryInMs: Math.min(delayMs * 2, 10_000) }, 'etcd re-list failed; retrying');
          this.resync(Math.min(delayMs * 2, 10_000));
        },
      );
    }, delayMs);
    this.resyncTimer.unref();
  }

  /**
   * A policy key (`<prefix>_policy/<ns>/<svc>`: `_policy` cannot be a namespace, so it never meets a
   * registration's `<ns>/<svc>/<id>`): the policy, undefined when unreadable, null when not a policy key.
   */
  private parsePolicyKv(kv: IKeyValue): { namespace: string; service: string; policy: TrafficPolicy } | undefined | null {
    const key = kv.key.toString().slice(this.opts.prefix.length);
    if (!key.startsWith(POLICY_SEGMENT)) return null;
    const [namespace = '', service = ''] = key.slice(POLICY_SEGMENT.length).split('/');
    try {
      return { namespace, service, policy: parsePolicy(namespace, service, kv.value.toString()) };
    } catch (err) {
      this.opts.logger.error({ key: kv.key.toString(), err: (err as Error).message }, 'skipping an unreadable policy in etcd');
      return undefined;
    }
  }

  async policies(): Promise<StoredPolicy[]> {
    return this.loadedPolicies;
  }

  async putPolicy(namespace: string, service: string, policy: TrafficPolicy): Promise<void> {
    await this.guard(() => this.client.kv.put({ key: Buffer.from(`${this.opts.prefix}${POLICY_SEGMENT}${namespace}/${service}`), value: Buffer.from(JSON.stringify(policy)) }));
  }

  async deletePolicy(namespace: string, service: string): Promise<boolean> {
    return this.guard(async () => Number((await this.client.kv.deleteRange({ key: Buffer.from(`${this.opts.prefix}${POLICY_SEGMENT}${namespace}/${service}`) })).deleted) > 0);
  }

  /**
   * A registration key's value. The key is the identity (`<prefix><ns>/<svc>/<id>`): a body that names
   * another namespace, service or id is refused (reported, not answered), so a delete of the key always
   * removes what it held, on every replica.
   */
  private parse(kv: IKeyValue, onInvalid: (key: string, problem: string) => void): Registration | undefined {
    const key = kv.key.toString().slice(this.opts.prefix.length);
    try {
      const r = deserialize(kv.value.toString());
      if (keyOfRegistration(r) !== key) {
        throw new Error(`the body names ${r.namespace}/${r.service}/${r.id} but the key is ${key}; the key is the identity`);
      }
      if (kv.lease && kv.lease !== '0') this.leases.set(keyOfRegistration(r), kv.lease);
      return r;
    } catch (err) {
      this.opts.logger.error({ key: kv.key.toString(), err: (err as Error).message }, 'skipping an unreadable registration in etcd');
      onInvalid(key, (err as Error).message);
      return undefined;
    }
  }

  private emit(event: StoreEvent): void {
    for (const l of this.listeners) l(event);
  }

  async put(r: Registration): Promise<void> {
    await this.guard(async () => {
      const key = this.keyOf(r.namespace, r.service, r.id);
      let lease: string | undefined;
      if (r.ttlMs !== undefined) {
        const granted = await this.client.leaseClient.leaseGrant({ TTL: Math.ceil(removalDelayMs(r, this.opts.deregisterAfterMs) / 1000), ID: 0 });
        lease = granted.ID;
      }
      await this.client.kv.put({ key: Buffer.from(key), value: Buffer.from(serialize(r)), lease: lease ?? 0 });
      if (lease !== undefined) this.leases.set(keyOfRegistration(r), lease);
      else this.leases.delete(keyOfRegistration(r));
    });
  }

  async delete(namespace: string, service: string, id: string): Promise<boolean> {
    return this.guard(async () => {
      const res = await this.client.kv.deleteRange({ key: Buffer.from(this.keyOf(namespace, service, id)) });
      return Number(res.deleted) > 0;
    });
  }

  async heartbeat(r: Registration): Promise<boolean> {
    return this.guard(async () => {
      const key = keyOfRegistration(r);
      const lease = this.leases.get(key);
      if (lease === undefined || !(await this.renew(lease))) {
        // No lease, or it lapsed: rewrite under a fresh one.
        await this.put(r);
        return true;
      }
      await this.client.kv.put({ key: Buffer.from(this.keyOf(r.namespace, r.service, r.id)), value: Buffer.from(serialize(r)), lease });
      return true;
    });
  }

  /** One keep-alive round trip on a lease by ID (whichever replica granted it). */
  private async renew(lease: string): Promise<boolean> {
    const stream = await this.client.leaseClient.leaseKeepAlive();
    try {
      const res = await withTimeout(
        new Promise<{ TTL: string }>((resolve, reject) => {
          stream.on('data', resolve);
          stream.on('error', reject);
          stream.write({ ID: lease });
        }),
        this.opts.callTimeoutMs,
        'etcd lease keep-alive',
      );
      return Number(res.TTL) > 0;
    } finally {
      stream.end();
    }
  }

  onRemoteChange(listener: (event: StoreEvent) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.serials.stop();
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    await this.watcher?.cancel().catch(() => undefined);
    this.client.close();
    this.channels.close();
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await withTimeout(fn(), this.opts.callTimeoutMs * 2, 'etcd request');
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      throw new StoreUnavailableError(`etcd is unreachable (${(err as Error).message}); writes resume when it is back`);
    }
  }
}
