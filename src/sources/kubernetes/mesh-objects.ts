import type { LoadBalancer } from '../../catalog/policy.js';
import { isDnsLabel } from '../../catalog/validate.js';

/**
 * The mesh's traffic objects, converted at the boundary into what a split or a policy needs (never kept
 * whole): HTTPRoute (Gateway API, GAMMA), SMI TrafficSplit, Istio VirtualService and DestinationRule.
 * A malformed object converts to a record with a `problem`, so the source can log it once by name and skip
 * it while everything else keeps working.
 */

export type RouteKind = 'HTTPRoute' | 'TrafficSplit' | 'VirtualService';

export interface SlimRoute {
  readonly kind: RouteKind;
  /** The API group (HTTPRoute comes from the Gateway API's and from Linkerd's). */
  readonly group: string;
  readonly namespace: string;
  readonly name: string;
  /** creationTimestamp (RFC 3339), for the oldest-wins tie break; '' when absent. */
  readonly created: string;
  /** Catalog keys (`ns/name`) of the Services whose names the split takes over. */
  readonly apexes: readonly string[];
  readonly backends: readonly { readonly service: string; readonly weight: number }[];
  /** Set when the object cannot be used: why (logged once, the object skipped). */
  readonly problem?: string;
}

export interface SlimDestinationRule {
  readonly namespace: string;
  readonly name: string;
  readonly created: string;
  /** Catalog key of the host Service; undefined for hosts that are not Services of this cluster. */
  readonly host: string | undefined;
  readonly loadBalancer: LoadBalancer | undefined;
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

const GROUPS: Record<RouteKind, string> = { HTTPRoute: 'gateway.networking.k8s.io', TrafficSplit: 'split.smi-spec.io', VirtualService: 'networking.istio.io' };

function bad(kind: RouteKind, at: { namespace: string; name: string; created: string }, problem: string, group = GROUPS[kind]): SlimRoute {
  return { kind, group, ...at, apexes: [], backends: [], problem };
}

interface HttpRouteJson {
  spec?: {
    parentRefs?: { group?: string; kind?: string; name?: string; namespace?: string }[];
    rules?: { backendRefs?: { group?: string; kind?: string; name?: string; namespace?: string; weight?: unknown }[] }[];
  };
}

const CORE_GROUPS = new Set(['', 'core']);

/**
 * An HTTPRoute whose parentRefs name Services (GAMMA): its first rule's backendRefs. Routes of Gateways only:
 * not ours. `group`: the Gateway API's, or Linkerd's policy.linkerd.io (same schema).
 */
export function convertHttpRoute(object: unknown, group = GROUPS.HTTPRoute): Converted<SlimRoute> {
  const id = identify(object);
  if (id === undefined) return undefined;
  const { at, key } = id;
  const spec = (object as HttpRouteJson).spec;
  const apexes = list(spec?.parentRefs)
    .filter((p) => CORE_GROUPS.has(p.group ?? 'gateway.networking.k8s.io') && p.kind === 'Service' && typeof p.name === 'string' && isDnsLabel(p.name) && (p.namespace === undefined || isDnsLabel(p.namespace)))
    .map((p) => `${p.namespace ?? at.namespace}/${p.name}`);
  if (apexes.length === 0) return { key, value: undefined };
  const refs = list(list(spec?.rules)[0]?.backendRefs);
  if (refs.length === 0) return { key, value: bad('HTTPRoute', at, 'its first rule has no backendRefs', group) };
  const backends: { service: string; weight: number }[] = [];
  for (const [i, ref] of refs.entries()) {
    if (!CORE_GROUPS.has(ref.group ?? '') || (ref.kind ?? 'Service') !== 'Service' || typeof ref.name !== 'string' || !isDnsLabel(ref.name) || (ref.namespace !== undefined && !isDnsLabel(ref.namespace))) {
      return { key, value: bad('HTTPRoute', at, `rules[0].backendRefs[${i}] is not a Service by name`, group) };
    }
    const weight = weightOf(ref.weight, 1);
    if (weight === undefined) return { key, value: bad('HTTPRoute', at, `rules[0].backendRefs[${i}].weight ${JSON.stringify(ref.weight)} is not a whole number ≥ 0`, group) };
    backends.push({ service: `${ref.namespace ?? at.namespace}/${ref.name}`, weight });
  }
  return { key, value: { kind: 'HTTPRoute', group, ...at, apexes, backends } };
}

interface TrafficSplitJson {
  spec?: { service?: string; backends?: { service?: string; weight?: unknown }[] };
}

/** An SMI TrafficSplit: spec.service is the apex, spec.backends the split. */
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
    const backends: { service: string; weight: number }[] = [];
    for (const [i, b] of given.entries()) {
      const service = typeof b.service === 'string' ? serviceOfHost(b.service, at.namespace, clusterDomain) : undefined;
      if (service === undefined) return { key, value: bad('TrafficSplit', at, `spec.backends[${i}].service ${JSON.stringify(b.service)} is not a Service name`) };
      const weight = b.weight === undefined ? undefined : weightOf(b.weight, 0);
      if (weight === undefined) return { key, value: bad('TrafficSplit', at, `spec.backends[${i}].weight ${JSON.stringify(b.weight)} is not a whole number ≥ 0`) };
      backends.push({ service, weight });
    }
    return { key, value: { kind: 'TrafficSplit', group: GROUPS.TrafficSplit, ...at, apexes: [apex], backends } };
  };
}

interface VirtualServiceJson {
  spec?: {
    hosts?: unknown[];
    gateways?: unknown[];
    http?: { route?: { destination?: { host?: string }; weight?: unknown }[] }[];
  };
}

/**
 * An Istio VirtualService for mesh traffic (no gateways, or "mesh" among them): its hosts that are Services
 * are apexes of its first http route's destinations. A lone destination without a weight takes everything
 * (Istio's rule); among several, a missing weight is 0 unless all are missing (then equal shares).
 */
export function convertVirtualService(clusterDomain: string): (object: unknown) => Converted<SlimRoute> {
  return (object) => {
    const id = identify(object);
    if (id === undefined) return undefined;
    const { at, key } = id;
    const spec = (object as VirtualServiceJson).spec;
    const gateways = strings(spec?.gateways);
    if (gateways.length > 0 && !gateways.includes('mesh')) return { key, value: undefined };
    const apexes = strings(spec?.hosts)
      .map((h) => serviceOfHost(h, at.namespace, clusterDomain))
      .filter((k): k is string => k !== undefined);
    if (apexes.length === 0) return { key, value: undefined };
    const route = list(list(spec?.http)[0]?.route);
    if (route.length === 0) return { key, value: bad('VirtualService', at, 'its first http route has no destinations') };
    const allMissing = route.every((r) => r.weight === undefined || r.weight === null);
    const backends: { service: string; weight: number }[] = [];
    for (const [i, r] of route.entries()) {
      const host = (r.destination as { host?: unknown } | null | undefined)?.host;
      const service = typeof host === 'string' ? serviceOfHost(host, at.namespace, clusterDomain) : undefined;
      if (service === undefined) return { key, value: bad('VirtualService', at, `http[0].route[${i}].destination.host ${JSON.stringify(host)} is not a Service of this cluster`) };
      const weight = weightOf(r.weight, allMissing ? 1 : 0);
      if (weight === undefined) return { key, value: bad('VirtualService', at, `http[0].route[${i}].weight ${JSON.stringify(r.weight)} is not a whole number ≥ 0`) };
      // Subsets of one host are one Service to DNS: their weights add up.
      const same = backends.find((b) => b.service === service);
      if (same !== undefined) (same as { weight: number }).weight += weight;
      else backends.push({ service, weight });
    }
    return { key, value: { kind: 'VirtualService', group: GROUPS.VirtualService, ...at, apexes, backends } };
  };
}

interface DestinationRuleJson {
  spec?: { host?: string; trafficPolicy?: { loadBalancer?: { simple?: string } } };
}

const SIMPLE: Record<string, LoadBalancer> = { ROUND_ROBIN: 'round-robin', RANDOM: 'random', LEAST_REQUEST: 'weighted', LEAST_CONN: 'weighted', PASSTHROUGH: 'weighted', UNSPECIFIED: 'weighted' };

/** An Istio DestinationRule: only trafficPolicy.loadBalancer.simple matters to DNS answers. */
export function convertDestinationRule(clusterDomain: string): (object: unknown) => Converted<SlimDestinationRule> {
  return (object) => {
    const id = identify(object);
    if (id === undefined) return undefined;
    const { at, key } = id;
    const spec = (object as DestinationRuleJson).spec;
    const host = typeof spec?.host === 'string' ? serviceOfHost(spec.host, at.namespace, clusterDomain) : undefined;
    const simple: unknown = (spec?.trafficPolicy?.loadBalancer as { simple?: unknown } | null | undefined)?.simple;
    const loadBalancer = typeof simple !== 'string' ? undefined : Object.hasOwn(SIMPLE, simple) ? SIMPLE[simple] : 'weighted';
    return { key, value: { ...at, host, loadBalancer } };
  };
}
