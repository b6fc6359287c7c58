import type { ZoneRecord } from '../answers/zone-content.js';
import type { ZoneApex } from '../answers/zone-apex.js';
import { Flag, HEADER_SIZE, RRType } from '../wire/constants.js';
import { skipWireName } from '../wire/name.js';
import type { ParsedQuery } from '../wire/query.js';

/**
 * Zone transfers on the wire: AXFR (RFC 5936) and IXFR answered with the whole zone (RFC 1995 §4: allowed when
 * no history is kept) of the zone content answers/zone-content.ts gives, SOA first and last.
 */

/** Records per message are added until a message would pass this: well under 64 KiB, as BIND and Knot size them. */
const MESSAGE_TARGET = 16 * 1024;

/**
 * The transfer as DNS messages (each to be framed on TCP): SOA, the records, SOA; the question in the first
 * message only (RFC 5936 §2.2).
 */
export function transferMessages(msg: Buffer, q: ParsedQuery, apex: ZoneApex, records: readonly ZoneRecord[] | null): Buffer[] {
  const soaOwner = Buffer.from(apex.key, 'latin1');
  const soa: ZoneRecord = { owner: soaOwner, tail: apex.soa.records[0]!.tail };
  // null: an IXFR from a secondary that is up to date gets the SOA alone (RFC 1995 §4).
  const all: ZoneRecord[] = records === null ? [soa] : [soa, ...records, soa];
  const messages: Buffer[] = [];
  let parts: Buffer[] = [];
  let size = 0;
  let count = 0;
  const flush = (): void => {
    const first = messages.length === 0;
    const question = first ? msg.subarray(HEADER_SIZE, q.questionEnd) : Buffer.alloc(0);
    const header = Buffer.alloc(HEADER_SIZE);
    header.writeUInt16BE(q.id, 0);
    header.writeUInt16BE(Flag.QR | Flag.AA | (q.flags & Flag.CD), 2);
    header.writeUInt16BE(first ? 1 : 0, 4);
    header.writeUInt16BE(count, 6);
    messages.push(Buffer.concat([header, question, ...parts]));
    parts = [];
    size = 0;
    count = 0;
  };
  for (const r of all) {
    const length = r.owner.length + r.tail.length;
    if (count > 0 && size + length > MESSAGE_TARGET) flush();
    parts.push(r.owner, r.tail);
    size += length;
    count++;
  }
  flush();
  return messages;
}

/** An IXFR query's SOA serial (the secondary's), read from its authority section; undefined when there is none. */
export function ixfrClientSerial(msg: Buffer, q: ParsedQuery): number | undefined {
  const ancount = msg.readUInt16BE(6);
  const nscount = msg.readUInt16BE(8);
  let o = q.questionEnd;
  for (let i = 0; i < ancount + nscount; i++) {
    o = skipWireName(msg, o);
    if (o < 0 || o + 10 > msg.length) return undefined;
    const type = msg.readUInt16BE(o);
    const rdlength = msg.readUInt16BE(o + 8);
    const end = o + 10 + rdlength;
    if (end > msg.length) return undefined;
    if (i >= ancount && type === RRType.SOA && rdlength >= 20) return msg.readUInt32BE(end - 20);
    o = end;
  }
  return undefined;
}
