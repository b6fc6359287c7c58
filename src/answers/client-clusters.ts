import type { ZoneRange } from '../catalog/catalog.js';
import { ClientZones } from './client-zones.js';

/**
 * Which cluster a client address is in, for the policy `clusters`: the cluster whose Node holds it (a podCIDR
 * or an InternalIP of any watched cluster), else --client-cluster CIDR=NAME, else the local cluster. Answers ''
 * for the local cluster, as the name tables key it.
 */
export class ClientClusters {
  private readonly fromNodes = new ClientZones([]);
  private readonly configured: ClientZones;
  /**
   * Answers already worked out, by client address: a server has few clients (resolvers, NodeLocal caches, Pods),
   * and a range walk per query would cost the answer path a tenth of its speed. Emptied when the ranges change or
   * when it is full.
   */
  private readonly known = new Map<string, string>();

  constructor(
    private readonly localName: string,
    configured: readonly { cidr: string; zone: string }[],
  ) {
    this.configured = new ClientZones(configured.map((c) => ({ cidr: c.cidr, zone: this.keyOf(c.zone) })));
  }

  /** The Node ranges of every watched cluster (the catalog's, replaced whole when Nodes change). */
  setNodeRanges(ranges: readonly ZoneRange[]): void {
    this.fromNodes.setLearnt(ranges.map((r) => ({ cidr: r.cidr, zone: r.cluster ?? LOCAL })));
    this.known.clear();
  }

  clusterOf(address: string): string {
    const cached = this.known.get(address);
    if (cached !== undefined) return cached;
    const family = address.includes(':') ? 'ipv6' : 'ipv4';
    const found = this.fromNodes.zoneOf(address, family) ?? this.configured.zoneOf(address, family);
    const cluster = found === undefined || found === LOCAL ? '' : found;
    if (this.known.size >= MAX_KNOWN) this.known.clear();
    this.known.set(address, cluster);
    return cluster;
  }

  private keyOf(name: string): string {
    return name === this.localName ? LOCAL : name;
  }
}

const MAX_KNOWN = 50_000;

/** The local cluster in the range tables (a cluster name is a DNS label, so it never clashes). */
const LOCAL = '.local';
