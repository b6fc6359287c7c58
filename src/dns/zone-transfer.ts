import type { ZoneRecord } from '../answers/zone-content.js';
import type { ZoneChange } from '../answers/zone-history.js';
import type { ZoneApex } from '../answers/zone-apex.js';
import { Flag, HEADER_SIZE, RRType } from '../wire/constants.js';
import { skipWireName } from '../wire/name.js';
import { setSoaSerial, tailOf } from '../wire/rdata.js';
import type { ParsedQuery } from '../wire/query.js';

/**
 * Zone transfers on the wire: AXFR (RFC 5936) of the zone content answers/zone-content.ts gives, SOA first and
 * last; IXFR (RFC 1995) as the changes since the client's serial when answers/zone-history.ts reaches back that
 * far, else as the whole zone (RFC 1995 §4 allows it).
 */

/** Records per message are added until a message would pass this: well under 64 KiB, as BIND and Knot size them. */
const MESSAGE_TARGET = 16 * 1024;

/**
 * The transfer as DNS messages (each to be framed on TCP): SOA, the records, SOA; the question in the first
 * message only (RFC 5936 §2.2).
 */
export function transferMessages(msg: Buffer, q: ParsedQuery, apex: ZoneApex, records: Iterable<ZoneRecord> | null): Iterable<Buffer> {
  const soa = soaRecord(apex);
  // null: an IXFR from a secondary that is up to date gets the SOA alone (RFC 1995 §4).
  return framed(msg, q, records === null ? [soa] : bracketed(soa, records));
}

function* bracketed(soa: ZoneRecord, records: Iterable<ZoneRecord>): Generator<ZoneRecord> {
  yield soa;
  yield* records;
  yield soa;
}

/** The zone's SOA record, with another serial when one is given (the versions an incremental transfer names). */
function soaRecord(apex: ZoneApex, serial?: number): ZoneRecord {
  const current = tailOf(apex.soa.records[0]!);
  const tail = serial === undefined ? current : Buffer.from(current);
  if (serial !== undefined) setSoaSerial(tail, serial);
  return { owner: Buffer.from(apex.key, 'latin1'), tail };
}

/**
 * An incremental transfer (RFC 1995 §4): the current SOA; per version step the old SOA, the records removed, the
 * new SOA, the records added; the current SOA again. `served` says whether a catalog record is one the zone serves
 * (the zone files' records take precedence over the catalog's).
 */
export function incrementalMessages(msg: Buffer, q: ParsedQuery, apex: ZoneApex, steps: readonly ZoneChange[], served: (r: ZoneRecord) => boolean): Iterable<Buffer> {
  const current = soaRecord(apex);
  const all: ZoneRecord[] = [current];
  for (const step of steps) {
    all.push(soaRecord(apex, step.from));
    for (const r of step.removed) if (served(r)) all.push(r);
    all.push(soaRecord(apex, step.to));
    for (const r of step.added) if (served(r)) all.push(r);
  }
  all.push(current);
  return framed(msg, q, all);
}

/** Records as DNS messages of about MESSAGE_TARGET each, the question in the first only, made as they are read. */
function framed(msg: Buffer, q: ParsedQuery, all: Iterable<ZoneRecord>): Iterable<Buffer> {
  // The request is the connection's read buffer and the parsed query is reused by the next one: keep what the
  // messages need now, before they are made.
  return frames(Buffer.from(msg.subarray(HEADER_SIZE, q.questionEnd)), q.id, q.flags & Flag.CD, all);
}

function* frames(question: Buffer, id: number, cd: number, all: Iterable<ZoneRecord>): Generator<Buffer> {
  let first = true;
  let parts: Buffer[] = [];
  let size = 0;
  let count = 0;
  const message = (): Buffer => {
    const header = Buffer.alloc(HEADER_SIZE);
    header.writeUInt16BE(id, 0);
    header.writeUInt16BE(Flag.QR | Flag.AA | cd, 2);
    header.writeUInt16BE(first ? 1 : 0, 4);
    header.writeUInt16BE(count, 6);
    const out = Buffer.concat(first ? [header, question, ...parts] : [header, ...parts]);
    first = false;
    parts = [];
    size = 0;
    count = 0;
    return out;
  };
  for (const r of all) {
    const length = r.owner.length + r.tail.length;
    if (count > 0 && size + length > MESSAGE_TARGET) yield message();
    parts.push(r.owner, r.tail);
    size += length;
    count++;
  }
  yield message();
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
