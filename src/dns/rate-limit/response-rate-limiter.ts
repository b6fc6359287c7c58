import { LRUCache } from 'lru-cache';
import type { BlockList } from 'node:net';
import { Flag, HEADER_SIZE, Rcode } from '../../wire/constants.js';
import { skipWireName } from '../../wire/name.js';
import { clientPrefix } from './client-prefix.js';

export interface RateLimitOptions {
  /** Identical responses per second to one client network before limiting starts. */
  readonly responsesPerSecond: number;
  /** Every Nth limited response goes out truncated (TC) instead of dropped; 0 drops them all. */
  readonly slip: number;
  readonly ipv4PrefixLength: number;
  readonly ipv6PrefixLength: number;
  /** Clients never limited (monitoring, the CoreDNS nodes in front of us). */
  readonly exempt: BlockList;
  /** Buckets kept; the least recently used are forgotten first, which only ever lets traffic through. */
  readonly maxTracked?: number;
}

export const enum RateDecision {
  Send,
  Drop,
  Slip,
}

interface Bucket {
  tokens: number;
  stampMs: number;
  limited: number;
}

/**
 * Response-rate limiting for UDP, after BIND's RRL: a DNS server must not
 * become the amplifier of a reflection attack with spoofed sources. Responses
 * are counted per client network and per kind of response: positive answers
 * and NODATA per question, NXDOMAIN and errors per network as a whole (random
 * names must not each get a fresh allowance). Over the rate, responses are
 * dropped, except every `slip`th, sent truncated so a real client behind the
 * spoofed address retries over TCP, which cannot be spoofed.
 */
export class ResponseRateLimiter {
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(private readonly opts: RateLimitOptions) {
    this.buckets = new LRUCache({ max: opts.maxTracked ?? 100_000 });
  }

  decide(response: Buffer, client: string, family: 'ipv4' | 'ipv6', nowMs: number): RateDecision {
    if (this.opts.exempt.check(client, family)) return RateDecision.Send;
    const key = `${clientPrefix(client, this.opts.ipv4PrefixLength, this.opts.ipv6PrefixLength)}|${responseKind(response)}`;
    const rate = this.opts.responsesPerSecond;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: rate, stampMs: nowMs, limited: 0 };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(rate, bucket.tokens + ((nowMs - bucket.stampMs) * rate) / 1000);
      bucket.stampMs = nowMs;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return RateDecision.Send;
    }
    bucket.limited++;
    return this.opts.slip > 0 && bucket.limited % this.opts.slip === 0 ? RateDecision.Slip : RateDecision.Drop;
  }
}

/** What responses count together: the rcode class, and for answers and NODATA the question (case folded). */
function responseKind(response: Buffer): string {
  const rcode = response[3]! & 0xf;
  if (rcode === Rcode.NXDOMAIN) return 'nxdomain';
  if (rcode !== Rcode.NOERROR) return 'error';
  const questionEnd = questionEndOf(response);
  if (questionEnd < 0) return 'error';
  const kind = response.readUInt16BE(6) > 0 ? 'answer' : 'nodata';
  return `${kind}|${response.toString('latin1', HEADER_SIZE, questionEnd).toLowerCase()}`;
}

function questionEndOf(response: Buffer): number {
  if (response.length < HEADER_SIZE || response.readUInt16BE(4) !== 1) return -1;
  const nameEnd = skipWireName(response, HEADER_SIZE);
  return nameEnd < 0 || nameEnd + 4 > response.length ? -1 : nameEnd + 4;
}

/** The slip response: header and question of the limited response, TC set, no records. */
export function truncatedCopy(response: Buffer): Buffer {
  const questionEnd = Math.max(questionEndOf(response), HEADER_SIZE);
  const out = Buffer.from(response.subarray(0, questionEnd));
  out.writeUInt16BE(out.readUInt16BE(2) | Flag.TC, 2);
  out.writeUInt16BE(questionEnd > HEADER_SIZE ? 1 : 0, 4);
  out.fill(0, 6, HEADER_SIZE);
  return out;
}
