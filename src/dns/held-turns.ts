import type { RRSet } from '../answers/name-table.js';

/** A truncated UDP answer is retried over TCP at once (glibc, dig, resolvers): a turn is held this long. */
const HOLD_MS = 3000;
/** Clients remembered at most: a flood of truncated queries costs a bounded map, oldest dropped first. */
const MAX_CLIENTS = 4096;

interface Held {
  readonly set: RRSet;
  readonly first: number;
  readonly until: number;
}

/**
 * Round-robin turns given to UDP answers that were truncated, by client address. The client's TCP retry of
 * the same question gets the turn its UDP answer had instead of taking the next one: otherwise each
 * truncated exchange spends two turns and a client that retries over TCP only ever sees every other
 * instance first. A stub that never retries (musl) simply lets its hold expire.
 */
export class HeldTurns {
  private readonly held = new Map<string, Held>();

  hold(client: string, set: RRSet, first: number, now: number): void {
    this.held.delete(client);
    this.held.set(client, { set, first, until: now + HOLD_MS });
    if (this.held.size > MAX_CLIENTS) this.held.delete(this.held.keys().next().value!);
  }

  /** The held turn of this client for this set, taken (once), or -1. */
  take(client: string, set: RRSet, now: number): number {
    if (this.held.size === 0) return -1;
    const h = this.held.get(client);
    if (h === undefined || h.set !== set) return -1;
    this.held.delete(client);
    return h.until >= now ? h.first : -1;
  }
}
