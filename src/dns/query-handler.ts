// The module's binding, not the global: `performance` on globalThis is an accessor, a global load that misses the
// inline cache and a getter call on every query.
import { performance } from 'node:perf_hooks';
import type { UdpIo } from './udp-batch.js';
import { emptyResolution, Outcome, type Resolver } from '../answers/resolver.js';
import { ResponseWriter, responseLimit } from './response-writer.js';
import { RRClass, RRType, Rcode } from '../wire/constants.js';
import { emptyQuery, ParseOutcome, parseQuery, type ParsedQuery } from '../wire/query.js';
import type { Random } from '../answers/random.js';
import type { BlockList } from 'node:net';
import type { ZoneApex } from '../answers/zone-apex.js';
import { incrementalMessages, ixfrClientSerial, transferMessages } from './zone-transfer.js';
import type { ZoneChange } from '../answers/zone-history.js';
import { wireToText } from '../wire/name.js';
import { soaSerial, tailOf } from '../wire/rdata.js';
import { MessageStream } from './message-stream.js';
import { findTsig, signAnswer, signEach, TsigError, tsigRecordSize, verifyRequest, type TsigKey } from '../wire/tsig.js';

/** What the metrics are told a transfer answered with (its messages are made as the connection takes them). */
const NO_MESSAGE = Buffer.alloc(0);

/** Forwards a query for a name outside our zones; resolves to the upstream's answer (our client's ID restored) or null. */
export interface Forwarder {
  forward(msg: Buffer, q: ParsedQuery, tcp: boolean): Promise<Buffer | null>;
  /** True while as many forwards wait as allowed: the next is REFUSED without waiting. */
  readonly overloaded: boolean;
}

export interface QueryHandlerOptions {
  resolver: Resolver;
  random: Random;
  /** Absent: names outside the zones are REFUSED. */
  forwarder?: Forwarder;
  /** Clients allowed to use forwarding, so that we are never an open resolver. */
  forwardAllowed: BlockList;
  observer?: QueryObserver;
  /** --answer-limit: records of a weighted A/AAAA/SRV set per answer; 0 = all. */
  answerLimit?: number;
  /** --client-zone: a client address's zone, for services with locality prefer-zone. */
  zoneOf?: (address: string, family: 'ipv4' | 'ipv6') => string | undefined;
  /** --transfer-allow: who may transfer the zones (AXFR, IXFR over TCP); absent or empty: nobody. */
  transferAllowed?: BlockList;
  /** --tsig-key-file: transfers need a request signed with this key, and are answered signed. */
  tsigKey?: TsigKey;
  /** The zone's version steps since a serial, when kept that far back (IXFR); absent: IXFR sends the whole zone. */
  zoneChanges?: (zoneKey: string, since: number) => readonly ZoneChange[] | undefined;
}

/** Counts outcomes for metrics; called once per answered query, so it must be cheap. */
export interface QueryObserver {
  /** `q` is reused for the next query: read it now, keep nothing. */
  answered(tcp: boolean, q: ParsedQuery, rcode: number, durationMs: number, client: string, zone: string): void;
  dropped(tcp: boolean, reason: 'short' | 'response'): void;
  forwarded(ok: boolean): void;
  /** A UDP response held back by response-rate limiting: dropped, or sent truncated. */
  rateLimited(action: 'dropped' | 'slipped'): void;
  /** Which UDP I/O the listeners use (said once, at start). */
  udpIo?(io: UdpIo): void;
}

/**
 * Turns one DNS message into its response. Authoritative answers are
 * computed synchronously; only forwarding returns a promise, so the hot path
 * creates no promises or closures.
 */
export class QueryHandler {
  private readonly query: ParsedQuery = emptyQuery();
  private readonly resolution = emptyResolution();
  private readonly writer: ResponseWriter;
  private started = 0;
  private client = '';
  /** The zone that answered the query being handled ('' outside every zone), for the metrics. */
  private zone = '';

  /** Swaps forwarding settings at run time (SIGHUP config reload). */
  setForwarding(forwarder: Forwarder | undefined, allowed: BlockList): void {
    this.opts.forwarder = forwarder;
    this.opts.forwardAllowed = allowed;
  }

  constructor(private readonly opts: QueryHandlerOptions) {
    this.writer = new ResponseWriter(opts.random, (key) => opts.resolver.glueFor(key), opts.answerLimit ?? 0, opts.zoneOf);
  }

  /**
   * `msg` is the caller's for this call only (UDP batches reuse it): whatever answers later keeps a copy.
   * `into` (UDP batches: the datagram's send slot): an answer from the catalog is written there and `into`
   * returned, its first `writtenLength` bytes the answer; every other answer is a Buffer of its own.
   * `length`: the message is the first `length` bytes of `msg` (UDP batches hand their slot, not a view a query:
   * parsing and the catalog's answer read only those; every other path gets the message cut to size).
   * `readAt`: when the message was read (`performance.now()`), for the duration metric; UDP batches take the time
   * once a run instead of once a query.
   */
  handle(msg: Buffer, tcp: boolean, clientAddress: string, family: 'ipv4' | 'ipv6', into?: Buffer, length = msg.length, readAt = performance.now()): Buffer | MessageStream | null | Promise<Buffer | null> {
    this.started = readAt;
    this.client = clientAddress;
    this.zone = '';
    const q = parseQuery(msg, this.query, length);
    const writer = this.writer;
    switch (q.outcome) {
      case ParseOutcome.Drop:
        this.opts.observer?.dropped(tcp, 'short');
        return null;
      case ParseOutcome.IgnoreResponse:
        this.opts.observer?.dropped(tcp, 'response');
        return null;
      case ParseOutcome.FormErr:
        // With the OPT of the query when it was read whole (RFC 6891 §7).
        return this.done(writer.error(whole(msg, length), q, Rcode.FORMERR, q.edns), tcp, q, Rcode.FORMERR);
      case ParseOutcome.NotImp:
        return this.done(writer.error(whole(msg, length), q, Rcode.NOTIMP, q.edns), tcp, q, Rcode.NOTIMP);
      case ParseOutcome.Ok:
        break;
    }
    if (q.edns && q.ednsVersion > 0) {
      return this.done(writer.error(whole(msg, length), q, Rcode.BADVERS, true), tcp, q, Rcode.BADVERS);
    }
    if (q.qclass !== RRClass.IN && q.qclass !== RRClass.ANY) {
      return this.done(writer.error(whole(msg, length), q, Rcode.REFUSED, q.edns), tcp, q, Rcode.REFUSED);
    }
    if (q.signed) return this.signedRequest(whole(msg, length), q, tcp, clientAddress, family);
    this.opts.resolver.client = clientAddress;
    const res = this.opts.resolver.resolve(q.key, q.qtype, this.resolution, q.keyHash);
    this.zone = res.zone === null ? '' : res.zone.key;
    if (res.outcome === Outcome.Outside) return this.outside(whole(msg, length), q, tcp, clientAddress, family);
    // QTYPE OPT is a type no name has: NODATA, as Knot answers it (falls through to the resolver).
    if (q.qtype === RRType.AXFR || q.qtype === RRType.IXFR) {
      // With --tsig-key-file a transfer must be signed (this request was not).
      if (this.opts.tsigKey !== undefined) return this.done(writer.error(whole(msg, length), q, Rcode.REFUSED, q.edns), tcp, q, Rcode.REFUSED);
      const reply = this.transfer(whole(msg, length), q, res.zone, tcp, clientAddress, family);
      if (reply === undefined) return this.done(writer.error(whole(msg, length), q, Rcode.REFUSED, q.edns), tcp, q, Rcode.REFUSED);
      this.done(NO_MESSAGE, tcp, q, Rcode.NOERROR);
      return new MessageStream(reply[Symbol.iterator]());
    }
    writer.clientAddress = clientAddress;
    writer.clientFamily = family;
    writer.tcp = tcp;
    return this.done(writer.answer(msg, q, res, responseLimit(q, tcp), into), tcp, q, res.rcode);
  }

  /** How many bytes of `into` the last answer written there took (see handle). */
  get writtenLength(): number {
    return this.writer.writtenLength;
  }

  /**
   * AXFR and IXFR: over TCP, from a client --transfer-allow lets in, for a zone apex we serve (a generated
   * reverse zone has no content of its own to send). IXFR from a serial at or past ours is the SOA alone (up to
   * date); from a serial the zone history reaches, the changes since; any other, the whole zone (RFC 1995 §4).
   * Everything else is REFUSED (undefined).
   */
  private transfer(msg: Buffer, q: ParsedQuery, zone: ZoneApex | null, tcp: boolean, address: string, family: 'ipv4' | 'ipv6'): Iterable<Buffer> | undefined {
    const allowed = this.opts.transferAllowed;
    if (!tcp || zone === null || zone.reverse === true || q.key !== zone.key || allowed === undefined || !allowed.check(address, family)) {
      return undefined;
    }
    const serial = soaSerial(tailOf(zone.soa.records[0]!));
    const client = q.qtype === RRType.IXFR ? ixfrClientSerial(msg, q) : undefined;
    const upToDate = client !== undefined && ((serial - client) | 0) <= 0;
    const steps = client === undefined || upToDate ? undefined : this.opts.zoneChanges?.(zone.key, client);
    if (steps !== undefined && steps.length > 0 && steps[steps.length - 1]!.to === serial) {
      const resolver = this.opts.resolver;
      return incrementalMessages(msg, q, zone, steps, (r) => resolver.servedBesideZoneFiles(r.owner.toString('latin1'), r.tail.readUInt16BE(0)));
    }
    return transferMessages(msg, q, zone, upToDate ? null : this.opts.resolver.zoneContent(zone));
  }

  /**
   * A request with a TSIG (RFC 8945): a secondary's SOA check, a transfer, dig -y. Verified against
   * --tsig-key-file (no key, or another: NOTAUTH/BADKEY; a wrong MAC: NOTAUTH/BADSIG; out of the fudge:
   * NOTAUTH/BADTIME) and answered signed. A signed request for a name outside our zones is not forwarded: the
   * key is ours, not the upstream's.
   */
  private signedRequest(msg: Buffer, q: ParsedQuery, tcp: boolean, address: string, family: 'ipv4' | 'ipv6'): Buffer | MessageStream {
    const key = this.opts.tsigKey;
    const now = Math.floor(Date.now() / 1000);
    const verdict = key === undefined ? undefined : verifyRequest(msg, key, now);
    if (key === undefined || verdict === undefined || !verdict.ok) {
      const refusal = this.writer.error(msg, q, Rcode.NOTAUTH, false);
      const tsig = verdict?.tsig ?? findTsig(msg);
      // The error's TSIG names the request's key; BADKEY and BADSIG carry no MAC (§5.2), BADTIME is signed.
      const errorKey: TsigKey = { name: tsig === undefined ? '.' : wireToText(tsig.keyName), algorithm: key?.algorithm ?? 'hmac-sha256', secret: key?.secret ?? Buffer.alloc(0) };
      const error = verdict !== undefined && !verdict.ok ? verdict.error : TsigError.BADKEY;
      const signed = tsig === undefined ? refusal : signAnswer([refusal], errorKey, tsig.mac, now, error)[0]!;
      return this.done(signed, tcp, q, Rcode.NOTAUTH);
    }
    this.opts.resolver.client = address;
    const res = this.opts.resolver.resolve(q.key, q.qtype, this.resolution);
    this.zone = res.zone === null ? '' : res.zone.key;
    const transfer = q.qtype === RRType.AXFR || q.qtype === RRType.IXFR;
    const messages = transfer && res.outcome !== Outcome.Outside ? this.transfer(msg, q, res.zone, tcp, address, family) : undefined;
    if (messages !== undefined) {
      this.done(NO_MESSAGE, tcp, q, Rcode.NOERROR);
      // The request's MAC is read from the connection's buffer: copied before the messages are made.
      return new MessageStream(signEach(messages, key, Buffer.from(verdict.tsig.mac), now));
    }
    const writer = this.writer;
    writer.clientAddress = address;
    writer.clientFamily = family;
    writer.tcp = tcp;
    const unsigned = res.outcome === Outcome.Outside || transfer ? writer.error(msg, q, Rcode.REFUSED, q.edns) : writer.answer(msg, q, res, responseLimit(q, tcp) - tsigRecordSize(key));
    const signed = signAnswer([unsigned], key, verdict.tsig.mac, now)[0]!;
    return this.done(signed, tcp, q, signed[3]! & 0xf);
  }

  private outside(msg: Buffer, q: ParsedQuery, tcp: boolean, address: string, family: 'ipv4' | 'ipv6'): Buffer | Promise<Buffer | null> {
    const forwarder = this.opts.forwarder;
    if (forwarder === undefined || !this.opts.forwardAllowed.check(address, family) || forwarder.overloaded) {
      return this.done(this.writer.error(msg, q, Rcode.REFUSED, q.edns), tcp, q, Rcode.REFUSED);
    }
    // The parsed query is reused by the next message, and the message may be a view into a batch of datagrams
    // (udp-batch.ts) that the next batch overwrites: keep copies of what the async path needs.
    const snapshot: ParsedQuery = { ...q };
    msg = Buffer.from(msg);
    const started = this.started;
    return forwarder.forward(msg, snapshot, tcp).then((answer) => {
      this.opts.observer?.forwarded(answer !== null);
      this.started = started;
      this.client = address;
      this.zone = '';
      if (answer !== null) return this.done(answer, tcp, snapshot, answer.length >= 4 ? answer[3]! & 0xf : Rcode.SERVFAIL);
      return this.done(this.writer.error(msg, snapshot, Rcode.SERVFAIL, snapshot.edns), tcp, snapshot, Rcode.SERVFAIL);
    });
  }

  private done(response: Buffer, tcp: boolean, q: ParsedQuery, rcode: number): Buffer {
    this.opts.observer?.answered(tcp, q, rcode, performance.now() - this.started, this.client, this.zone);
    return response;
  }
}

/** The message cut to its length: a view made only off the catalog's answer path. */
function whole(msg: Buffer, length: number): Buffer {
  return length === msg.length ? msg : msg.subarray(0, length);
}
