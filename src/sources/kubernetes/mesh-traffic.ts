import { CustomObjectsApi, type KubeConfig } from './kube-client.js';
import type { Logger } from 'pino';
import type { Catalog } from '../../catalog/catalog.js';
import type { LoadBalancer } from '../../catalog/policy.js';
import { customObjectSource, discoverMeshApis, MESH_APIS, type MeshApi } from './mesh-apis.js';
import {
  convertDestinationRule,
  convertGrpcRoute,
  convertHttpRoute,
  convertReferenceGrant,
  convertTrafficSplit,
  convertVirtualService,
  type SlimDestinationRule,
  type SlimReferenceGrant,
  type SlimRoute,
  type SlimSubset,
} from './mesh-objects.js';
import { inScope, mirrorInto, type Reflector, type ReflectorSpec } from './reflector.js';
import { resolveSplits } from './split-resolver.js';


export interface MeshTrafficOptions {
  kubeConfig: KubeConfig;
  catalog: Catalog;
  logger: Logger;
  /** Empty: all namespaces. */
  namespaces: readonly string[];
  clusterDomain: string;
  discoveryIntervalMs: number;
  /** Makes a reflector that reports to the Kubernetes source (not started). */
  reflector: <T>(spec: ReflectorSpec<T>) => Reflector<T>;
  /** Splits may have changed: the source resolves them again on its next flush. */
  onSplitsChanged: () => void;
  /** A DestinationRule for this Service came, changed or went: its policy must be rebuilt. */
  onRuleChanged: (serviceKey: string) => void;
  /** Followed and skipped objects by kind, after each resolution (meshdns_mesh_objects). */
  onStates?: (kind: string, state: 'followed' | 'skipped', count: number) => void;
  /** Another cluster's mesh objects: their splits are in force for that cluster's clients only. */
  cluster?: string;
}

/**
 * The mesh's traffic objects (HTTPRoute, TrafficSplit, VirtualService, DestinationRule): API discovery says
 * which are served, each served kind is watched like Services are, and the splits they make are resolved
 * and given to the catalog. DestinationRules are kept for the Kubernetes source's policies.
 */
export class MeshTraffic {
  /** Routes by API id, then `ns/name`; DestinationRules by `ns/name` and by host Service. */
  private readonly routes = new Map<string, Map<string, SlimRoute>>();
  private readonly destinationRules = new Map<string, SlimDestinationRule>();
  private readonly rulesOfHost = new Map<string, Set<string>>();
  private readonly grants = new Map<string, SlimReferenceGrant>();
  /** The apexes given a split (what each got is the catalog's splitOf). */
  private readonly applied = new Set<string>();
  /** Problems already logged (each once while it lasts). */
  private reported = new Set<string>();
  /** Reflectors of the APIs discovery found, with the version they read. */
  private readonly running = new Map<string, { version: string; reflectors: Reflector<unknown>[] }>();
  private discovered = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: MeshTrafficOptions) {}

  /** After the first discovery, once every kind found is listed. */
  get synced(): boolean {
    return this.discovered && [...this.running.values()].every((m) => m.reflectors.every((r) => r.synced));
  }

  start(): void {
    void this.discover();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const m of this.running.values()) for (const r of m.reflectors) r.stop();
  }

  /** Objects held per served API (for meshdns_kubernetes_objects). */
  counts(): [string, number][] {
    const out: [string, number][] = [];
    for (const api of MESH_APIS) {
      const count = api.kind === 'DestinationRule' ? this.destinationRules.size : api.kind === 'ReferenceGrant' ? this.grants.size : (this.routes.get(api.id)?.size ?? 0);
      if (this.running.has(api.id) || count > 0) out.push([api.id, count]);
    }
    return out;
  }

  /** The load balancer of the most specific DestinationRule for the host (its own namespace first, then oldest). */
  loadBalancerOf(serviceKey: string): LoadBalancer | undefined {
    const ns = serviceKey.slice(0, serviceKey.indexOf('/'));
    const rules = [...(this.rulesOfHost.get(serviceKey) ?? [])]
      .map((k) => this.destinationRules.get(k)!)
      .filter((r) => r.loadBalancer !== undefined)
      .sort((a, b) => Number(b.namespace === ns) - Number(a.namespace === ns) || (a.created || '~').localeCompare(b.created || '~') || `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
    return rules[0]?.loadBalancer;
  }

  /** The DestinationRule subset of a Service by name (its own namespace's rule first, then the oldest). */
  subsetOf(serviceKey: string, name: string): SlimSubset | undefined {
    const ns = serviceKey.slice(0, serviceKey.indexOf('/'));
    const rules = [...(this.rulesOfHost.get(serviceKey) ?? [])]
      .map((k) => this.destinationRules.get(k)!)
      .filter((r) => r.subsets.some((s) => s.name === name))
      .sort((a, b) => Number(b.namespace === ns) - Number(a.namespace === ns) || (a.created || '~').localeCompare(b.created || '~') || `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
    return rules[0]?.subsets.find((s) => s.name === name);
  }

  /** Whether a DestinationRule defines subsets of this Service (its endpoints' changes move subset members). */
  hasSubsets(serviceKey: string): boolean {
    for (const k of this.rulesOfHost.get(serviceKey) ?? []) if ((this.destinationRules.get(k)?.subsets.length ?? 0) > 0) return true;
    return false;
  }

  /**
   * Whether answers need the client's namespace or the Pods' labels: DestinationRule subsets are defined,
   * or a route applies to some namespaces' clients only. The source watches Pods from then on.
   */
  get needsPods(): boolean {
    for (const r of this.destinationRules.values()) if (r.subsets.length > 0) return true;
    for (const byKey of this.routes.values()) for (const r of byKey.values()) if (r.parents.some((p) => p.audience !== '*')) return true;
    return false;
  }

  /** Whether a ReferenceGrant in the Service's namespace lets this route refer to it (Gateway API, GEP-709). */
  private granted(route: SlimRoute, serviceKey: string): boolean {
    const slash = serviceKey.indexOf('/');
    const ns = serviceKey.slice(0, slash);
    const name = serviceKey.slice(slash + 1);
    for (const g of this.grants.values()) {
      if (g.namespace !== ns) continue;
      if (!g.from.some((f) => f.group === route.group && f.kind === route.kind && f.namespace === route.namespace)) continue;
      if (g.to.some((t) => t.name === undefined || t.name === name)) return true;
    }
    return false;
  }

  /**
   * Resolves every apex's split and gives the catalog what changed. `known` says which Services exist;
   * `members` gives the ids of a Service's instances whose Pods carry the labels (subsets).
   */
  applySplits(known: (serviceKey: string) => boolean, members: (serviceKey: string, labels: Readonly<Record<string, string>>) => string[]): void {
    const { catalog, logger } = this.opts;
    const { splits, problems, states } = resolveSplits([...this.routes.values()].flatMap((byKey) => [...byKey.values()]), {
      known,
      granted: (route, serviceKey) => this.granted(route, serviceKey),
      subset: (serviceKey, name) => {
        const subset = this.subsetOf(serviceKey, name);
        return subset === undefined ? undefined : { members: members(serviceKey, subset.labels), loadBalancer: subset.loadBalancer };
      },
    });
    for (const kind of ['HTTPRoute', 'GRPCRoute', 'TrafficSplit', 'VirtualService'] as const) {
      const state = states.get(kind) ?? { followed: 0, skipped: 0 };
      this.opts.onStates?.(kind, 'followed', state.followed);
      this.opts.onStates?.(kind, 'skipped', state.skipped);
    }
    for (const [apex, split] of splits) {
      this.applied.add(apex);
      if (JSON.stringify(catalog.splitOf(apex, this.opts.cluster)) === JSON.stringify(split)) continue;
      const [ns, name] = apex.split('/') as [string, string];
      catalog.setSplit(ns, name, split, this.opts.cluster);
      logger.info({ service: apex, split: split.backends.map((b) => ({ service: b.service, weight: b.weight, ...(b.subset === undefined ? {} : { subset: b.subset.name, members: b.subset.members.length }) })), rule: split.rule, from: split.origin, consumers: split.consumers?.map((c) => c.namespace) }, 'traffic split applied');
    }
    for (const apex of [...this.applied]) {
      if (splits.has(apex)) continue;
      this.applied.delete(apex);
      const [ns, name] = apex.split('/') as [string, string];
      catalog.setSplit(ns, name, undefined, this.opts.cluster);
      logger.info({ service: apex }, 'traffic split ended');
    }
    // Each problem once while it lasts: a resync must not repeat it; fixed and broken again logs again.
    const now = new Set(problems.map((p) => `${p.object}|${p.message}`));
    for (const p of problems) if (!this.reported.has(`${p.object}|${p.message}`)) logger.warn({ object: p.object, problem: p.message }, 'Kubernetes object skipped in part or whole');
    this.reported = now;
  }

  /**
   * Looks for the mesh CRDs now and then: a kind found starts its reflectors, a kind gone (CRD deleted)
   * stops them and forgets its objects, a new preferred version restarts them. A failed discovery keeps
   * what runs and tries again soon.
   */
  private async discover(): Promise<void> {
    if (this.stopped) return;
    let next = this.opts.discoveryIntervalMs;
    try {
      const served = await discoverMeshApis(this.opts.kubeConfig);
      if (this.stopped) return;
      for (const api of MESH_APIS) {
        const version = served.get(api.id);
        const running = this.running.get(api.id);
        if (running?.version === version) continue;
        if (running !== undefined) this.stopApi(api, running.reflectors);
        if (version !== undefined) this.startApi(api, version);
      }
      // The first discovery completes what the source waits for when no kind is served (nothing to list).
      if (!this.discovered) this.opts.onSplitsChanged();
      this.discovered = true;
      this.failures = 0;
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'Kubernetes API discovery failed; mesh objects stay as they are, retrying');
      // Sooner than the interval, as the reflectors retry: readiness waits for a first discovery.
      next = Math.min(next, 250 * 2 ** Math.min(this.failures++, 6));
    }
    // Resolution rides along: a REST-only backend registered since is picked up.
    this.opts.onSplitsChanged();
    this.timer = setTimeout(() => void this.discover(), next);
    this.timer.unref?.();
  }

  private startApi(api: MeshApi, version: string): void {
    const custom = this.opts.kubeConfig.makeApiClient(CustomObjectsApi);
    const domain = this.opts.clusterDomain;
    const scopes: (string | undefined)[] = this.opts.namespaces.length === 0 ? [undefined] : [...this.opts.namespaces];
    const reflectors: Reflector<unknown>[] = [];
    for (const ns of scopes) {
      const common = customObjectSource(custom, api, version, ns);
      if (api.kind === 'DestinationRule') {
        reflectors.push(
          this.opts.reflector<SlimDestinationRule>({
            ...common,
            convert: convertDestinationRule(domain),
            onReplace: (all) => {
              for (const key of [...this.destinationRules.keys()]) if (inScope(key, ns) && !all.has(key)) this.setRule(key, undefined);
              for (const [key, value] of all) this.setRule(key, value);
            },
            onUpsert: (key, value) => this.setRule(key, value),
            onDelete: (key) => this.setRule(key, undefined),
          }) as Reflector<unknown>,
        );
        continue;
      }
      if (api.kind === 'ReferenceGrant') {
        const grants = this.grants;
        reflectors.push(
          this.opts.reflector<SlimReferenceGrant>({
            ...common,
            convert: convertReferenceGrant,
            ...mirrorInto(grants, ns, () => this.opts.onSplitsChanged()),
          }) as Reflector<unknown>,
        );
        continue;
      }
      const convert =
        api.kind === 'HTTPRoute'
          ? (o: unknown) => convertHttpRoute(o, api.group)
          : api.kind === 'GRPCRoute'
            ? (o: unknown) => convertGrpcRoute(o, api.group)
            : api.kind === 'TrafficSplit'
              ? convertTrafficSplit(domain)
              : convertVirtualService(domain);
      let byKey = this.routes.get(api.id);
      if (byKey === undefined) this.routes.set(api.id, (byKey = new Map()));
      const routes = byKey;
      reflectors.push(
        this.opts.reflector<SlimRoute>({
          ...common,
          convert,
          ...mirrorInto(routes, ns, () => this.opts.onSplitsChanged()),
        }) as Reflector<unknown>,
      );
    }
    this.running.set(api.id, { version, reflectors });
    this.opts.logger.info({ kind: api.kind, apiVersion: `${api.group}/${version}` }, 'following mesh traffic objects');
    for (const r of reflectors) r.start();
  }

  private stopApi(api: MeshApi, reflectors: Reflector<unknown>[]): void {
    for (const r of reflectors) r.stop();
    this.running.delete(api.id);
    if (api.kind === 'DestinationRule') for (const key of [...this.destinationRules.keys()]) this.setRule(key, undefined);
    else if (api.kind === 'ReferenceGrant') this.grants.clear();
    else this.routes.delete(api.id);
    this.opts.onSplitsChanged();
    this.opts.logger.info({ kind: api.kind, group: api.group }, 'mesh traffic object kind no longer served; its objects are forgotten');
  }

  private setRule(key: string, rule: SlimDestinationRule | undefined): void {
    const previous = this.destinationRules.get(key);
    // Subsets are part of splits: a rule's change may change them.
    if ((previous?.subsets.length ?? 0) > 0 || (rule?.subsets.length ?? 0) > 0) this.opts.onSplitsChanged();
    if (previous?.host !== undefined) {
      this.rulesOfHost.get(previous.host)?.delete(key);
      if (this.rulesOfHost.get(previous.host)?.size === 0) this.rulesOfHost.delete(previous.host);
      this.opts.onRuleChanged(previous.host);
    }
    if (rule === undefined) {
      this.destinationRules.delete(key);
      return;
    }
    this.destinationRules.set(key, rule);
    if (rule.host === undefined) return;
    let set = this.rulesOfHost.get(rule.host);
    if (set === undefined) this.rulesOfHost.set(rule.host, (set = new Set()));
    set.add(key);
    this.opts.onRuleChanged(rule.host);
  }
}
