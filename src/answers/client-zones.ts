import { BlockList, isIP } from 'node:net';

interface Range {
  readonly blocks: BlockList;
  readonly zone: string;
  readonly prefix: number;
  /** 0: --client-zone (wins a tie), 1: learnt from a Kubernetes Node. */
  readonly rank: number;
}

/**
 * Which zone a client address is in, for services with locality prefer-zone:
 * from --client-zone CIDR=ZONE and from Kubernetes Nodes (podCIDRs and the
 * topology.kubernetes.io/zone label). Rebuilt when Nodes change; looked up
 * only when an answer has a prefer-zone set, most specific range first.
 */
export class ClientZones {
  private readonly configured: Range[];
  private ranges: Range[];

  constructor(entries: readonly { cidr: string; zone: string }[]) {
    this.configured = toRanges(entries, 0);
    this.ranges = sorted(this.configured);
  }

  get size(): number {
    return this.ranges.length;
  }

  /** Replaces the ranges learnt from Nodes; a bad CIDR is left out (the Node source checks them first). */
  setLearnt(entries: readonly { cidr: string; zone: string }[]): void {
    this.ranges = sorted([...this.configured, ...toRanges(entries, 1)]);
  }

  zoneOf(address: string, family: 'ipv4' | 'ipv6'): string | undefined {
    const ranges = this.ranges;
    for (let i = 0; i < ranges.length; i++) if (ranges[i]!.blocks.check(address, family)) return ranges[i]!.zone;
    return undefined;
  }
}

function toRanges(entries: readonly { cidr: string; zone: string }[], rank: number): Range[] {
  const out: Range[] = [];
  for (const { cidr, zone } of entries) {
    // A Node with no zone label places clients in its cluster, in no zone.
    if (zone === '') continue;
    const [address, prefixText] = cidr.split('/') as [string, string];
    const family = isIP(address);
    const prefix = Number(prefixText);
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) continue;
    const blocks = new BlockList();
    blocks.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
    out.push({ blocks, zone, prefix, rank });
  }
  return out;
}

function sorted(ranges: Range[]): Range[] {
  return [...ranges].sort((a, b) => b.prefix - a.prefix || a.rank - b.rank);
}
