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
  /**
   * The bytes holding the record's tail (type, class, TTL, rdlength, rdata) at `at`, `length` octets: a buffer of
   * its own, or (a view made by blockRecord) a service node's block. A service's own records are no objects at all:
   * RecordBlock names them by offsets.
   */
  readonly data: Buffer;
  readonly at: number;
  readonly length: number;
  /** Offset inside the tail of an uncompressed domain name whose addresses may go to the additional section; -1 if none. */
  readonly targetOffset: number;
  /** Lookup key of that name (for CNAME chasing and glue). */
  readonly targetKey: string | undefined;
  /** The target's address records (one, or several), placed in the additional section when they fit. */
  glue: EncodedRecord | readonly EncodedRecord[] | undefined;
}

/**
 * Every record object is one of these, one shape for the answer writer: zone files' records, apexes, PTRs, an
 * ExternalName's CNAME (a service's addresses and SRV records are in its RecordBlock, no object each). Its type and
 * length are read from the tail's own octets (TYPE, and 10 + RDLENGTH) instead of kept beside them.
 */
class TailRecord implements EncodedRecord {
  constructor(
    readonly data: Buffer,
    readonly at: number,
    readonly targetOffset: number,
    readonly targetKey: string | undefined,
    public glue: EncodedRecord | readonly EncodedRecord[] | undefined,
  ) {}

  get type(): number {
    return tailTypeAt(this.data, this.at);
  }

  get length(): number {
    return tailLengthAt(this.data, this.at);
  }
}

/** A record of a tail of its own. */
function makeRecord(tail: Buffer, targetOffset: number, targetKey: string | undefined, glue: EncodedRecord | readonly EncodedRecord[] | undefined): EncodedRecord {
  return new TailRecord(tail, 0, targetOffset, targetKey, glue);
}

/** A record's tail as a Buffer (a view when it lives in a shared block): for transfers and zone data, not per answer. */
export function tailOf(r: EncodedRecord): Buffer {
  return r.at === 0 && r.length === r.data.length ? r.data : r.data.subarray(r.at, r.at + r.length);
}

/**
 * Writes a record's tail into `out` at `pos` (`n`: its length, when the caller has read it already). Short tails
 * (A records) are copied by a loop: no view to allocate, 12 ns for 14 octets where Buffer#copy with offsets takes 37
 * (it makes a view; measured on Node 24).
 */
export function writeTail(r: EncodedRecord, out: Uint8Array, pos: number, n = r.length): void {
  copyTail(r.data, r.at, out, pos, n);
}

/**
 * Copies `n` octets by a loop: an answer's pieces (a question, an SOA tail) are a few dozen octets, where
 * Buffer#copy costs more than the copy (a call into C++ and, in Node 24, a new view of the source each time).
 */
export function copyBytes(from: Uint8Array, at: number, out: Uint8Array, pos: number, n: number): void {
  for (let k = 0; k < n; k++) out[pos + k] = from[at + k]!;
}

/** Copies the `n` octets of a tail at `at` of `data` into `out` at `pos` (writeTail's copy, for block records too). */
export function copyTail(data: Buffer, at: number, out: Uint8Array, pos: number, n: number): void {
  // An SRV tail with its target (~50 octets) is copied quicker by the loop than by Buffer#copy's call into C++.
  if (n <= 64) copyBytes(data, at, out, pos, n);
  else if (at === 0 && n === data.length) data.copy(out, pos);
  else data.copy(out, pos, at, at + n);
}

/** The length of the tail at `at` of `data`: 10 octets of TYPE, CLASS, TTL and RDLENGTH, then RDLENGTH. */
export function tailLengthAt(data: Uint8Array, at: number): number {
  return 10 + ((data[at + 8]! << 8) | data[at + 9]!);
}

/** The TYPE of the tail at `at` of `data`. */
export function tailTypeAt(data: Uint8Array, at: number): number {
  return (data[at]! << 8) | data[at + 1]!;
}

/**
 * Where a sealed RecordBlock's octets are: the buffer (a slab, or one of its own) and the block's first octet in it.
 * One per service node, shared by its sets and its instance names; a record of the block is its offset from `base`.
 */
export class BlockBytes {
  data: Buffer = NO_BYTES;
  base = 0;
}

const NO_BYTES = Buffer.alloc(0);

/** A block record's tail as a Buffer view: for transfers and zone data, not per answer. */
export function blockTail(bytes: BlockBytes, ref: number): Buffer {
  const at = bytes.base + ref;
  return bytes.data.subarray(at, at + tailLengthAt(bytes.data, at));
}

/** A block record as an object, for the few paths that take records one by one (glue of a zone file's names). */
export function blockRecord(bytes: BlockBytes, ref: number): EncodedRecord {
  return new TailRecord(bytes.data, bytes.base + ref, -1, undefined, undefined);
}

/** Where an SRV tail's target name starts: after the header and priority, weight and port. */
export const SRV_TARGET_AT = 16;

/**
 * The records of a service node, built at once, written into one run of bytes and named by their offsets in it:
 * no object a record (a record object was 64 bytes beside its 14-60 octets, 200,000 of them at 100,000 instances:
 * 12.2 MB), and no share of the Buffer pool's 64 KiB slabs, which short-lived buffers pinned (at 100,000 instances
 * 297 slabs held 7 MB of record data in 19 MB). An SRV record's glue (its target's address records) follows its
 * tail: a count octet, then each glue record's position in the data, 4 octets each. Records are written into a
 * scratch buffer while the block is open and moved by seal(), which fills `bytes`; only one block is open at a
 * time: opening another seals the one left open (a build that threw), so no record ever points at reused bytes.
 */
export class RecordBlock {
  private static scratch = Buffer.allocUnsafeSlow(16 * 1024);
  private static open: RecordBlock | null = null;
  /** Where the records are once sealed: what sets and names of the block hold. */
  readonly bytes = new BlockBytes();
  private used = 0;
  /** Where each SRV glue list starts in the scratch: its offsets become positions in the data at seal(). */
  private readonly glueLists: number[] = [];

  constructor() {
    RecordBlock.open?.seal();
    RecordBlock.open = this;
  }

  /** An A or AAAA record of an address (already checked), as addressRecord makes it. */
  address(address: string, ttl: number): number {
    const type = isIPv4(address) ? RRType.A : RRType.AAAA;
    const at = this.room(addressTailLength(type));
    writeAddressTail(RecordBlock.scratch, at, type, address, ttl);
    return at;
  }

  /** An SRV record, the target given as a lookup key (its wire form), as srvRecord makes it, and its glue. */
  srv(ttl: number, priority: number, weight: number, port: number, targetKey: string, glue: number | readonly number[]): number {
    // Glue is optional additional data: a name with more than 255 addresses (a count octet's worth) lists the first.
    const refs = typeof glue === 'number' ? [glue] : glue.slice(0, 255);
    const length = SRV_TARGET_AT + targetKey.length;
    const at = this.room(length + 1 + 4 * refs.length);
    const scratch = RecordBlock.scratch;
    writeSrvTail(scratch, at, ttl, priority, weight, port, targetKey);
    scratch[at + length] = refs.length;
    refs.forEach((ref, i) => scratch.writeUInt32BE(ref, at + length + 1 + 4 * i));
    this.glueLists.push(at + length);
    return at;
  }

  /** The TYPE of a record of this open block. */
  typeOf(ref: number): number {
    return tailTypeAt(RecordBlock.scratch, ref);
  }

  /** Moves the records into their own bytes; the block is closed. */
  seal(): void {
    if (RecordBlock.open !== this) return;
    RecordBlock.open = null;
    if (this.used === 0) return;
    const { buffer, offset } = RecordBlock.place(this.used);
    RecordBlock.scratch.copy(buffer, offset, 0, this.used);
    for (const list of this.glueLists) {
      const count = buffer[offset + list]!;
      for (let i = 0; i < count; i++) {
        const at = offset + list + 1 + 4 * i;
        buffer.writeUInt32BE(buffer.readUInt32BE(at) + offset, at);
      }
    }
    this.bytes.data = buffer;
    this.bytes.base = offset;
  }

  /** Record blocks are cut from slabs of their own: nothing short-lived shares them, unlike Node's Buffer pool. */
  private static slab = Buffer.allocUnsafeSlow(0);
  private static slabUsed = 0;

  /**
   * Room for `size` octets: a buffer and where in it. Small blocks are cut from a 64 KiB slab that only record
   * blocks use: a buffer of its own (an ArrayBuffer and its native store) cost ~300 B a service beyond its data
   * (measured: 100,000 instances in 33,334 services 242 MB resident, cut from slabs 232; 50,000 in as many services
   * 238 → 198), and the records point into the slab itself, not a view of their part (a view is a ~100 B object a
   * service: 3.3 MB at 33,334). A slab lives while one of its records does; records of services rebuilt since are
   * dead bytes in it until then, at most a slab's worth a live block.
   */
  private static place(size: number): { buffer: Buffer; offset: number } {
    if (size > SLAB_SIZE / 8) return { buffer: Buffer.allocUnsafeSlow(size), offset: 0 };
    if (RecordBlock.slabUsed + size > RecordBlock.slab.length) {
      RecordBlock.slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
      RecordBlock.slabUsed = 0;
    }
    const offset = RecordBlock.slabUsed;
    RecordBlock.slabUsed = offset + size;
    return { buffer: RecordBlock.slab, offset };
  }

  /** Where the next `length` octets go, the scratch grown when full (records are offsets: nothing to move). */
  private room(length: number): number {
    if (RecordBlock.open !== this) throw new Error('a record block was written after it was sealed');
    const at = this.used;
    if (at + length > RecordBlock.scratch.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(RecordBlock.scratch.length * 2, at + length));
      RecordBlock.scratch.copy(grown, 0, 0, at);
      RecordBlock.scratch = grown;
    }
    this.used = at + length;
    return at;
  }
}

const SLAB_SIZE = 64 * 1024;

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
  return makeRecord(encodeTail(type, ttl, rdata), rel < 0 ? -1 : rel + 10, targetKey, undefined);
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
  const type = isIPv4(address) ? RRType.A : RRType.AAAA;
  // Written in place: catalogs hold 100,000s of these, and temporaries pin the shared Buffer pool's slabs.
  const tail = Buffer.allocUnsafe(addressTailLength(type));
  writeAddressTail(tail, 0, type, address, ttl);
  return makeRecord(tail, -1, undefined, undefined);
}

/** An SRV record written in one buffer, the target given as a lookup key (its wire form). */
export function srvRecord(ttl: number, priority: number, weight: number, port: number, targetKey: string, glue: EncodedRecord | readonly EncodedRecord[]): EncodedRecord {
  const tail = Buffer.allocUnsafe(SRV_TARGET_AT + targetKey.length);
  writeSrvTail(tail, 0, ttl, priority, weight, port, targetKey);
  return makeRecord(tail, SRV_TARGET_AT, undefined, glue);
}

const addressTailLength = (type: number): number => (type === RRType.A ? 14 : 26);

/** The tail of an A or AAAA record of an address (already checked) at `at` of `out`. */
function writeAddressTail(out: Buffer, at: number, type: number, address: string, ttl: number): void {
  if (type === RRType.A) {
    writeTailHeader(out, RRType.A, ttl, 4, at);
    writeIpv4(address, out, at + 10);
    return;
  }
  writeTailHeader(out, RRType.AAAA, ttl, 16, at);
  ipv6Rdata(address).copy(out, at + 10);
}

/** The tail of an SRV record at `at` of `out`, the target given as a lookup key (its wire form). */
function writeSrvTail(out: Buffer, at: number, ttl: number, priority: number, weight: number, port: number, targetKey: string): void {
  writeTailHeader(out, RRType.SRV, ttl, 6 + targetKey.length, at);
  out.writeUInt16BE(priority, at + 10);
  out.writeUInt16BE(weight, at + 12);
  out.writeUInt16BE(port, at + 14);
  out.write(targetKey, at + SRV_TARGET_AT, 'latin1');
}

function writeTailHeader(tail: Buffer, type: number, ttl: number, rdlength: number, at = 0): void {
  tail.writeUInt16BE(type, at);
  tail.writeUInt16BE(RRClass.IN, at + 2);
  tail.writeUInt32BE(ttl >>> 0, at + 4);
  tail.writeUInt16BE(rdlength, at + 8);
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
