import { HEADER_SIZE, RRType } from '../../wire/constants.js';
import { skipWireName } from '../../wire/name.js';

/**
 * Walks a response and returns where each record's TTL field lies (OPT
 * excluded: its TTL field holds flags), so a cached response can be aged.
 * Returns null for anything malformed: such responses are relayed, never cached.
 */
export function ttlOffsets(msg: Buffer): number[] | null {
  if (msg.length < HEADER_SIZE) return null;
  const qd = msg.readUInt16BE(4);
  const rr = msg.readUInt16BE(6) + msg.readUInt16BE(8) + msg.readUInt16BE(10);
  let o = HEADER_SIZE;
  for (let i = 0; i < qd; i++) {
    o = skipWireName(msg, o);
    if (o < 0 || o + 4 > msg.length) return null;
    o += 4;
  }
  const offsets: number[] = [];
  for (let i = 0; i < rr; i++) {
    o = skipWireName(msg, o);
    if (o < 0 || o + 10 > msg.length) return null;
    if (msg.readUInt16BE(o) !== RRType.OPT) offsets.push(o + 4);
    o += 10 + msg.readUInt16BE(o + 8);
    if (o > msg.length) return null;
  }
  return offsets;
}
