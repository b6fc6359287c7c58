import { Flag, HEADER_SIZE, MAX_NAME_WIRE_LENGTH, RRType } from './constants.js';
import { skipWireName } from './name.js';
import { readWord } from './words.js';

/**
 * Parses an incoming query just far enough to answer it: header, the one
 * question (lowercased lookup key, original bytes kept for the echo), and the
 * OPT record. Everything is bounds-checked; any inconsistency is a FORMERR,
 * and a message without a full header is dropped.
 */

export const enum ParseOutcome {
  /** Not even a header: drop silently. */
  Drop,
  /** A response (QR=1) sent to us: never answer, that way lies a packet loop. */
  IgnoreResponse,
  Ok,
  FormErr,
  NotImp,
}

export interface ParsedQuery {
  outcome: ParseOutcome;
  id: number;
  /** The second header word as received. */
  flags: number;
  opcode: number;
  /** Offset just past the question; 12 when there is no usable question. */
  questionEnd: number;
  /** Lowercased wire qname read as latin1; '' when there is no usable question. */
  key: string;
  /** A hash of the key (FNV-1a of its octets), for the caches of recent names; 0 without a question. */
  keyHash: number;
  qnameLength: number;
  qtype: number;
  qclass: number;
  edns: boolean;
  ednsVersion: number;
  ednsUdpSize: number;
  ednsDo: boolean;
  /** A TSIG record is present (RFC 8945): the request is signed, and its answer must be. */
  signed: boolean;
}

export function emptyQuery(): ParsedQuery {
  return {
    outcome: ParseOutcome.Drop,
    id: 0,
    flags: 0,
    opcode: 0,
    questionEnd: HEADER_SIZE,
    key: '',
    keyHash: 0,
    qnameLength: 0,
    qtype: 0,
    qclass: 0,
    edns: false,
    ednsVersion: 0,
    ednsUdpSize: 0,
    ednsDo: false,
    signed: false,
  };
}

// Scratch for lowercasing the qname without allocating a Buffer per query.
const scratch = Buffer.allocUnsafe(MAX_NAME_WIRE_LENGTH);

/**
 * The keys of recently asked names, by a hash of their lowercased wire bytes: a name asked again (most are) gets
 * the same string as before, already hashed for the name tables' lookups, instead of a new string to make and
 * hash. Direct-mapped and fixed in size: a flood of random names only overwrites slots.
 */
const KEY_CACHE_SLOTS = 4096;
const cachedKeys: string[] = new Array<string>(KEY_CACHE_SLOTS).fill('');

function keyOfScratch(nameLength: number, hash: number): string {
  const slot = hash & (KEY_CACHE_SLOTS - 1);
  // The key is the wire name read as latin1, a character an octet: compared with the octets in place, it needs no
  // copy of its own (each one a cache miss or two more a query, on the answer path).
  const key = cachedKeys[slot]!;
  if (key.length === nameLength) {
    let i = 0;
    while (i < nameLength && key.charCodeAt(i) === scratch[i]) i++;
    if (i === nameLength) return key;
  }
  const fresh = scratch.toString('latin1', 0, nameLength);
  cachedKeys[slot] = fresh;
  return fresh;
}

/** Reads the query in the first `length` bytes of `msg` (all of it by default) into `q`. */
export function parseQuery(msg: Buffer, q: ParsedQuery, length = msg.length): ParsedQuery {
  q.key = '';
  q.keyHash = 0;
  q.questionEnd = HEADER_SIZE;
  q.qnameLength = 0;
  q.qtype = 0;
  q.qclass = 0;
  q.edns = false;
  q.ednsVersion = 0;
  q.ednsUdpSize = 0;
  q.ednsDo = false;
  q.signed = false;
  if (length < HEADER_SIZE) {
    q.outcome = ParseOutcome.Drop;
    return q;
  }
  q.id = readWord(msg, 0);
  q.flags = readWord(msg, 2);
  q.opcode = (q.flags >> 11) & 0xf;
  if (q.flags & Flag.QR) {
    q.outcome = ParseOutcome.IgnoreResponse;
    return q;
  }
  const qdcount = readWord(msg, 4);
  const ancount = readWord(msg, 6);
  const nscount = readWord(msg, 8);
  const arcount = readWord(msg, 10);
  if (qdcount !== 1) {
    q.outcome = q.opcode !== 0 ? ParseOutcome.NotImp : ParseOutcome.FormErr;
    return q;
  }

  // Question name: no compression pointers are possible this early.
  let o = HEADER_SIZE;
  for (;;) {
    if (o >= length) return formErr(q);
    const len = msg[o]!;
    if (len === 0) {
      o += 1;
      break;
    }
    if (len > 63) return formErr(q);
    o += len + 1;
    if (o - HEADER_SIZE >= MAX_NAME_WIRE_LENGTH) return formErr(q);
  }
  if (o + 4 > length) return formErr(q);
  const nameLength = o - HEADER_SIZE;
  let hash = 0x811c9dc5;
  for (let i = 0; i < nameLength; i++) {
    const c = msg[HEADER_SIZE + i]!;
    const lower = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    scratch[i] = lower;
    hash = Math.imul(hash ^ lower, 0x01000193); // FNV-1a
  }
  q.keyHash = hash >>> 0;
  q.key = keyOfScratch(nameLength, q.keyHash);
  q.qnameLength = nameLength;
  q.qtype = readWord(msg, o);
  q.qclass = readWord(msg, o + 2);
  o += 4;
  q.questionEnd = o;

  if (q.opcode !== 0) {
    q.outcome = ParseOutcome.NotImp;
    return q;
  }

  // Answer and authority sections of a query are normally empty; skip them.
  for (let i = 0; i < ancount + nscount; i++) {
    o = skipWireName(msg, o, length);
    if (o < 0 || o + 10 > length) return formErr(q);
    const rdlen = readWord(msg, o + 8);
    o += 10 + rdlen;
    if (o > length) return formErr(q);
  }
  for (let i = 0; i < arcount; i++) {
    const nameStart = o;
    o = skipWireName(msg, o, length);
    if (o < 0 || o + 10 > length) return formErr(q);
    const type = readWord(msg, o);
    const rdlen = readWord(msg, o + 8);
    if (o + 10 + rdlen > length) return formErr(q);
    if (type === RRType.OPT) {
      // RFC 6891 §6.1.1: one OPT at most, owned by the root.
      // A second OPT is FORMERR with the first one's OPT in the response (RFC 6891 §6.1.1, §7).
      if (q.edns || msg[nameStart] !== 0 || o !== nameStart + 1) return formErr(q);
      // Options must tile the rdata exactly; an OPT that does not is not answered with one.
      let p = o + 10;
      const end = p + rdlen;
      while (p < end) {
        if (p + 4 > end) return formErr(q);
        p += 4 + readWord(msg, p + 2);
      }
      if (p !== end) return formErr(q);
      q.edns = true;
      q.ednsUdpSize = readWord(msg, o + 2);
      q.ednsVersion = msg[o + 5]!;
      q.ednsDo = (msg[o + 6]! & 0x80) !== 0;
    } else if (type === RRType.TSIG) {
      q.signed = true;
    }
    o += 10 + rdlen;
  }
  q.outcome = ParseOutcome.Ok;
  return q;
}

function formErr(q: ParsedQuery): ParsedQuery {
  // The question is only echoed when it was read completely.
  if (q.questionEnd === HEADER_SIZE) q.key = '';
  q.outcome = ParseOutcome.FormErr;
  return q;
}

