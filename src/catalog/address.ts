import { isIP } from 'node:net';
import { ipv6Rdata } from '../wire/rdata.js';

/**
 * Why an address cannot be handed to clients as an A/AAAA record, or
 * undefined when it can. A syntactically valid address may still be useless
 * to every client: nobody can connect to 0.0.0.0 or ::, broadcast and
 * multicast are not unicast endpoints, a zone index (fe80::1%eth0) has no
 * place in a DNS record and would be silently dropped, and an IPv4-mapped
 * IPv6 address would be served as AAAA to clients that want the A.
 */
export function addressProblem(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return `"${address}" is not an IPv4 or IPv6 address`;
  if (address.includes('%')) return `"${address}" carries a zone index (%...), which a DNS record cannot hold; register a global or unique-local address`;
  if (family === 4) {
    const octets = address.split('.').map(Number) as [number, number, number, number];
    if (octets[0] === 0) return `"${address}" is in 0.0.0.0/8 ("this network"): no client can connect to it`;
    if (address === '255.255.255.255') return `"${address}" is the broadcast address, not an instance`;
    if (octets[0] >= 224 && octets[0] <= 239) return `"${address}" is a multicast address, not an instance`;
    return undefined;
  }
  const bytes = ipv6Rdata(address);
  if (bytes.every((b) => b === 0)) return `"${address}" is the unspecified address: no client can connect to it`;
  if (bytes[0] === 0xff) return `"${address}" is a multicast address, not an instance`;
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `"${address}" is an IPv4-mapped IPv6 address; register the IPv4 address itself, so it is served as A`;
  }
  return undefined;
}
