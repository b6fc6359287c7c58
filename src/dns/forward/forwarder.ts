import type { Logger } from 'pino';
import type { Forwarder } from '../query-handler.js';
import { responseLimit } from '../response-writer.js';
import type { ParsedQuery } from '../../wire/query.js';
import { ResponseCache } from './response-cache.js';
import { queryTcp, queryUdp, upstreamText, type Upstream } from './upstream.js';

export interface UpstreamForwarderOptions {
  upstreams: readonly Upstream[];
  timeoutMs: number;
  /** Forwards waiting on upstreams at most; more are REFUSED at once (CoreDNS forward's max_concurrent). */
  maxConcurrent: number;
  cache: ResponseCache | null;
  logger: Logger;
}

/**
 * Forwards names outside the mesh zones, like CoreDNS's forward plugin: UDP
 * first; over TCP when the upstream truncates and the client can take the
 * full answer (it came over TCP); the next upstream on timeout or error;
 * SERVFAIL (null) when all fail.
 */
export class UpstreamForwarder implements Forwarder {
  private next = 0;
  private lastWarning = 0;
  private inFlight = 0;

  constructor(private readonly opts: UpstreamForwarderOptions) {}

  /** Each forward holds a socket until its upstreams answer or time out: a flood of them must not use up file descriptors. */
  get overloaded(): boolean {
    return this.inFlight >= this.opts.maxConcurrent;
  }

  async forward(msg: Buffer, q: ParsedQuery, tcp: boolean): Promise<Buffer | null> {
    const cacheKey = ResponseCache.keyOf(q.key, q.qtype, q.qclass, q.ednsDo);
    const cached = this.opts.cache?.lookup(cacheKey, q.id, msg, q.questionEnd, responseLimit(q, tcp));
    if (cached !== undefined) return cached;
    this.inFlight++;
    try {
      return await this.ask(msg, q, tcp, cacheKey);
    } finally {
      this.inFlight--;
    }
  }

  private async ask(msg: Buffer, q: ParsedQuery, tcp: boolean, cacheKey: string): Promise<Buffer | null> {
    const { upstreams, timeoutMs, cache, logger } = this.opts;
    // Spread load: start at the next upstream each time, fail over in order.
    const start = this.next++ % upstreams.length;
    for (let i = 0; i < upstreams.length; i++) {
      const u = upstreams[(start + i) % upstreams.length]!;
      let reply = await queryUdp(u, msg, q.questionEnd, timeoutMs);
      if (reply !== null && tcp && (reply[2]! & 0x02) !== 0) reply = await queryTcp(u, msg, q.questionEnd, timeoutMs);
      if (reply === null) {
        logger.debug({ upstream: upstreamText(u) }, 'upstream did not answer; trying the next');
        continue;
      }
      cache?.store(cacheKey, reply);
      reply.writeUInt16BE(q.id, 0);
      return reply;
    }
    // Once every 10 s at most: a dead upstream must not turn into a log flood.
    if (Date.now() - this.lastWarning > 10_000) {
      this.lastWarning = Date.now();
      logger.warn({ upstreams: upstreams.map(upstreamText) }, 'no upstream answered a forwarded query; check --upstream');
    }
    return null;
  }
}
