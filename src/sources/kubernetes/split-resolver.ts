import { serviceRef, type ConsumerSplit, type SplitBackend, type TrafficSplit } from '../../catalog/split.js';
import type { LoadBalancer } from '../../catalog/policy.js';
import type { RouteKind, SlimRoute } from './mesh-objects.js';
import { compareScores } from './plain-request.js';

/** Among objects that split one apex, the Gateway API's routes first, then SMI, then Istio. */
const KIND_RANK: Record<RouteKind, number> = { HTTPRoute: 0, GRPCRoute: 0, TrafficSplit: 1, VirtualService: 2 };

export interface SplitProblem {
  /** `Kind ns/name` of the object. */
  readonly object: string;
  readonly message: string;
}

/** What the source knows besides the routes: which Services exist, what ReferenceGrants allow, Istio subsets. */
export interface SplitContext {
  known(serviceKey: string): boolean;
  /** Whether a route may send traffic to a Service in another namespace (a ReferenceGrant there allows it). */
  granted(route: SlimRoute, serviceKey: string): boolean;
  /** An Istio subset of a Service: the ids of its instances in it now, and its own load balancer; undefined when no DestinationRule defines it. */
  subset(serviceKey: string, name: string): { members: readonly string[]; loadBalancer: LoadBalancer | undefined } | undefined;
}

export interface ResolvedSplits {
  readonly splits: Map<string, TrafficSplit>;
  readonly problems: SplitProblem[];
  /** Objects by kind: followed (in force for some Service) and skipped (in force nowhere). */
  readonly states: Map<RouteKind, { followed: number; skipped: number }>;
}

export const nameOf = (r: SlimRoute): string => `${r.kind}${r.group === 'policy.linkerd.io' ? ' (policy.linkerd.io)' : ''} ${r.namespace}/${r.name}`;

/**
 * Orders the objects that claim one apex for one set of clients, most specific first: one in the
 * clients' own namespace (a consumer route for them; for every client, the apex's own namespace) first; one
 * naming only this apex before one naming several; Gateway API routes, TrafficSplit, VirtualService; among
 * Gateway API routes the better match of a plain request (exact path, longest prefix, method); then the
 * oldest, then by namespace/name (the Gateway API's tie break).
 */
function moreSpecific(ownerNamespace: string): (a: SlimRoute, b: SlimRoute) => number {
  return (a, b) =>
    Number(b.namespace === ownerNamespace) - Number(a.namespace === ownerNamespace) ||
    Number(a.parents.length > 1) - Number(b.parents.length > 1) ||
    KIND_RANK[a.kind] - KIND_RANK[b.kind] ||
    (a.score !== undefined && b.score !== undefined ? compareScores(a.score, b.score) : 0) ||
    (a.created || '~').localeCompare(b.created || '~') ||
    `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`);
}

/** The backends of a route that can be followed: known Services, granted across namespaces, subsets resolved. */
function usableBackends(r: SlimRoute, ctx: SplitContext, problems: SplitProblem[]): SplitBackend[] {
  const out: SplitBackend[] = [];
  for (const b of r.backends) {
    if (!ctx.known(b.service)) {
      problems.push({ object: nameOf(r), message: `backend ${serviceRef(b.service)} is not a known Service; left out until it appears` });
      continue;
    }
    const ns = b.service.slice(0, b.service.indexOf('/'));
    if (ns !== r.namespace && r.kind !== 'VirtualService' && !ctx.granted(r, b.service)) {
      problems.push({ object: nameOf(r), message: `backend ${serviceRef(b.service)} is in namespace ${ns}, and no ReferenceGrant there allows ${r.kind}s of ${r.namespace} to refer to it; left out` });
      continue;
    }
    if (b.subset === undefined) {
      out.push({ service: b.service, weight: b.weight });
      continue;
    }
    const subset = ctx.subset(b.service, b.subset);
    if (subset === undefined) {
      problems.push({ object: nameOf(r), message: `subset ${b.subset} of ${serviceRef(b.service)} is defined by no DestinationRule; it gets no share` });
      continue;
    }
    out.push({ service: b.service, weight: b.weight, subset: { name: b.subset, members: subset.members, ...(subset.loadBalancer === undefined ? {} : { loadBalancer: subset.loadBalancer }) } });
  }
  return out;
}

/** The load balancer inside a split: a subset's own, when that subset takes all of the split. */
function splitLoadBalancer(r: SlimRoute, backends: readonly SplitBackend[], ctx: SplitContext): LoadBalancer | undefined {
  const taking = backends.filter((b) => b.weight > 0);
  if (taking.length !== 1 || taking[0]!.subset === undefined) return undefined;
  return ctx.subset(taking[0]!.service, taking[0]!.subset.name)?.loadBalancer;
}

/**
 * Every apex's split from the mesh objects: bad objects, backends that are not known Services, backends in
 * other namespaces without a ReferenceGrant and unknown subsets are left out (and reported); one object wins
 * per apex and set of clients (everyone, or one namespace's clients for consumer routes); splits for
 * everyone that form a loop (a → b → a) are dropped, since no order of them means anything. Splits are not
 * followed transitively: an apex answers its backends' own instances.
 */
export function resolveSplits(routes: Iterable<SlimRoute>, ctx: SplitContext): ResolvedSplits {
  const problems: SplitProblem[] = [];
  /** Claims by apex, then by audience: '*' or a client namespace. */
  const claims = new Map<string, Map<string, SlimRoute[]>>();
  const usable = new Map<SlimRoute, SplitBackend[]>();
  const all: SlimRoute[] = [];
  for (const r of routes) {
    all.push(r);
    for (const note of r.notes) problems.push({ object: nameOf(r), message: note });
    if (r.problem !== undefined) {
      problems.push({ object: nameOf(r), message: r.problem });
      continue;
    }
    const backends = usableBackends(r, ctx, problems);
    if (backends.length === 0) continue;
    if (backends.every((b) => b.weight === 0)) {
      problems.push({ object: nameOf(r), message: 'every backend has weight 0; skipped' });
      continue;
    }
    usable.set(r, backends);
    for (const parent of r.parents) {
      if (!ctx.known(parent.service)) {
        problems.push({ object: nameOf(r), message: `parent Service ${serviceRef(parent.service)} is not known; not split until it appears` });
        continue;
      }
      let byAudience = claims.get(parent.service);
      if (byAudience === undefined) claims.set(parent.service, (byAudience = new Map()));
      for (const audience of parent.audience === '*' ? ['*'] : parent.audience) {
        let list = byAudience.get(audience);
        if (list === undefined) byAudience.set(audience, (list = []));
        list.push(r);
      }
    }
  }
  const winners = new Map<string, Map<string, SlimRoute>>();
  const followed = new Set<SlimRoute>();
  for (const [apex, byAudience] of claims) {
    const chosen = new Map<string, SlimRoute>();
    for (const [audience, list] of byAudience) {
      list.sort(moreSpecific(audience === '*' ? apex.slice(0, apex.indexOf('/')) : audience));
      chosen.set(audience, list[0]!);
      const whom = audience === '*' ? '' : ` for clients in ${audience}`;
      for (const loser of list.slice(1)) problems.push({ object: nameOf(loser), message: `${serviceRef(apex)} is split${whom} by the more specific ${nameOf(list[0]!)}; this one is ignored for it` });
    }
    winners.set(apex, chosen);
  }
  // Loops among the splits for everyone: an apex that reaches itself through other apexes' backends.
  const edges = new Map<string, string[]>();
  for (const [apex, chosen] of winners) {
    const r = chosen.get('*');
    if (r !== undefined) edges.set(apex, usable.get(r)!.map((b) => b.service).filter((s) => s !== apex && winners.get(s)?.has('*') === true));
  }
  const inLoop = loops(edges);
  const splits = new Map<string, TrafficSplit>();
  for (const [apex, chosen] of winners) {
    let everyone: TrafficSplit | undefined;
    const r = chosen.get('*');
    if (r !== undefined && inLoop.has(apex)) {
      problems.push({ object: nameOf(r), message: `the splits of ${[...inLoop.get(apex)!].map(serviceRef).join(', ')} form a loop; ${serviceRef(apex)} answers its own instances` });
    } else if (r !== undefined) {
      const backends = usable.get(r)!;
      const loadBalancer = splitLoadBalancer(r, backends, ctx);
      everyone = { backends, origin: originOf(r), ...(r.rule === undefined ? {} : { rule: r.rule }), ...(loadBalancer === undefined ? {} : { loadBalancer }) };
      followed.add(r);
    }
    const consumers: ConsumerSplit[] = [];
    for (const [audience, c] of [...chosen].sort(([a], [b]) => a.localeCompare(b))) {
      if (audience === '*') continue;
      const backends = usable.get(c)!;
      const loadBalancer = splitLoadBalancer(c, backends, ctx);
      consumers.push({ namespace: audience, backends, origin: originOf(c), ...(c.rule === undefined ? {} : { rule: c.rule }), ...(loadBalancer === undefined ? {} : { loadBalancer }) });
      followed.add(c);
    }
    if (everyone === undefined && consumers.length === 0) continue;
    const base: TrafficSplit = everyone ?? { backends: [], origin: consumers[0]!.origin };
    splits.set(apex, consumers.length === 0 ? base : { ...base, consumers });
  }
  const states = new Map<RouteKind, { followed: number; skipped: number }>();
  for (const r of all) {
    const state = states.get(r.kind) ?? { followed: 0, skipped: 0 };
    if (followed.has(r)) state.followed++;
    else state.skipped++;
    states.set(r.kind, state);
  }
  return { splits, problems, states };
}

function originOf(r: SlimRoute): TrafficSplit['origin'] {
  return { kind: r.kind, group: r.group, namespace: r.namespace, name: r.name };
}

/** Nodes on a cycle of the graph, each with its strongly connected component (Tarjan). */
function loops(edges: Map<string, string[]>): Map<string, Set<string>> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out = new Map<string, Set<string>>();
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component = new Set<string>();
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.add(w);
    } while (w !== v);
    if (component.size > 1) for (const c of component) out.set(c, component);
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return out;
}
