import { LRUCache } from 'lru-cache';
import { HEADER_SIZE, Rcode } from '../../wire/constants.js';
import { ttlOffsets } from './ttl-offsets.js';

interface CachedResponse {
  readonly bytes: Buffer;
  readonly ttlAt: readonly number[];
  readonly storedAt: number;
}

export interface ResponseCacheOptions {
  maxEntries: number;
  /** Upper bound on how long anything is kept, whatever its TTL says. */
  maxTtlSeconds: number;
  now?: () => number;
}

/** Lookups of every forward cache of this process (a config reload makes a new cache; the counts go on). */
export const cacheCounts = { hits: 0, misses: 0 };

/**
 * Cache of forwarded answers, like CoreDNS's cache plugin in front of
 * forward: pods pointed at meshdns send every external lookup through it.
 * Entries live for the smallest TTL in the answer (capped) and are handed out
 * with TTLs aged by the time spent in the cache.
 */
export class ResponseCache {
  private readonly lru: LRUCache<string, CachedResponse>;
  private readonly now: () => number;

  constructor(private readonly opts: ResponseCacheOptions) {
    this.lru = new LRUCache({ max: opts.maxEntries });
    this.now = opts.now ?? Date.now;
  }

  static keyOf(qnameKey: string, qtype: number, qclass: number, dnssecOk: boolean): string {
    return `${qnameKey}|${qtype}|${qclass}|${dnssecOk ? 1 : 0}`;
  }

  store(key: string, response: Buffer): void {
    const rcode = response.length >= 4 ? response[3]! & 0xf : -1;
    if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN) return;
    if (response[2]! & 0x02) return; // truncated: the full answer is the client's to get over TCP
    const ttlAt = ttlOffsets(response);
    if (ttlAt === null || ttlAt.length === 0) return;
    let ttl = this.opts.maxTtlSeconds;
    for (const at of ttlAt) ttl = Math.min(ttl, response.readUInt32BE(at));
    if (ttl <= 0) return;
    this.lru.set(key, { bytes: Buffer.from(response), ttlAt, storedAt: this.now() }, { ttl: ttl * 1000 });
  }

  /** A copy with the client's ID and question bytes (its letter case), TTLs aged; undefined on a miss. */
  lookup(key: string, id: number, query: Buffer, questionEnd: number, limit: number): Buffer | undefined {
    const hit = this.lru.get(key);
    if (hit === undefined || hit.bytes.length > limit) {
      cacheCounts.misses++;
      return undefined;
    }
    cacheCounts.hits++;
    const out = Buffer.from(hit.bytes);
    out.writeUInt16BE(id, 0);
    if (questionEnd <= out.length) query.copy(out, HEADER_SIZE, HEADER_SIZE, questionEnd);
    const aged = Math.floor((this.now() - hit.storedAt) / 1000);
    if (aged > 0) for (const at of hit.ttlAt) out.writeUInt32BE(Math.max(0, out.readUInt32BE(at) - aged), at);
    return out;
  }
}
