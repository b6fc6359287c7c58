import type { EncodedRecord } from '../dns/wire/rdata.js';

/**
 * The precomputed shape of answers. Built when data changes, read per query.
 */

export interface RRSet {
  readonly type: number;
  readonly records: readonly EncodedRecord[];
  /** Present when the order is a weighted random draw per query; one weight (> 0) per record. */
  readonly weights: readonly number[] | null;
}

/**
 * The RRsets of one name, by type. A name holds one to three sets, so a
 * small array searched in order beats a Map: same speed at this size, a
 * fraction of the memory (400,000 names are 100,000 instances).
 */
export class RRSets {
  // Arrays built by push keep room for 16 elements; these are built at their exact length.
  private sets: RRSet[];

  constructor(entries: Iterable<readonly [number, RRSet]> = []) {
    this.sets = [...entries].map(([, set]) => set);
  }

  get(type: number): RRSet | undefined {
    const sets = this.sets;
    for (let i = 0; i < sets.length; i++) if (sets[i]!.type === type) return sets[i];
    return undefined;
  }

  has(type: number): boolean {
    return this.get(type) !== undefined;
  }

  set(type: number, set: RRSet): void {
    const i = this.sets.findIndex((s) => s.type === type);
    if (i >= 0) this.sets[i] = set;
    else this.sets = [...this.sets, set];
  }

  get size(): number {
    return this.sets.length;
  }

  values(): IterableIterator<RRSet> {
    return this.sets.values();
  }
}

/** What a resolver reads of a name's RRsets. */
export interface RRSetLookup {
  get(type: number): RRSet | undefined;
  values(): Iterable<RRSet>;
}

/** A name that exists. No sets at all is an empty non-terminal (RFC 8020 "exists"). */
export interface NameNode {
  readonly rrsets: RRSetLookup;
  /**
   * A service's names below its own, answered from here instead of having
   * table entries of their own: at 100,000 instances, an entry, a key and a
   * node per name cost more memory than the records themselves.
   */
  readonly below?: NamesBelowService;
}

/** An instance's address records: one, or an endpoint's A and AAAA under one name. */
export type AddressRecords = EncodedRecord | readonly EncodedRecord[];

/** Past this many instances a service indexes their labels; below it a scan is as fast and smaller. */
const INDEX_FROM = 16;

/**
 * The names under one service: <id> (address records), _<proto> (an empty
 * non-terminal) and _<port>._<proto> (an SRV set). Labels are in wire form
 * (length octet first), as they start a lookup key. Kept in two flat arrays,
 * label next to value, because most services have a handful of instances
 * and one or two ports.
 */
export class NamesBelowService {
  private readonly index: Map<string, AddressRecords> | null;

  /** instances: [label, records, label, records, ...]; srv: [proto, port, set, proto, port, set, ...] */
  constructor(
    private readonly instances: readonly (string | AddressRecords)[],
    private readonly srv: readonly (string | RRSet)[],
  ) {
    this.index = instances.length / 2 > INDEX_FROM ? new Map(pairs(instances)) : null;
  }

  instance(label: string): AddressRecords | undefined {
    if (this.index !== null) return this.index.get(label);
    const list = this.instances;
    for (let i = 0; i < list.length; i += 2) if (list[i] === label) return list[i + 1] as AddressRecords;
    return undefined;
  }

  hasProtocol(protoLabel: string): boolean {
    for (let i = 0; i < this.srv.length; i += 3) if (this.srv[i] === protoLabel) return true;
    return false;
  }

  srvSet(protoLabel: string, portLabel: string): RRSet | undefined {
    const list = this.srv;
    for (let i = 0; i < list.length; i += 3) if (list[i] === protoLabel && list[i + 1] === portLabel) return list[i + 2] as RRSet;
    return undefined;
  }
}

function* pairs(list: readonly (string | AddressRecords)[]): Generator<[string, AddressRecords]> {
  for (let i = 0; i < list.length; i += 2) yield [list[i] as string, list[i + 1] as AddressRecords];
}

export function fixedSet(type: number, records: readonly EncodedRecord[]): RRSet {
  return { type, records: [...records], weights: null };
}

export function weightedSet(type: number, records: readonly EncodedRecord[], weights: readonly number[]): RRSet {
  // One record has one order: no draw, no weights to keep.
  return { type, records: [...records], weights: records.length > 1 ? [...weights] : null };
}

export type NameTable = Map<string, NameNode>;
