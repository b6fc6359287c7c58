import { isIPv4, isIPv6 } from 'node:net';
import { RRClass, RRType } from './constants.js';
import { nameToWire } from './name.js';

/**
 * Encoders for resource records. A record is kept as its "tail": everything
 * after the owner name (type, class, TTL, rdlength, rdata). The owner is
 * written per response, nearly always as a 2-byte compression pointer.
 */

export interface EncodedRecord {
  readonly type: number;
  /** type, class, ttl, rdlength, rdata */
  readonly tail: Buffer;
  /** Offset inside `tail` of an uncompressed domain name whose addresses may go to the additional section; -1 if none. */
  readonly targetOffset: number;
  /** Lookup key of that name (for CNAME chasing and glue). */
  readonly targetKey?: string;
  /** The target's address records (one, or several), placed in the additional section when they fit. */
  glue?: EncodedRecord | readonly EncodedRecord[];
}

export function encodeTail(type: number, ttl: number, rdata: Buffer): Buffer {
  const tail = Buffer.allocUnsafe(10 + rdata.length);
  writeTailHeader(tail, type, ttl, rdata.length);
  rdata.copy(tail, 10);
  return tail;
}

/** Offset of the first target name inside rdata, for types that carry one. */
export function rdataTargetOffset(type: number): number {
  switch (type) {
    case RRType.NS:
    case RRType.CNAME:
    case RRType.PTR:
      return 0;
    case RRType.MX:
      return 2;
    case RRType.SRV:
      return 6;
    default:
      return -1;
  }
}

export function record(type: number, ttl: number, rdata: Buffer, targetKey?: string): EncodedRecord {
  const rel = rdataTargetOffset(type);
  return { type, tail: encodeTail(type, ttl, rdata), targetOffset: rel < 0 ? -1 : rel + 10, targetKey };
}

export function ipv4Rdata(address: string): Buffer {
  if (!isIPv4(address)) throw new Error(`"${address}" is not an IPv4 address`);
  return writeIpv4(address, Buffer.allocUnsafe(4), 0);
}

/** The four octets of a dotted quad (already checked) into `out` at `offset`. */
function writeIpv4(address: string, out: Buffer, offset: number): Buffer {
  let o = offset;
  for (const part of address.split('.')) out[o++] = Number(part);
  return out;
}

export function ipv6Rdata(address: string): Buffer {
  if (!isIPv6(address)) throw new Error(`"${address}" is not an IPv6 address`);
  let text = address;
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const b = ipv4Rdata(dotted[1]!);
    text = text.slice(0, dotted.index) + `${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(missing).fill('0'), ...tailGroups];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

export function addressRecord(address: string, ttl: number): EncodedRecord {
  if (isIPv4(address)) {
    // Written in place: catalogs hold 100,000s of these, and temporaries pin the shared Buffer pool's slabs.
    const tail = Buffer.allocUnsafe(14);
    writeTailHeader(tail, RRType.A, ttl, 4);
    return { type: RRType.A, tail: writeIpv4(address, tail, 10), targetOffset: -1 };
  }
  return record(RRType.AAAA, ttl, ipv6Rdata(address));
}

/** An SRV record written in one buffer, the target given as a lookup key (its wire form). */
export function srvRecord(ttl: number, priority: number, weight: number, port: number, targetKey: string, glue: EncodedRecord | readonly EncodedRecord[]): EncodedRecord {
  const tail = Buffer.allocUnsafe(16 + targetKey.length);
  writeTailHeader(tail, RRType.SRV, ttl, 6 + targetKey.length);
  tail.writeUInt16BE(priority, 10);
  tail.writeUInt16BE(weight, 12);
  tail.writeUInt16BE(port, 14);
  tail.write(targetKey, 16, 'latin1');
  return { type: RRType.SRV, tail, targetOffset: 16, glue };
}

function writeTailHeader(tail: Buffer, type: number, ttl: number, rdlength: number): void {
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(RRClass.IN, 2);
  tail.writeUInt32BE(ttl >>> 0, 4);
  tail.writeUInt16BE(rdlength, 8);
}

export function srvRdata(priority: number, weight: number, port: number, targetWire: Buffer): Buffer {
  const out = Buffer.allocUnsafe(6 + targetWire.length);
  out.writeUInt16BE(priority, 0);
  out.writeUInt16BE(weight, 2);
  out.writeUInt16BE(port, 4);
  targetWire.copy(out, 6);
  return out;
}

export interface SoaFields {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export function soaRdata(f: SoaFields): Buffer {
  const m = nameToWire(f.mname);
  const r = nameToWire(f.rname);
  const out = Buffer.allocUnsafe(m.length + r.length + 20);
  m.copy(out, 0);
  r.copy(out, m.length);
  let o = m.length + r.length;
  for (const v of [f.serial, f.refresh, f.retry, f.expire, f.minimum]) {
    out.writeUInt32BE(v >>> 0, o);
    o += 4;
  }
  return out;
}

/** SOA RDATA ends with SERIAL REFRESH RETRY EXPIRE MINIMUM, 4 octets each: the serial is 20 octets from the end. */
export function soaSerial(tail: Buffer): number {
  return tail.readUInt32BE(tail.length - 20);
}

/** Writes the serial of an encoded SOA tail in place. */
export function setSoaSerial(tail: Buffer, serial: number): void {
  tail.writeUInt32BE(serial, tail.length - 20);
}

/** SOA MINIMUM of an encoded SOA tail: the last four octets (RFC 2308 negative TTL). */
export function soaMinimum(tail: Buffer): number {
  return tail.readUInt32BE(tail.length - 4);
}

/** Character-strings for TXT: each string at most 255 octets. */
export function txtRdata(strings: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const s of strings) {
    if (s.length > 255) throw new Error('a TXT character-string is longer than 255 octets');
    parts.push(Buffer.from([s.length]), s);
  }
  return Buffer.concat(parts);
}
