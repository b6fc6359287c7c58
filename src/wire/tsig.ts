import { createHmac, timingSafeEqual } from 'node:crypto';
import { HEADER_SIZE, RRType } from './constants.js';
import { lowercaseWireInPlace, nameToWire, skipWireName, wireToText } from './name.js';

/**
 * TSIG (RFC 8945): transaction signatures with a shared key, HMAC-SHA256/384/512. What a primary needs: verify a
 * signed request, sign each message of its answer (the first over the request's MAC, each next one over the
 * previous message's MAC), sign a NOTIFY.
 */

const TSIG_TYPE = RRType.TSIG;
const CLASS_ANY = 255;
export const TsigError = { NOERROR: 0, BADSIG: 16, BADKEY: 17, BADTIME: 18 } as const;

export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha384' | 'hmac-sha512';
const HASHES: Record<TsigAlgorithm, string> = { 'hmac-sha256': 'sha256', 'hmac-sha384': 'sha384', 'hmac-sha512': 'sha512' };

export interface TsigKey {
  /** The key's name, as text with a trailing dot (compared case-insensitively). */
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  readonly secret: Buffer;
}

/** A TSIG record read from a message: where it starts (the message without it ends there) and its fields. */
export interface TsigRecord {
  readonly start: number;
  readonly keyName: Buffer;
  readonly algorithm: Buffer;
  readonly timeSigned: number;
  readonly fudge: number;
  readonly mac: Buffer;
  readonly originalId: number;
  readonly error: number;
  readonly otherData: Buffer;
}

const canonical = (wire: Buffer): Buffer => {
  const copy = Buffer.from(wire);
  lowercaseWireInPlace(copy, 0, copy.length);
  return copy;
};

/** The TSIG record, when it is the last record of the message (RFC 8945 §5.1: nowhere else is valid). */
export function findTsig(msg: Buffer): TsigRecord | undefined {
  if (msg.length < HEADER_SIZE) return undefined;
  const counts = [4, 6, 8, 10].map((o) => msg.readUInt16BE(o));
  const [qd, an, ns, ar] = counts as [number, number, number, number];
  if (ar === 0) return undefined;
  let o = HEADER_SIZE;
  for (let i = 0; i < qd; i++) {
    o = skipWireName(msg, o);
    if (o < 0) return undefined;
    o += 4;
  }
  const records = an + ns + ar;
  for (let i = 0; i < records; i++) {
    const start = o;
    const nameEnd = skipWireName(msg, o);
    if (nameEnd < 0 || nameEnd + 10 > msg.length) return undefined;
    const type = msg.readUInt16BE(nameEnd);
    const rdlength = msg.readUInt16BE(nameEnd + 8);
    const end = nameEnd + 10 + rdlength;
    if (end > msg.length) return undefined;
    if (i === records - 1 && type === TSIG_TYPE && end === msg.length) {
      let p = nameEnd + 10;
      const algEnd = skipWireName(msg, p);
      if (algEnd < 0 || algEnd + 10 > end) return undefined;
      const algorithm = msg.subarray(p, algEnd);
      p = algEnd;
      const timeSigned = msg.readUIntBE(p, 6);
      const fudge = msg.readUInt16BE(p + 6);
      const macSize = msg.readUInt16BE(p + 8);
      p += 10;
      if (p + macSize + 6 > end) return undefined;
      const mac = msg.subarray(p, p + macSize);
      p += macSize;
      const originalId = msg.readUInt16BE(p);
      const error = msg.readUInt16BE(p + 2);
      const otherLen = msg.readUInt16BE(p + 4);
      p += 6;
      if (p + otherLen !== end) return undefined;
      // The key name is not compressed in a TSIG record (RFC 8945 §4.2).
      return { start, keyName: msg.subarray(start, nameEnd), algorithm, timeSigned, fudge, mac, originalId, error, otherData: msg.subarray(p, end) };
    }
    o = end;
  }
  return undefined;
}

/** The message as it was before signing: without its TSIG record, ARCOUNT one less, the original ID back. */
function unsigned(msg: Buffer, tsig: TsigRecord): Buffer {
  const out = Buffer.from(msg.subarray(0, tsig.start));
  out.writeUInt16BE(tsig.originalId, 0);
  out.writeUInt16BE(msg.readUInt16BE(10) - 1, 10);
  return out;
}

interface Variables {
  readonly keyName: Buffer;
  readonly algorithm: Buffer;
  readonly timeSigned: number;
  readonly fudge: number;
  readonly error: number;
  readonly otherData: Buffer;
}

/** TSIG variables (RFC 8945 §4.3.3), or only the timers for the messages after the first of an answer (§5.3.1). */
function variables(v: Variables, timersOnly: boolean): Buffer {
  const timers = Buffer.alloc(8);
  timers.writeUIntBE(v.timeSigned, 0, 6);
  timers.writeUInt16BE(v.fudge, 6);
  if (timersOnly) return timers;
  const classTtl = Buffer.alloc(6);
  classTtl.writeUInt16BE(CLASS_ANY, 0);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(v.error, 0);
  tail.writeUInt16BE(v.otherData.length, 2);
  return Buffer.concat([canonical(v.keyName), classTtl, canonical(v.algorithm), timers, tail, v.otherData]);
}

function withLength(mac: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(mac.length, 0);
  return Buffer.concat([length, mac]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(HASHES[key.algorithm], key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

const nameMatches = (wire: Buffer, text: string): boolean => wireToText(canonical(wire)) === text.toLowerCase().replace(/\.?$/, '.');

export type Verification = { readonly ok: true; readonly tsig: TsigRecord } | { readonly ok: false; readonly error: number; readonly tsig: TsigRecord | undefined };

/**
 * Checks a request's TSIG against the key: the key name and algorithm (else BADKEY), the MAC, compared in
 * constant time (else BADSIG), the time within the fudge (else BADTIME), in the RFC's order (§5.2).
 */
export function verifyRequest(msg: Buffer, key: TsigKey, nowSeconds: number): Verification {
  const tsig = findTsig(msg);
  if (tsig === undefined) return { ok: false, error: TsigError.BADKEY, tsig: undefined };
  if (!nameMatches(tsig.keyName, key.name) || !nameMatches(tsig.algorithm, key.algorithm)) return { ok: false, error: TsigError.BADKEY, tsig };
  const expected = hmac(key, [unsigned(msg, tsig), variables(tsig, false)]);
  if (tsig.mac.length !== expected.length || !timingSafeEqual(tsig.mac, expected)) return { ok: false, error: TsigError.BADSIG, tsig };
  if (Math.abs(nowSeconds - tsig.timeSigned) > tsig.fudge) return { ok: false, error: TsigError.BADTIME, tsig };
  return { ok: true, tsig };
}

/** Our TSIG variables for a message we sign: the key's name and algorithm, the time, a fudge of 300 s. */
function ourVariables(key: TsigKey, nowSeconds: number, error: number, otherData: Buffer = Buffer.alloc(0)): Variables {
  return { keyName: nameToWire(key.name.endsWith('.') ? key.name : `${key.name}.`), algorithm: nameToWire(`${key.algorithm}.`), timeSigned: nowSeconds, fudge: 300, error, otherData };
}

/** The TSIG record to append, and its MAC (the next message of an answer is signed over it). */
function tsigRecord(v: Variables, originalId: number, mac: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUIntBE(v.timeSigned, 0, 6);
  fixed.writeUInt16BE(v.fudge, 6);
  fixed.writeUInt16BE(mac.length, 8);
  const trailer = Buffer.alloc(6);
  trailer.writeUInt16BE(originalId, 0);
  trailer.writeUInt16BE(v.error, 2);
  trailer.writeUInt16BE(v.otherData.length, 4);
  const rdata = Buffer.concat([v.algorithm, fixed, mac, trailer, v.otherData]);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(TSIG_TYPE, 0);
  head.writeUInt16BE(CLASS_ANY, 2);
  head.writeUInt32BE(0, 4);
  head.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([v.keyName, head, rdata]);
}

function appendRecord(msg: Buffer, record: Buffer): Buffer {
  const out = Buffer.concat([msg, record]);
  out.writeUInt16BE(msg.readUInt16BE(10) + 1, 10);
  return out;
}

/**
 * Signs the messages of an answer to a signed request: the first over the request's MAC and the full TSIG
 * variables, each next one over the previous MAC and the timers (RFC 8945 §5.3). `error` answers a request that
 * failed verification (BADSIG and BADKEY unsigned, with an empty MAC; BADTIME signed, with the server's time).
 */
export function signAnswer(messages: readonly Buffer[], key: TsigKey, requestMac: Buffer, nowSeconds: number, error: number = TsigError.NOERROR): Buffer[] {
  return [...signEach(messages, key, requestMac, nowSeconds, error)];
}

/** signAnswer for messages made as they are sent (a zone transfer): each signed as it is taken. */
export function* signEach(messages: Iterable<Buffer>, key: TsigKey, requestMac: Buffer, nowSeconds: number, error: number = TsigError.NOERROR): Generator<Buffer> {
  const otherData = Buffer.alloc(error === TsigError.BADTIME ? 6 : 0);
  if (error === TsigError.BADTIME) otherData.writeUIntBE(nowSeconds, 0, 6);
  const v = ourVariables(key, nowSeconds, error, otherData);
  const unsignedError = error === TsigError.BADSIG || error === TsigError.BADKEY;
  let prior = requestMac;
  let first = true;
  for (const msg of messages) {
    const mac = unsignedError ? Buffer.alloc(0) : hmac(key, [withLength(prior), msg, variables(v, !first)]);
    yield appendRecord(msg, tsigRecord(v, msg.readUInt16BE(0), mac));
    prior = mac;
    first = false;
  }
}

/** The size of the TSIG record signAnswer appends: an answer keeps this much room below the client's limit. */
export function tsigRecordSize(key: TsigKey): number {
  const macSize = createHmac(HASHES[key.algorithm], '').digest().length;
  return tsigRecord(ourVariables(key, 0, TsigError.NOERROR), 0, Buffer.alloc(macSize)).length;
}

/** Signs a request (a NOTIFY): the message and the TSIG variables. */
export function signRequest(msg: Buffer, key: TsigKey, nowSeconds: number): Buffer {
  const v = ourVariables(key, nowSeconds, TsigError.NOERROR);
  const mac = hmac(key, [msg, variables(v, false)]);
  return appendRecord(msg, tsigRecord(v, msg.readUInt16BE(0), mac));
}
