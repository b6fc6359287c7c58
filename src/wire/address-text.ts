/**
 * 16 octets as IPv6 text, the way node:dgram reports a sender (libuv's inet_ntop, ISC's): lowercase, the first
 * longest run of two or more zero groups as "::", and the last 32 bits as a dotted quad for IPv4-mapped
 * (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d; not :: nor ::1) addresses. One text for one address wherever
 * addresses are compared: a sender's, and the PTR table's (an address as registered, and as a reverse name reads).
 */
export function ipv6Text(bytes: Uint8Array, at = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[at + i * 2]! << 8) | bytes[at + i * 2 + 1]!);
  const quad = `${bytes[at + 12]}.${bytes[at + 13]}.${bytes[at + 14]}.${bytes[at + 15]}`;
  const zerosBefore = (n: number): boolean => groups.slice(0, n).every((g) => g === 0);
  if (zerosBefore(5) && groups[5] === 0xffff) return `::ffff:${quad}`;
  if (zerosBefore(6) && (groups[6] !== 0 || (groups[7] !== 0 && groups[7] !== 1))) return `::${quad}`;
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
