import { BlockList, isIP } from 'node:net';

/**
 * Which zone a client address is in (--client-zone CIDR=ZONE), for services
 * with locality prefer-zone. Built once from the flags; looked up only when
 * an answer has a prefer-zone set, most specific range first.
 */
export class ClientZones {
  private readonly ranges: { readonly blocks: BlockList; readonly zone: string; readonly prefix: number }[] = [];

  constructor(entries: readonly { cidr: string; zone: string }[]) {
    for (const { cidr, zone } of entries) {
      const [address, prefixText] = cidr.split('/') as [string, string];
      const blocks = new BlockList();
      blocks.addSubnet(address, Number(prefixText), isIP(address) === 6 ? 'ipv6' : 'ipv4');
      this.ranges.push({ blocks, zone, prefix: Number(prefixText) });
    }
    this.ranges.sort((a, b) => b.prefix - a.prefix);
  }

  get size(): number {
    return this.ranges.length;
  }

  zoneOf(address: string, family: 'ipv4' | 'ipv6'): string | undefined {
    for (const r of this.ranges) if (r.blocks.check(address, family)) return r.zone;
    return undefined;
  }
}
