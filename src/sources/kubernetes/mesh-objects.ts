import type { LoadBalancer } from '../../catalog/policy.js';
import { isDnsLabel } from '../../catalog/validate.js';
import { chooseGatewayRule, chooseIstioRoute, istioL4Matches, scoreGrpcMatch, scoreHttpMatch, type MatchScore } from './plain-request.js';

/**
 * The mesh's traffic objects, converted at the boundary into what a split or a policy needs (never kept
 * whole): HTTPRoute (Gateway API, GAMMA), SMI TrafficSplit, Istio VirtualService and DestinationRule.
 * A malformed object converts to a record with a `problem`, so the source can log it once by name and skip
 * it while everything else keeps working.
 */

export type RouteKind = 'HTTPRoute' | 'GRPCRoute' | 'TrafficSplit' | 'VirtualService';

export interface SlimBackend {
  /** Catalog key `ns/name` of the backend Service. */
  readonly service: string;
  readonly weight: number;
  /** An Istio subset of that Service (DestinationRule), by name. */
  readonly subset?: string;
}

/**
 * A Service a route splits, and whose clients it applies to: `*` (every client: a producer route, in the
 * Service's own namespace) or the namespaces named (GAMMA consumer routes, Istio objects exported to some).
 */
export interface SlimParent {
  readonly service: string;
  readonly audience: '*' | readonly string[];
}

export interface SlimRoute {
  readonly kind: RouteKind;
  /** The API group (HTTPRoute comes from the Gateway API's and from Linkerd's). */
  readonly group: string;
  readonly namespace: string;
  readonly name: string;
  /** creationTimestamp (RFC 3339), for the oldest-wins tie break; '' when absent. */
  readonly created: string;
  readonly parents: readonly SlimParent[];
  readonly backends: readonly SlimBackend[];
  /** The part in force: `rules[1]`, `http[0]`, `tcp[0]`. */
  readonly rule?: string;
  /** Gateway API precedence of that rule for a plain request (routes of one parent are merged by it). */
  readonly score?: MatchScore;
  /** Parts not followed, each with why (logged once, the rest of the object used). */
  readonly notes: readonly string[];
  /** Set when the object cannot be used: why (logged once, the object skipped). */
  readonly problem?: string;
}

export interface SlimSubset {
  readonly name: string;
  /** Pod labels the subset selects (all must match). */
  readonly labels: Readonly<Record<string, string>>;
  readonly loadBalancer: LoadBalancer | undefined;
}

export interface SlimDestinationRule {
  readonly namespace: string;
  readonly name: string;
  readonly created: string;
  /** Catalog key of the host Service; undefined for hosts that are not Services of this cluster. */
  readonly host: string | undefined;
  readonly loadBalancer: LoadBalancer | undefined;
  readonly subsets: readonly SlimSubset[];
}

/** A Gateway API ReferenceGrant: who (kind in a namespace) may refer to which Services of its namespace. */
export interface SlimReferenceGrant {
  readonly namespace: string;
  readonly from: readonly { readonly group: string; readonly kind: string; readonly namespace: string }[];
  /** Services that may be referred to: a name, or every Service (undefined). */
  readonly to: readonly { readonly name: string | undefined }[];
}

interface Meta {
  name?: string;
  namespace?: string;
  creationTimestamp?: string | Date;
}
type Converted<T> = { key: string; value: T | undefined } | undefined;


/** What the object holds at a list field, as a list of records (API objects are user input: anything may be there). */
function list<T>(value: readonly T[] | undefined): Partial<T>[] {
  return Array.isArray(value) ? (value as unknown[]).filter((v): v is Partial<T> => typeof v === 'object' && v !== null) : [];
}

/** The same for lists of strings (hosts, gateways). */
function strings(value: readonly unknown[] | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** An object's identity for a converter: its metadata and `ns/name` key; undefined without them. */
function identify(object: unknown): { at: { namespace: string; name: string; created: string }; key: string } | undefined {
  const at = meta(object);
  return at === undefined ? undefined : { at, key: `${at.namespace}/${at.name}` };
}

function meta(o: unknown): { namespace: string; name: string; created: string } | undefined {
  const m = (o as { metadata?: Meta } | null)?.metadata;
  if (typeof m?.name !== 'string' || typeof m.namespace !== 'string' || m.name === '' || m.namespace === '') return undefined;
  const c = m.creationTimestamp;
  return { namespace: m.namespace, name: m.name, created: c instanceof Date ? c.toISOString() : typeof c === 'string' ? c : '' };
}

/**
 * A host name as Istio and SMI write it, relative to the object's namespace: `web`, `web.shop`,
 * `web.shop.svc` or `web.shop.svc.<cluster domain>` → `shop/web`. Anything else (external hosts,
 * wildcards) is not a Service of this cluster: undefined.
 */
export function serviceOfHost(host: string, namespace: string, clusterDomain: string): string | undefined {
  const name = host.toLowerCase().replace(/\.$/, '');
  const labels = name.split('.');
  if (!labels.every(isDnsLabel)) return undefined;
  if (labels.length === 1) return `${namespace}/${labels[0]}`;
  const rest = labels.slice(2).join('.');
  if (rest === '' || rest === 'svc' || rest === `svc.${clusterDomain}`) return `${labels[1]}/${labels[0]}`;
  return undefined;
}

/** A split weight: a whole number ≥ 0 (SMI v1alpha1 wrote quantities like "500m"; those are read too). */
export function weightOf(value: unknown, fallback: number): number | undefined {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= 1_000_000 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+)(m)?$/.exec(value.trim());
  if (!m) return undefined;
  const n = m[2] ? Number(m[1]) / 1000 : Number(m[1]);
  return n <= 1_000_000 ? n : undefined;
}

const GROUPS: Record<RouteKind, string> = {
  HTTPRoute: 'gateway.networking.k8s.io',
  GRPCRoute: 'gateway.networking.k8s.io',
  TrafficSplit: 'split.smi-spec.io',
  VirtualService: 'networking.istio.io',
};

function bad(kind: RouteKind, at: { namespace: string; name: string; created: string }, problem: string, group = GROUPS[kind], notes: readonly string[] = []): SlimRoute {
  return { kind, group, ...at, parents: [], backends: [], notes, problem };
}

/** The clients a route or split applies to: every client when it sits with its Service, else its own namespace's. */
function audienceOf(routeNamespace: string, service: string): '*' | readonly string[] {
  return service.slice(0, service.indexOf('/')) === routeNamespace ? '*' : [routeNamespace];
}

interface GatewayRouteJson {
  spec?: {
    parentRefs?: { group?: string; kind?: string; name?: string; namespace?: string; port?: number }[];
    rules?: { matches?: unknown[] | null; backendRefs?: { group?: string; kind?: string; name?: string; namespace?: string; weight?: unknown }[] }[];
  };
}

const CORE_GROUPS = new Set(['', 'core']);

/**
 * An HTTPRoute or GRPCRoute whose parentRefs name Services (GAMMA): the backendRefs of the rule a plain
 * request takes, by the Gateway API's precedence. A parent whose `group` is missing is a Gateway (the
 * API's default group): not ours, and said so when its kind says Service. A route in another namespace
 * than its Service is a consumer route: it applies to its own namespace's clients only. Routes of
 * Gateways only: not ours. `group`: the Gateway API's, or Linkerd's policy.linkerd.io (same schema).
 */
export function convertGatewayRoute(kind: 'HTTPRoute' | 'GRPCRoute', object: unknown, group = GROUPS[kind]): Converted<SlimRoute> {
  const id = identify(object);
  if (id === undefined) return undefined;
  const { at, key } = id;
  const spec = (object as GatewayRouteJson).spec;
  const notes: string[] = [];
  const parents: SlimParent[] = [];
  for (const [i, p] of list(spec?.parentRefs).entries()) {
    if (p.kind !== 'Service') continue;
    if (p.group === undefined) {
      notes.push(`parentRefs[${i}] names kind Service without group "" (core): the Gateway API reads a missing group as gateway.networking.k8s.io, so this parent is not a Service`);
      continue;
    }
    if (!CORE_GROUPS.has(p.group) || typeof p.name !== 'string' || !isDnsLabel(p.name) || (p.namespace !== undefined && !isDnsLabel(p.namespace))) continue;
    const service = `${p.namespace ?? at.namespace}/${p.name}`;
    if (!parents.some((x) => x.service === service)) parents.push({ service, audience: audienceOf(at.namespace, service) });
  }
  if (parents.length === 0) return { key, value: notes.length > 0 ? bad(kind, at, notes.join('; '), group) : undefined };
  const rules = list(spec?.rules);
  const choice = chooseGatewayRule(rules as { matches?: unknown[] | null }[], (kind === 'GRPCRoute' ? scoreGrpcMatch : scoreHttpMatch) as (m: never) => MatchScore | string);
  notes.push(...choice.passedOver);
  if (choice.chosen === undefined) {
    return { key, value: bad(kind, at, `no rule matches a request without headers or query parameters${kind === 'HTTPRoute' ? ' for path /' : ' for any method'} (${choice.passedOver.join('; ') || 'no rules'}); not split`, group, notes) };
  }
  const index = choice.chosen.index;
  const refs = list((rules[index] as { backendRefs?: unknown[] }).backendRefs as { group?: string; kind?: string; name?: string; namespace?: string; weight?: unknown }[]);
  if (refs.length === 0) return { key, value: bad(kind, at, `rules[${index}] (the rule a plain request takes) has no backendRefs`, group, notes) };
  const backends: SlimBackend[] = [];
  for (const [i, ref] of refs.entries()) {
    if (!CORE_GROUPS.has(ref.group ?? '') || (ref.kind ?? 'Service') !== 'Service' || typeof ref.name !== 'string' || !isDnsLabel(ref.name) || (ref.namespace !== undefined && !isDnsLabel(ref.namespace))) {
      return { key, value: bad(kind, at, `rules[${index}].backendRefs[${i}] is not a Service by name`, group, notes) };
    }
    const weight = weightOf(ref.weight, 1);
    if (weight === undefined) return { key, value: bad(kind, at, `rules[${index}].backendRefs[${i}].weight ${JSON.stringify(ref.weight)} is not a whole number ≥ 0`, group, notes) };
    backends.push({ service: `${ref.namespace ?? at.namespace}/${ref.name}`, weight });
  }
  return { key, value: { kind, group, ...at, parents, backends, rule: `rules[${index}]`, score: choice.chosen.score, notes } };
}

/** An HTTPRoute (Gateway API or Linkerd's policy.linkerd.io). */
export function convertHttpRoute(object: unknown, group = GROUPS.HTTPRoute): Converted<SlimRoute> {
  return convertGatewayRoute('HTTPRoute', object, group);
}

/** A GRPCRoute (GAMMA supports Service parents for it too). */
export function convertGrpcRoute(object: unknown, group = GROUPS.GRPCRoute): Converted<SlimRoute> {
  return convertGatewayRoute('GRPCRoute', object, group);
}

interface TrafficSplitJson {
  spec?: { service?: string; backends?: { service?: string; weight?: unknown }[] };
}

/** An SMI TrafficSplit: spec.service is the apex, spec.backends the split; outside the apex's namespace it is a consumer's. */
export function convertTrafficSplit(clusterDomain: string): (object: unknown) => Converted<SlimRoute> {
  return (object) => {
    const id = identify(object);
    if (id === undefined) return undefined;
    const { at, key } = id;
    const spec = (object as TrafficSplitJson).spec;
    const apex = typeof spec?.service === 'string' ? serviceOfHost(spec.service, at.namespace, clusterDomain) : undefined;
    if (apex === undefined) return { key, value: bad('TrafficSplit', at, `spec.service ${JSON.stringify(spec?.service)} is not a Service name`) };
    const given = list(spec?.backends);
    if (given.length === 0) return { key, value: bad('TrafficSplit', at, 'spec.backends is empty') };
    const backends: SlimBackend[] = [];
    for (const [i, b] of given.entries()) {
      const service = typeof b.service === 'string' ? serviceOfHost(b.service, at.namespace, clusterDomain) : undefined;
      if (service === undefined) return { key, value: bad('TrafficSplit', at, `spec.backends[${i}].service ${JSON.stringify(b.service)} is not a Service name`) };
      const weight = b.weight === undefined ? undefined : weightOf(b.weight, 0);
      if (weight === undefined) return { key, value: bad('TrafficSplit', at, `spec.backends[${i}].weight ${JSON.stringify(b.weight)} is not a whole number ≥ 0`) };
      backends.push({ service, weight });
    }
    return { key, value: { kind: 'TrafficSplit', group: GROUPS.TrafficSplit, ...at, parents: [{ service: apex, audience: audienceOf(at.namespace, apex) }], backends, notes: [] } };
  };
}

interface IstioDestination {
  destination?: { host?: unknown; subset?: unknown } | null;
  weight?: unknown;
}

interface VirtualServiceJson {
  spec?: {
    hosts?: unknown[];
    gateways?: unknown[];
    exportTo?: unknown[];
    http?: { match?: unknown[] | null; route?: IstioDestination[] | null; delegate?: unknown; redirect?: unknown; directResponse?: unknown }[];
    tls?: { match?: unknown[] | null; route?: IstioDestination[] | null }[];
    tcp?: { match?: unknown[] | null; route?: IstioDestination[] | null }[];
  };
}

/**
 * Whose clients an Istio object reaches (exportTo: `*` or absent = everyone, `.` = its own namespace, else
 * the namespaces named). One in another namespace than its host is narrowed to its own namespace's clients
 * (a consumer's object): no namespace redirects another's Service for everyone.
 */
function istioAudience(vsNamespace: string, service: string, exportTo: readonly string[]): '*' | readonly string[] | undefined {
  const exported = exportTo.length === 0 || exportTo.includes('*') ? '*' : [...new Set(exportTo.map((n) => (n === '.' ? vsNamespace : n)))];
  const own = service.slice(0, service.indexOf('/')) === vsNamespace;
  if (own) return exported;
  if (exported === '*' || exported.includes(vsNamespace)) return [vsNamespace];
  return undefined;
}

/**
 * An Istio VirtualService for mesh traffic (no gateways, or "mesh" among them): its hosts that are Services
 * are apexes of the destinations of the first http route a plain request matches (Istio's first-match
 * order); without http routes, its first tls, else tcp, route (weighted destinations are L4 weights, which
 * is what a DNS answer is). A lone destination without a weight takes everything (Istio's rule); among
 * several, a missing weight is 0 unless all are missing (then equal shares). Subsets are kept by name.
 */
export function convertVirtualService(clusterDomain: string): (object: unknown) => Converted<SlimRoute> {
  return (object) => {
    const id = identify(object);
    if (id === undefined) return undefined;
    const { at, key } = id;
    const spec = (object as VirtualServiceJson).spec;
    const gateways = strings(spec?.gateways);
    if (gateways.length > 0 && !gateways.includes('mesh')) return { key, value: undefined };
    const exportTo = strings(spec?.exportTo);
    const parents: SlimParent[] = [];
    const notes: string[] = [];
    for (const h of strings(spec?.hosts)) {
      const service = serviceOfHost(h, at.namespace, clusterDomain);
      if (service === undefined || parents.some((p) => p.service === service)) continue;
      const audience = istioAudience(at.namespace, service, exportTo);
      if (audience === undefined) notes.push(`host ${h} is in another namespace and exportTo ${JSON.stringify(exportTo)} does not include this one: not applied`);
      else parents.push({ service, audience });
    }
    if (parents.length === 0) return { key, value: notes.length > 0 ? bad('VirtualService', at, notes.join('; '), GROUPS.VirtualService) : undefined };
    const http = list(spec?.http);
    let field: string;
    let chosen: IstioDestination[] | undefined;
    if (http.length > 0) {
      for (const [i, route] of http.entries()) {
        if (route.delegate !== undefined && route.delegate !== null) notes.push(`http[${i}] delegates to another VirtualService, which meshdns does not follow`);
      }
      const choice = chooseIstioRoute(http, 'http');
      notes.push(...choice.passedOver);
      if (choice.chosen === undefined) return { key, value: bad('VirtualService', at, `no http route matches a request without headers or query parameters for path / (${choice.passedOver.join('; ')}); not split`, GROUPS.VirtualService, notes) };
      field = `http[${choice.chosen.index}]`;
      const route = choice.chosen.rule;
      if (route.delegate !== undefined && route.delegate !== null) return { key, value: bad('VirtualService', at, `${field}, the route a plain request takes, delegates; not split`, GROUPS.VirtualService, notes) };
      if (route.redirect !== undefined || route.directResponse !== undefined) return { key, value: bad('VirtualService', at, `${field} answers with a redirect or a direct response, not a destination; not split`, GROUPS.VirtualService, notes) };
      chosen = list(route.route ?? undefined);
    } else {
      const l4 = list(spec?.tls).length > 0 ? { name: 'tls', routes: list(spec?.tls) } : { name: 'tcp', routes: list(spec?.tcp) };
      const choice = chooseIstioRoute(l4.routes, l4.name, istioL4Matches as (m: never) => true | string);
      notes.push(...choice.passedOver);
      if (choice.chosen === undefined) return { key, value: bad('VirtualService', at, l4.routes.length === 0 ? 'it has no http, tls or tcp routes' : `no ${l4.name} route applies to every client; not split`, GROUPS.VirtualService, notes) };
      field = `${l4.name}[${choice.chosen.index}]`;
      chosen = list(choice.chosen.rule.route ?? undefined);
    }
    if (chosen.length === 0) return { key, value: bad('VirtualService', at, `${field} has no destinations`, GROUPS.VirtualService, notes) };
    const allMissing = chosen.every((r) => r.weight === undefined || r.weight === null);
    const backends: SlimBackend[] = [];
    for (const [i, r] of chosen.entries()) {
      const host = r.destination?.host;
      const service = typeof host === 'string' ? serviceOfHost(host, at.namespace, clusterDomain) : undefined;
      if (service === undefined) return { key, value: bad('VirtualService', at, `${field}.route[${i}].destination.host ${JSON.stringify(host)} is not a Service of this cluster`, GROUPS.VirtualService, notes) };
      const weight = weightOf(r.weight, allMissing ? 1 : 0);
      if (weight === undefined) return { key, value: bad('VirtualService', at, `${field}.route[${i}].weight ${JSON.stringify(r.weight)} is not a whole number ≥ 0`, GROUPS.VirtualService, notes) };
      const subset = typeof r.destination?.subset === 'string' && r.destination.subset !== '' ? r.destination.subset : undefined;
      const same = backends.find((b) => b.service === service && b.subset === subset);
      if (same !== undefined) (same as { weight: number }).weight += weight;
      else backends.push(subset === undefined ? { service, weight } : { service, weight, subset });
    }
    return { key, value: { kind: 'VirtualService', group: GROUPS.VirtualService, ...at, parents, backends, rule: field, notes } };
  };
}

interface DestinationRuleJson {
  spec?: {
    host?: string;
    trafficPolicy?: { loadBalancer?: { simple?: string } };
    subsets?: { name?: unknown; labels?: Record<string, unknown> | null; trafficPolicy?: { loadBalancer?: { simple?: unknown } } | null }[];
  };
}

const SIMPLE: Record<string, LoadBalancer> = { ROUND_ROBIN: 'round-robin', RANDOM: 'random', LEAST_REQUEST: 'weighted', LEAST_CONN: 'weighted', PASSTHROUGH: 'weighted', UNSPECIFIED: 'weighted' };

function loadBalancerOf(value: unknown): LoadBalancer | undefined {
  const simple: unknown = (value as { loadBalancer?: { simple?: unknown } } | null | undefined)?.loadBalancer?.simple;
  return typeof simple !== 'string' ? undefined : Object.hasOwn(SIMPLE, simple) ? SIMPLE[simple] : 'weighted';
}

/** An Istio DestinationRule: its load balancer, and its subsets (Pod labels, each with its own load balancer). */
export function convertDestinationRule(clusterDomain: string): (object: unknown) => Converted<SlimDestinationRule> {
  return (object) => {
    const id = identify(object);
    if (id === undefined) return undefined;
    const { at, key } = id;
    const spec = (object as DestinationRuleJson).spec;
    const host = typeof spec?.host === 'string' ? serviceOfHost(spec.host, at.namespace, clusterDomain) : undefined;
    const subsets: SlimSubset[] = [];
    for (const s of list(spec?.subsets)) {
      if (typeof s.name !== 'string' || s.name === '') continue;
      const labels: Record<string, string> = {};
      for (const [k, v] of Object.entries(s.labels ?? {})) if (typeof v === 'string') labels[k] = v;
      subsets.push({ name: s.name, labels, loadBalancer: loadBalancerOf(s.trafficPolicy) });
    }
    return { key, value: { ...at, host, loadBalancer: loadBalancerOf(spec?.trafficPolicy), subsets } };
  };
}

interface ReferenceGrantJson {
  spec?: { from?: { group?: unknown; kind?: unknown; namespace?: unknown }[]; to?: { group?: unknown; kind?: unknown; name?: unknown }[] };
}

/** A ReferenceGrant, kept for what it grants toward Services (the only references meshdns follows). */
export function convertReferenceGrant(object: unknown): Converted<SlimReferenceGrant> {
  const id = identify(object);
  if (id === undefined) return undefined;
  const { at, key } = id;
  const spec = (object as ReferenceGrantJson).spec;
  const from = list(spec?.from)
    .filter((f) => typeof f.kind === 'string' && typeof f.namespace === 'string')
    .map((f) => ({ group: typeof f.group === 'string' ? f.group : '', kind: f.kind as string, namespace: f.namespace as string }));
  const to = list(spec?.to)
    .filter((t) => (t.group === '' || t.group === 'core' || t.group === undefined) && t.kind === 'Service')
    .map((t) => ({ name: typeof t.name === 'string' && t.name !== '' ? t.name : undefined }));
  return { key, value: { namespace: at.namespace, from, to } };
}
