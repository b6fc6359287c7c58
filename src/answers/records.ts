import type { EncodedRecord } from '../dns/wire/rdata.js';

/**
 * The precomputed shape of answers. Built when data changes, read per query.
 */

export interface RRSet {
  readonly type: number;
  readonly records: readonly EncodedRecord[];
  /** Present when the order is a weighted random draw per query; one weight (> 0) per record. */
  readonly weights: Float64Array | null;
}

/** A name that exists. An empty map is an empty non-terminal (RFC 8020 "exists"). */
export interface NameNode {
  readonly rrsets: Map<number, RRSet>;
}

export function fixedSet(type: number, records: readonly EncodedRecord[]): RRSet {
  return { type, records, weights: null };
}

export function weightedSet(type: number, records: readonly EncodedRecord[], weights: readonly number[]): RRSet {
  return { type, records, weights: Float64Array.from(weights) };
}

export type NameTable = Map<string, NameNode>;
