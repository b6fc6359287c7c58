import { isIP } from 'node:net';
import type { InstancePort, Mutable } from '../../catalog/types.js';
import { isDnsLabel } from '../../catalog/validate.js';
import { parseProbe, parseWeight, WEIGHT_ANNOTATION, type ProbeAnnotation } from './annotations.js';
import { parsePolicyAnnotations, type AnnotatedPolicy } from './policy-annotations.js';

/**
 * API objects are converted into these at the boundary and never kept whole:
 * a Service or EndpointSlice costs a few hundred bytes here instead of the
 * kilobytes of its JSON (managedFields, status, …).
 */

export interface SlimService {
  readonly namespace: string;
  readonly name: string;
  readonly externalName?: string;
  readonly publishNotReadyAddresses: boolean;
  readonly probe?: ProbeAnnotation | Error;
  /** Policy fields from meshdns.io/ annotations. */
  readonly policy?: AnnotatedPolicy;
}

export interface SlimEndpoint {
  readonly address: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly hostname?: string;
  readonly zone?: string;
  /** hints.forZones: the zones whose clients this endpoint should serve (topology-aware routing). */
  readonly hintZones?: readonly string[];
  /** Name of the Pod behind it (targetRef), for Pod weights. */
  readonly pod?: string;
}

export interface SlimSlice {
  readonly namespace: string;
  readonly service: string;
  readonly ports: readonly InstancePort[];
  readonly weight?: number;
  readonly probe?: ProbeAnnotation | Error;
  readonly endpoints: PackedEndpoints;
  /** Ports left out because no DNS name can carry them (the endpoints keep their other ports): why, each. */
  readonly skippedPorts?: readonly string[];
  /**
   * An imported slice of the Multi-Cluster Services API (labelled multicluster.kubernetes.io/service-name): it
   * belongs to a ServiceImport, not to a Service, and says which cluster its endpoints are in (undefined: the
   * source-cluster label is missing).
   */
  readonly imported?: { readonly sourceCluster: string | undefined };
}

const READY = 1;
const SERVING = 2;
const TERMINATING = 4;
/** Cells an endpoint takes in a PackedEndpoints: address, condition flags, zone, Pod name. */
const STRIDE = 4;

/**
 * A slice's endpoints as they are kept between its watch events: four cells an endpoint in one array of exactly
 * their count (address, the three conditions as bits, zone, Pod name), the rare fields (a hostname, topology hints)
 * beside them only where some endpoint has one. An object an endpoint cost 72 bytes and the array built by push
 * room for 17 (at 100,000 endpoints in 10,000 slices 8.3 MB; packed 3.2 MB). The strings are the API object's,
 * the same the instances built from them hold. Endpoints are read back as SlimEndpoint objects on a rebuild only.
 */
export class PackedEndpoints implements Iterable<SlimEndpoint> {
  private readonly cells: readonly (string | number | undefined)[];
  /** Per endpoint index, the rare fields; undefined when no endpoint has any. */
  private readonly rare: ReadonlyMap<number, Pick<SlimEndpoint, 'hostname' | 'hintZones'>> | undefined;

  constructor(endpoints: readonly SlimEndpoint[]) {
    const cells = new Array<string | number | undefined>(endpoints.length * STRIDE);
    let rare: Map<number, Pick<SlimEndpoint, 'hostname' | 'hintZones'>> | undefined;
    endpoints.forEach((e, i) => {
      cells[i * STRIDE] = e.address;
      cells[i * STRIDE + 1] = (e.ready ? READY : 0) | (e.serving ? SERVING : 0) | (e.terminating ? TERMINATING : 0);
      cells[i * STRIDE + 2] = e.zone;
      cells[i * STRIDE + 3] = e.pod;
      if (e.hostname !== undefined || e.hintZones !== undefined) {
        (rare ??= new Map()).set(i, { ...(e.hostname === undefined ? {} : { hostname: e.hostname }), ...(e.hintZones === undefined ? {} : { hintZones: e.hintZones }) });
      }
    });
    this.cells = cells;
    this.rare = rare;
  }

  get length(): number {
    return this.cells.length / STRIDE;
  }

  /** The i-th endpoint, as an object of its own (built on each call). */
  at(i: number): SlimEndpoint {
    const c = this.cells;
    const at = i * STRIDE;
    const flags = c[at + 1] as number;
    const endpoint: Mutable<SlimEndpoint> = {
      address: c[at] as string,
      ready: (flags & READY) !== 0,
      serving: (flags & SERVING) !== 0,
      terminating: (flags & TERMINATING) !== 0,
      zone: c[at + 2] as string | undefined,
      pod: c[at + 3] as string | undefined,
    };
    const rare = this.rare?.get(i);
    if (rare?.hostname !== undefined) endpoint.hostname = rare.hostname;
    if (rare?.hintZones !== undefined) endpoint.hintZones = rare.hintZones;
    return endpoint;
  }

  /** Whether an endpoint runs in the named Pod (without building the endpoints). */
  hasPod(pod: string): boolean {
    const c = this.cells;
    for (let at = 3; at < c.length; at += STRIDE) if (c[at] === pod) return true;
    return false;
  }

  *[Symbol.iterator](): Iterator<SlimEndpoint> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
}

// The API's JSON (watch events) and the typed client's models share these field names.
interface Meta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface ServiceJson {
  metadata?: Meta;
  spec?: { type?: string; externalName?: string; publishNotReadyAddresses?: boolean };
}
interface SliceJson {
  metadata?: Meta;
  addressType?: string;
  ports?: { name?: string; port?: number; protocol?: string }[] | null;
  endpoints?: {
    addresses?: string[];
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
    hostname?: string;
    zone?: string;
    hints?: { forZones?: { name?: string }[] | null } | null;
    targetRef?: { kind?: string; name?: string };
  }[] | null;
}
interface PodJson {
  metadata?: Meta;
}

// Joined, not a template: a key kept in maps must be one flat string, not a concatenation V8 flattens behind a
// 32-byte header of its own on the first lookup (10,000 slices and their Services: ~0.6 MB).
const keyOf = (m: Meta | undefined): string => [m?.namespace ?? '', m?.name ?? ''].join('/');

export function convertService(object: unknown): { key: string; value: SlimService | undefined } | undefined {
  const o = object as ServiceJson;
  if (!o?.metadata?.name || !o.metadata.namespace) return undefined;
  return {
    key: keyOf(o.metadata),
    value: {
      namespace: o.metadata.namespace,
      name: o.metadata.name,
      externalName: o.spec?.type === 'ExternalName' && o.spec.externalName ? o.spec.externalName : undefined,
      publishNotReadyAddresses: o.spec?.publishNotReadyAddresses === true,
      probe: parseProbe(o.metadata.annotations),
      policy: parsePolicyAnnotations(o.metadata.annotations, o.metadata.namespace, o.metadata.name),
    },
  };
}

export function convertSlice(object: unknown): { key: string; value: SlimSlice | undefined } | undefined {
  const o = object as SliceJson;
  if (!o?.metadata?.name || !o.metadata.namespace) return undefined;
  const key = keyOf(o.metadata);
  const importedService = o.metadata.labels?.[MCS_SERVICE_LABEL];
  const service = importedService ?? o.metadata.labels?.['kubernetes.io/service-name'];
  // FQDN slices and slices of no Service are of no use to DNS answers.
  if (!service || (o.addressType !== 'IPv4' && o.addressType !== 'IPv6')) return { key, value: undefined };
  const ports: InstancePort[] = [];
  const skippedPorts: string[] = [];
  for (const p of o.ports ?? []) {
    const protocol = (p.protocol ?? 'TCP').toLowerCase();
    if (!p.name || !p.port || (protocol !== 'tcp' && protocol !== 'udp')) continue;
    // One port that cannot be an SRV name is left out alone: the endpoint, its address and other ports stay.
    if (!isDnsLabel(p.name)) skippedPorts.push(`port name "${p.name}" is not an RFC 1123 DNS label`);
    else if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) skippedPorts.push(`port ${p.name} ${String(p.port)} is not from 1 to 65535`);
    else ports.push({ name: p.name, port: p.port, protocol });
  }
  const endpoints: SlimEndpoint[] = [];
  for (const e of o.endpoints ?? []) {
    const address = e.addresses?.[0];
    if (address === undefined) continue;
    const c = e.conditions ?? {};
    // An unknown (absent) ready condition means ready, as the API documents.
    const ready = c.ready !== false;
    const endpoint: Mutable<SlimEndpoint> = {
      address,
      ready,
      serving: c.serving ?? ready,
      terminating: c.terminating === true,
      zone: e.zone,
      pod: e.targetRef?.kind === 'Pod' ? e.targetRef.name : undefined,
    };
    if (e.hostname !== undefined) endpoint.hostname = e.hostname;
    const hintZones = hintZonesOf(e.hints?.forZones);
    if (hintZones !== undefined) endpoint.hintZones = hintZones;
    endpoints.push(endpoint);
  }
  return {
    key,
    value: {
      namespace: o.metadata.namespace,
      service,
      // Kept as long as the slice is: a copy of exactly its length, not the push-built array's room for 17.
      ports: ports.slice(),
      weight: parseWeight(o.metadata.annotations?.[WEIGHT_ANNOTATION]),
      probe: parseProbe(o.metadata.annotations),
      endpoints: new PackedEndpoints(endpoints),
      ...(skippedPorts.length > 0 ? { skippedPorts } : {}),
      ...(importedService === undefined ? {} : { imported: { sourceCluster: o.metadata.labels?.[MCS_SOURCE_CLUSTER_LABEL] || undefined } }),
    },
  };
}

/** KEP-1645's labels on the EndpointSlices of an imported service. */
export const MCS_SERVICE_LABEL = 'multicluster.kubernetes.io/service-name';
export const MCS_SOURCE_CLUSTER_LABEL = 'multicluster.kubernetes.io/source-cluster';

/**
 * A Pod as answers need it: its weight annotation (pod weights), its labels (Istio subsets) and its
 * addresses (a client's namespace, for consumer routes). Label sets are shared between Pods that carry
 * the same ones (the replicas of one ReplicaSet), so 100,000 Pods hold a few thousand label objects.
 */
export interface SlimPod {
  readonly weight: number | undefined;
  readonly labels: Readonly<Record<string, string>>;
  /** Pod IPs; empty for host-network Pods, whose address is their Node's and names no namespace. */
  readonly ips: readonly string[];
}

interface PodJson {
  metadata?: Meta;
  spec?: { hostNetwork?: boolean };
  status?: { podIP?: string; podIPs?: { ip?: string }[] };
}

const sharedLabels = new Map<string, Readonly<Record<string, string>>>();
const SHARED_LABELS_MAX = 50_000;

function internLabels(labels: Record<string, string> | undefined): Readonly<Record<string, string>> {
  const entries = Object.entries(labels ?? {}).filter(([, v]) => typeof v === 'string').sort(([a], [b]) => a.localeCompare(b));
  const text = JSON.stringify(entries);
  const seen = sharedLabels.get(text);
  if (seen !== undefined) return seen;
  const value = Object.freeze(Object.fromEntries(entries));
  if (sharedLabels.size < SHARED_LABELS_MAX) sharedLabels.set(text, value);
  return value;
}

export function convertPod(object: unknown): { key: string; value: SlimPod | undefined } | undefined {
  const o = object as PodJson;
  if (!o?.metadata?.name || !o.metadata.namespace) return undefined;
  const ips = o.spec?.hostNetwork === true ? [] : [...new Set([o.status?.podIP, ...(o.status?.podIPs ?? []).map((p) => p.ip)].filter((ip): ip is string => typeof ip === 'string' && isIP(ip) !== 0))];
  return { key: keyOf(o.metadata), value: { weight: parseWeight(o.metadata.annotations?.[WEIGHT_ANNOTATION]), labels: internLabels(o.metadata.labels), ips } };
}

function hintZonesOf(forZones: { name?: string }[] | null | undefined): string[] | undefined {
  const zones = (forZones ?? []).map((z) => z.name).filter((n): n is string => typeof n === 'string' && n !== '');
  return zones.length > 0 ? zones : undefined;
}

/**
 * A Node as client zones need it: the pod ranges it hands out and its own addresses (host-network clients
 * such as NodeLocal DNSCache query from those), with its zone label.
 */
export interface SlimNode {
  readonly zone: string;
  /** podCIDRs, and each InternalIP as a /32 or /128. */
  readonly podCidrs: readonly string[];
}

interface NodeJson {
  metadata?: Meta;
  spec?: { podCIDR?: string; podCIDRs?: string[] };
  status?: { addresses?: { type?: string; address?: string }[] };
}

const ZONE_LABELS = ['topology.kubernetes.io/zone', 'failure-domain.beta.kubernetes.io/zone'];

/** Nodes without pod ranges or addresses place no client: dropped. One without a zone label places clients in its cluster only (zone ''). */
export function convertNode(object: unknown): { key: string; value: SlimNode | undefined } | undefined {
  const o = object as NodeJson;
  if (!o?.metadata?.name) return undefined;
  const labels = o.metadata.labels ?? {};
  const zone = ZONE_LABELS.map((l) => labels[l]).find((z) => z !== undefined && z !== '');
  const podCidrs = o.spec?.podCIDRs?.length ? [...o.spec.podCIDRs] : o.spec?.podCIDR ? [o.spec.podCIDR] : [];
  for (const a of o.status?.addresses ?? []) {
    if (a.type === 'InternalIP' && a.address !== undefined && isIP(a.address) !== 0) podCidrs.push(`${a.address}/${isIP(a.address) === 6 ? 128 : 32}`);
  }
  return { key: o.metadata.name, value: podCidrs.length === 0 ? undefined : { zone: zone ?? '', podCidrs } };
}
