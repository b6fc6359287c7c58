/** DNS wire constants (RFC 1035, 3596, 2782, 6891, 6844, 8482). */

export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  TSIG: 250,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
  CAA: 257,
} as const;

export const RRClass = { IN: 1, ANY: 255 } as const;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  NOTAUTH: 9,
  /** Extended rcode (needs OPT): upper 8 bits 1, lower 4 bits 0. */
  BADVERS: 16,
} as const;

export const Opcode = { QUERY: 0, NOTIFY: 4 } as const;

export const HEADER_SIZE = 12;
/** Largest UDP payload we accept and advertise (DNS flag day 2020 recommendation). */
export const OUR_UDP_PAYLOAD = 1232;
/** Classic limit for clients that send no OPT record (RFC 1035 §4.2.1). */
export const CLASSIC_UDP_PAYLOAD = 512;
export const MAX_NAME_WIRE_LENGTH = 255;
export const MAX_LABEL_LENGTH = 63;

/** Header flag bits in the second 16-bit word. */
export const Flag = {
  QR: 0x8000,
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  AD: 0x0020,
  CD: 0x0010,
} as const;

const typeNames = new Map<number, string>(Object.entries(RRType).map(([k, v]) => [v, k]));
const typeNumbers = new Map<string, number>(Object.entries(RRType).map(([k, v]) => [k, v]));

export function typeName(type: number): string {
  return typeNames.get(type) ?? `TYPE${type}`;
}

/** Accepts mnemonics (case-insensitive) and RFC 3597 TYPEnnn. */
export function typeNumber(name: string): number | undefined {
  const upper = name.toUpperCase();
  const known = typeNumbers.get(upper);
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(upper);
  if (m) {
    const n = Number(m[1]);
    if (n <= 0xffff) return n;
  }
  return undefined;
}
