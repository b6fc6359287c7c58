import { serviceRef, type TrafficSplit } from '../../catalog/split.js';
import type { RouteKind, SlimRoute } from './mesh-objects.js';

/** Among objects that split one apex, the Gateway API's HTTPRoute first, then SMI, then Istio. */
const KIND_RANK: Record<RouteKind, number> = { HTTPRoute: 0, TrafficSplit: 1, VirtualService: 2 };

export interface SplitProblem {
  /** `Kind ns/name` of the object. */
  readonly object: string;
  readonly message: string;
}

export interface ResolvedSplits {
  readonly splits: Map<string, TrafficSplit>;
  readonly problems: SplitProblem[];
}

const nameOf = (r: SlimRoute): string => `${r.kind}${r.group === 'policy.linkerd.io' ? ' (policy.linkerd.io)' : ''} ${r.namespace}/${r.name}`;

/**
 * Orders the objects that claim one apex, most specific first: one in the apex's own namespace (the
 * producer's) before one elsewhere; one naming only this apex before one naming several; HTTPRoute,
 * TrafficSplit, VirtualService; then the oldest, then by namespace/name (the Gateway API's tie break).
 */
function moreSpecific(apex: string): (a: SlimRoute, b: SlimRoute) => number {
  const ns = apex.slice(0, apex.indexOf('/'));
  return (a, b) =>
    Number(b.namespace === ns) - Number(a.namespace === ns) ||
    Number(a.apexes.length > 1) - Number(b.apexes.length > 1) ||
    KIND_RANK[a.kind] - KIND_RANK[b.kind] ||
    (a.created || '~').localeCompare(b.created || '~') ||
    `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`);
}

/**
 * Every apex's split from the mesh objects: bad objects and backends that are not known Services are left
 * out (and reported), one object wins per apex, and splits that form a loop (a → b → a) are dropped, since
 * no order of them means anything. Splits are not followed transitively: an apex answers its backends'
 * own instances.
 */
export function resolveSplits(routes: Iterable<SlimRoute>, known: (serviceKey: string) => boolean): ResolvedSplits {
  const problems: SplitProblem[] = [];
  const claims = new Map<string, SlimRoute[]>();
  const usable = new Map<SlimRoute, { service: string; weight: number }[]>();
  for (const r of routes) {
    if (r.problem !== undefined) {
      problems.push({ object: nameOf(r), message: r.problem });
      continue;
    }
    const backends = r.backends.filter((b) => {
      if (known(b.service)) return true;
      problems.push({ object: nameOf(r), message: `backend ${serviceRef(b.service)} is not a known Service; left out until it appears` });
      return false;
    });
    if (backends.length === 0) continue;
    if (backends.every((b) => b.weight === 0)) {
      problems.push({ object: nameOf(r), message: 'every backend has weight 0; skipped' });
      continue;
    }
    usable.set(r, backends);
    for (const apex of r.apexes) {
      if (!known(apex)) {
        problems.push({ object: nameOf(r), message: `parent Service ${serviceRef(apex)} is not known; not split until it appears` });
        continue;
      }
      let list = claims.get(apex);
      if (list === undefined) claims.set(apex, (list = []));
      list.push(r);
    }
  }
  const winners = new Map<string, SlimRoute>();
  for (const [apex, list] of claims) {
    list.sort(moreSpecific(apex));
    winners.set(apex, list[0]!);
    for (const loser of list.slice(1)) problems.push({ object: nameOf(loser), message: `${serviceRef(apex)} is split by the more specific ${nameOf(list[0]!)}; this one is ignored for it` });
  }
  // Loops: an apex that reaches itself through other apexes' backends.
  const edges = new Map<string, string[]>();
  for (const [apex, r] of winners) edges.set(apex, usable.get(r)!.map((b) => b.service).filter((s) => s !== apex && winners.has(s)));
  const inLoop = loops(edges);
  const splits = new Map<string, TrafficSplit>();
  for (const [apex, r] of winners) {
    if (inLoop.has(apex)) {
      problems.push({ object: nameOf(r), message: `the splits of ${[...inLoop.get(apex)!].map(serviceRef).join(', ')} form a loop; ${serviceRef(apex)} answers its own instances` });
      continue;
    }
    splits.set(apex, { backends: usable.get(r)!, origin: { kind: r.kind, group: r.group, namespace: r.namespace, name: r.name } });
  }
  return { splits, problems };
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
