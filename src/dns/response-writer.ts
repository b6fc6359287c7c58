import { clearForReuse } from '../answers/reuse.js';
import type { Random } from '../answers/random.js';
import type { Resolution } from '../answers/resolver.js';
import { weightedOrder } from '../answers/weighted-order.js';
import { roundRobinInZone, roundRobinOrder, roundRobinPeek, rotationFrom, uniformOrder, zoneFirst } from '../answers/policy-order.js';
import { LB_ROUND_ROBIN, LB_WEIGHTED, type DrawGroup, type RRSet } from '../answers/name-table.js';
import { HeldTurns } from './held-turns.js';
import { performance } from 'node:perf_hooks';
import { CLASSIC_UDP_PAYLOAD, Flag, HEADER_SIZE, OUR_UDP_PAYLOAD, RRType } from '../wire/constants.js';
import type { ParsedQuery } from '../wire/query.js';
import { writeWord } from '../wire/words.js';
import { copyBytes, copyTail, SRV_TARGET_AT, tailLengthAt, writeTail, type EncodedRecord } from '../wire/rdata.js';

const OPT_SIZE = 11;
const MAX_POINTER = 0x3fff;
const MAX_MESSAGE = 65535;

/** The most a client can take in one message on this transport. */
export function responseLimit(q: ParsedQuery, tcp: boolean): number {
  if (tcp) return MAX_MESSAGE;
  if (!q.edns) return CLASSIC_UDP_PAYLOAD;
  // Never more than we advertise: larger UDP answers fragment (DNS flag day 2020).
  return Math.min(Math.max(q.ednsUdpSize, CLASSIC_UDP_PAYLOAD), OUR_UDP_PAYLOAD);
}

/**
 * Assembles responses from precomputed record tails. Per query it writes the
 * header, copies the question (keeping the client's case), draws the weighted
 * order and copies tails behind 2-byte compression pointers. One scratch
 * buffer serves every response; the result is copied out once.
 */
export class ResponseWriter {
  /** Where messages are written: the scratch buffer, or for a moment a UDP batch's send slot (answer's `into`). */
  private buf: Buffer = Buffer.allocUnsafe(MAX_MESSAGE);
  private order = new Int32Array(64);
  // Additional-section candidates: where the target name was written, and its glue: record objects, or (a block
  // record's) the block's data with glueFrom the position of the list of glue positions after the SRV tail.
  private glueAt: number[] = [];
  private glueRecords: (EncodedRecord | readonly EncodedRecord[] | Buffer)[] = [];
  private glueFrom: number[] = [];

  private scratch = new Int32Array(64);
  /** The querying client (set per query by the handler): its zone is looked up only for prefer-zone sets. */
  clientAddress = '';
  clientFamily: 'ipv4' | 'ipv6' = 'ipv4';
  /** Whether the query came over TCP (set per query by the handler): a TCP retry gets its UDP answer's turn. */
  tcp = false;
  private readonly heldTurns = new HeldTurns();

  constructor(
    private readonly random: Random,
    private readonly glueFor: (targetKey: string) => readonly EncodedRecord[] | undefined,
    /** At most this many records of a drawn (weighted) set per answer; 0 = all (--answer-limit). */
    private readonly answerLimit = 0,
    /** --client-zone: the zone of a client address, if known. */
    private readonly zoneOf: (address: string, family: 'ipv4' | 'ipv6') => string | undefined = () => undefined,
  ) {}

  /**
   * The answer: a copy out of the scratch buffer, or, given `into` (a UDP batch's send slot, at least
   * MAX_MESSAGE bytes), written there directly and `into` returned, its first `writtenLength` bytes the answer:
   * no allocation and no copy a query.
   */
  answer(msg: Buffer, q: ParsedQuery, res: Resolution, limit: number, into?: Buffer): Buffer {
    if (into === undefined) return this.copyOut(this.answerLength(msg, q, res, limit));
    const scratch = this.buf;
    this.buf = into;
    try {
      this.writtenLength = this.answerLength(msg, q, res, limit);
    } finally {
      this.buf = scratch;
    }
    return into;
  }

  /** How much of `into` the last `answer(..., into)` wrote. */
  writtenLength = 0;

  /** Writes the answer into `this.buf` (the scratch buffer, or a send slot); its length. */
  private answerLength(msg: Buffer, q: ParsedQuery, res: Resolution, limit: number): number {
    const buf = this.buf;
    let rcode = res.rcode;
    let flags = Flag.QR | Flag.AA | (q.flags & (Flag.RD | Flag.CD));
    let pos = this.writeQuestion(msg, q);
    const questionEnd = pos;
    const reserve = q.edns ? OPT_SIZE : 0;
    const room = limit - reserve;
    let ancount = 0;
    let nscount = 0;
    let arcount = 0;
    let truncated = false;
    clearForReuse(this.glueAt);
    clearForReuse(this.glueRecords);
    clearForReuse(this.glueFrom);

    let ownerPointer = HEADER_SIZE;
    // The first round-robin set drawn, and whom its turn put first: held for the client if this is truncated.
    let turnSet: RRSet | null = null;
    let turnFirst = -1;
    outer: for (const set of res.sets) {
      const n = set.records.length;
      let count = n;
      if (set.weights !== null) {
        if (this.order.length < n) {
          this.order = new Int32Array(n * 2);
          this.scratch = new Int32Array(n * 2);
        }
        const draw = set.draw;
        if (draw.groups !== null) this.groupedOrder(draw.groups);
        else if (draw.lb === LB_WEIGHTED) weightedOrder(set.weights, this.order, this.random);
        else if (draw.lb === LB_ROUND_ROBIN) {
          if (turnSet === null) turnSet = set;
          this.roundRobin(set, n);
        } else uniformOrder(n, this.order, this.random);
        if (draw.zones !== null && draw.lb !== LB_ROUND_ROBIN) {
          const zone = this.zoneOf(this.clientAddress, this.clientFamily);
          if (zone !== undefined) zoneFirst(this.order, n, draw.zones, zone, this.scratch);
        }
        if (set === turnSet) turnFirst = this.order[0]!;
        const limit = draw.limit > 0 ? draw.limit : this.answerLimit;
        if (limit > 0 && limit < n) count = limit;
      }
      let nextOwner = -1;
      for (let i = 0; i < count; i++) {
        const index = set.weights !== null ? this.order[i]! : i;
        // A service node's record is an offset in its block (no object); any other record is an object over its tail.
        let data: Buffer;
        let at: number;
        let rec: EncodedRecord | undefined;
        if (set.bytes !== null) {
          data = set.bytes.data;
          at = set.bytes.base + set.records[index]!;
          rec = undefined;
        } else {
          rec = set.records[index]!;
          data = rec.data;
          at = rec.at;
        }
        const length = tailLengthAt(data, at);
        if (pos + 2 + length > room) {
          truncated = true;
          break outer;
        }
        buf[pos] = 0xc0 | (ownerPointer >> 8);
        buf[pos + 1] = ownerPointer & 0xff;
        copyTail(data, at, buf, pos + 2, length);
        if (rec === undefined) {
          // A block's SRV record lists its glue's positions after its tail.
          const targetAt = pos + 2 + SRV_TARGET_AT;
          if (set.type === RRType.SRV && targetAt <= MAX_POINTER && data[at + length]! > 0) {
            this.glueAt.push(targetAt);
            this.glueRecords.push(data);
            this.glueFrom.push(at + length);
          }
        } else {
          const targetAt = pos + 2 + rec.targetOffset;
          if (rec.targetOffset >= 0 && targetAt <= MAX_POINTER) {
            nextOwner = targetAt;
            const glue = rec.glue ?? (rec.type !== RRType.CNAME && rec.type !== RRType.PTR && rec.targetKey !== undefined ? this.glueFor(rec.targetKey) : undefined);
            if (glue !== undefined && (!Array.isArray(glue) || glue.length > 0)) {
              this.glueAt.push(targetAt);
              this.glueRecords.push(glue);
              this.glueFrom.push(-1);
            }
          }
        }
        pos += 2 + length;
        ancount++;
      }
      if (set.type === RRType.CNAME) {
        if (nextOwner < 0) break;
        ownerPointer = nextOwner;
      }
    }

    if (!truncated && res.negative && res.zone !== null) {
      const soa = res.zone.negativeSoaTail;
      if (pos + 2 + soa.length > room) {
        truncated = true;
      } else {
        // The apex is a suffix of the question name: point into it.
        const at = HEADER_SIZE + q.qnameLength - (res.zone.key.length);
        buf[pos] = 0xc0 | (at >> 8);
        buf[pos + 1] = at & 0xff;
        copyBytes(soa, 0, buf, pos + 2, soa.length);
        pos += 2 + soa.length;
        nscount = 1;
      }
    }

    if (truncated) {
      // The records that fit, whole, in the drawn order, with TC (RFC 2181 §9 allows it): resolvers retry over
      // TCP for the rest, and stub resolvers that never do (musl before 1.2.4) still get the weighted first
      // choices instead of nothing. Glue goes first: answer records are worth more than additional data.
      if (ancount === 0) pos = questionEnd;
      nscount = 0;
      flags |= Flag.TC;
      if (turnSet !== null && !this.tcp) this.heldTurns.hold(this.clientAddress, turnSet, turnFirst, performance.now());
    } else {
      // Additional data is optional: add what fits, never set TC for it.
      glue: for (let g = 0; g < this.glueAt.length; g++) {
        const at = this.glueAt[g]!;
        const records = this.glueRecords[g]!;
        const from = this.glueFrom[g]!;
        if (from >= 0) {
          // A block's glue: a count, then each record's position in the same data, four octets each.
          const data = records as Buffer;
          const n = data[from]!;
          for (let i = 0; i < n; i++) {
            const p = from + 1 + 4 * i;
            const recAt = ((data[p]! << 24) | (data[p + 1]! << 16) | (data[p + 2]! << 8) | data[p + 3]!) >>> 0;
            const length = tailLengthAt(data, recAt);
            if (pos + 2 + length > room) break glue;
            buf[pos] = 0xc0 | (at >> 8);
            buf[pos + 1] = at & 0xff;
            copyTail(data, recAt, buf, pos + 2, length);
            pos += 2 + length;
            arcount++;
          }
          continue;
        }
        const n = Array.isArray(records) ? records.length : 1;
        for (let i = 0; i < n; i++) {
          const rec = Array.isArray(records) ? (records as readonly EncodedRecord[])[i]! : (records as EncodedRecord);
          const length = rec.length;
          if (pos + 2 + length > room) break glue;
          buf[pos] = 0xc0 | (at >> 8);
          buf[pos + 1] = at & 0xff;
          writeTail(rec, buf, pos + 2, length);
          pos += 2 + length;
          arcount++;
        }
      }
    }
    if (q.edns) {
      pos = this.writeOpt(pos, 0, q.ednsDo);
      arcount++;
    }
    if (rcode > 15) rcode = 0; // never happens for answers; extended rcodes go through error()
    this.writeHeader(q.id, flags | (q.opcode << 11) | rcode, q.key === '' ? 0 : 1, ancount, nscount, arcount);
    return pos;
  }

  private groupOrder = new Int32Array(8);
  private groupWeights = new Float64Array(8);

  /**
   * A grouped set's order (Istio subsets with their own load balancers): the groups by weighted random choice
   * on their shares, then each group's records by the group's own policy, one group after the other.
   */
  private groupedOrder(groups: readonly DrawGroup[]): void {
    const count = groups.length;
    if (this.groupOrder.length < count) {
      this.groupOrder = new Int32Array(count * 2);
      this.groupWeights = new Float64Array(count * 2);
    }
    for (let g = 0; g < count; g++) this.groupWeights[g] = groups[g]!.weight;
    weightedOrder(this.groupWeights.subarray(0, count), this.groupOrder, this.random);
    let k = 0;
    for (let j = 0; j < count; j++) {
      const group = groups[this.groupOrder[j]!]!;
      const n = group.members.length;
      // Round robin within a subset turns only when the subset is chosen first: its window counts its own answers.
      if (group.lb === LB_ROUND_ROBIN) (j === 0 ? roundRobinOrder : roundRobinPeek)(group.weights, group.rr!, group.order);
      else if (group.lb === LB_WEIGHTED) weightedOrder(group.weights, group.order, this.random);
      else uniformOrder(n, group.order, this.random);
      for (let i = 0; i < n; i++) this.order[k++] = group.members[group.order[i]!]!;
    }
  }

  /**
   * Round robin's order for this query: the turn held for this client's TCP retry of a truncated UDP answer,
   * else the next turn, of the client zone's own window when the set prefers zones and the client's zone has
   * members (each zone's clients get exact counts of their own), else of the set's window.
   */
  private roundRobin(set: RRSet, n: number): void {
    const draw = set.draw;
    const zone = draw.zones === null ? undefined : this.zoneOf(this.clientAddress, this.clientFamily);
    const held = this.tcp ? this.heldTurns.take(this.clientAddress, set, performance.now()) : -1;
    if (held >= 0 && held < n) {
      rotationFrom(held, n, this.order);
      if (zone !== undefined) zoneFirst(this.order, n, draw.zones!, zone, this.scratch);
      return;
    }
    if (zone !== undefined && draw.rrByZone !== null) {
      let state = draw.rrByZone.get(zone);
      if (state === undefined) draw.rrByZone.set(zone, (state = new Float64Array(n)));
      if (roundRobinInZone(set.weights!, state, this.order, draw.zones!, zone, this.scratch)) return;
    }
    roundRobinOrder(set.weights!, draw.rr!, this.order);
  }

  /**
   * A response without records: FORMERR, NOTIMP, REFUSED, SERVFAIL, BADVERS.
   * The question is echoed when it was read; OPT is added when the query had one
   * (and must be, for an extended rcode).
   */
  error(msg: Buffer, q: ParsedQuery, rcode: number, withOpt: boolean): Buffer {
    let pos = this.writeQuestion(msg, q);
    let arcount = 0;
    if (withOpt) {
      pos = this.writeOpt(pos, rcode >> 4, q.ednsDo);
      arcount = 1;
    }
    const flags = Flag.QR | (q.opcode << 11) | (q.flags & (Flag.RD | Flag.CD)) | (rcode & 0xf);
    this.writeHeader(q.id, flags, q.key === '' ? 0 : 1, 0, 0, arcount);
    return this.copyOut(pos);
  }

  /** The response, copied out of the scratch buffer (the socket may still be sending it when the next is written). */
  private copyOut(length: number): Buffer {
    // allocUnsafe takes small buffers from Node's pool, and copying straight into it skips the view that
    // Buffer.from(subarray) made first: one object less per query.
    const out = Buffer.allocUnsafe(length);
    this.buf.copy(out, 0, 0, length);
    return out;
  }

  private writeQuestion(msg: Buffer, q: ParsedQuery): number {
    if (q.key === '') return HEADER_SIZE;
    copyBytes(msg, HEADER_SIZE, this.buf, HEADER_SIZE, q.questionEnd - HEADER_SIZE);
    return q.questionEnd;
  }

  private writeHeader(id: number, flags: number, qd: number, an: number, ns: number, ar: number): void {
    const buf = this.buf;
    writeWord(buf, 0, id);
    writeWord(buf, 2, flags);
    writeWord(buf, 4, qd);
    writeWord(buf, 6, an);
    writeWord(buf, 8, ns);
    writeWord(buf, 10, ar);
  }

  /** OPT pseudo-record (RFC 6891 §6.1.2): root owner, our payload size, extended rcode, DO echoed (RFC 3225 §3). */
  private writeOpt(pos: number, extendedRcode: number, dnssecOk: boolean): number {
    const buf = this.buf;
    buf[pos] = 0;
    writeWord(buf, pos + 1, RRType.OPT);
    writeWord(buf, pos + 3, OUR_UDP_PAYLOAD);
    buf[pos + 5] = extendedRcode;
    buf[pos + 6] = 0; // version 0
    buf[pos + 7] = dnssecOk ? 0x80 : 0;
    buf[pos + 8] = 0;
    writeWord(buf, pos + 9, 0);
    return pos + OPT_SIZE;
  }
}

