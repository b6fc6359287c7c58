import { isIPv4 } from 'node:net';

/**
 * The network a client address belongs to, as a short string key: the
 * address masked to `v4Bits` or `v6Bits`. Rate limits count per network, not
 * per address, because spoofed floods and NATed clients spread across one.
 * IPv4-mapped IPv6 addresses (from dual-stack sockets) count as IPv4.
 */
export function clientPrefix(address: string, v4Bits: number, v6Bits: number): string {
  const zone = address.indexOf('%');
  const plain = zone < 0 ? address : address.slice(0, zone);
  const mapped = plain.lastIndexOf(':') >= 0 && plain.includes('.') ? plain.slice(plain.lastIndexOf(':') + 1) : plain;
  if (isIPv4(mapped)) return `4/${maskIpv4(mapped, v4Bits)}`;
  const words = ipv6Words(plain);
  if (words === null) return `?/${address}`;
  const parts: string[] = [];
  for (let i = 0, left = v6Bits; i < 8 && left > 0; i++, left -= 16) {
    parts.push((left >= 16 ? words[i]! : words[i]! & (0xffff << (16 - left))).toString(16));
  }
  return `6/${parts.join(':')}`;
}

function maskIpv4(address: string, bits: number): number {
  const [a, b, c, d] = address.split('.').map(Number) as [number, number, number, number];
  const value = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
  return bits === 0 ? 0 : (value & (0xffffffff << (32 - bits))) >>> 0;
}

/** The eight 16-bit words of an IPv6 address, or null when it is not one. */
function ipv6Words(address: string): number[] | null {
  const halves = address.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 1 || halves[1] === '' ? [] : halves[1]!.split(':');
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return null;
  const words: number[] = [];
  for (const part of [...head, ...new Array<string>(missing).fill('0'), ...tail]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return null;
    words.push(parseInt(part, 16));
  }
  return words;
}
