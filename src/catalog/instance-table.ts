/** Past this many entries a table keeps a Map: below it a scan of the pairs is as fast, and much smaller. */
const SCAN_UP_TO = 16;

/**
 * A service's instances by key, as a Map reads them (insertion order, deletion while iterating), in less memory:
 * up to 16 entries as one array of key, value pairs of exactly their count, a Map past that. A Map of three
 * entries took ~180 bytes and one of ten ~500 (its hash table sized for growth); the pairs take 64 and 176 — at
 * 100,000 instances 2.9 MB whether they come in services of three (REST) or of ten (Kubernetes). Services are
 * small and change whole, so a write that adds or removes a key copies the pairs: an iteration under way keeps
 * the array it started on, as a Map's iterator sees a consistent sequence.
 */
export class InstanceTable<V> implements ReadonlyMap<string, V> {
  private store: readonly (string | V)[] | Map<string, V>;

  constructor(entries?: Iterable<readonly [string, V]>) {
    this.store = [];
    if (entries !== undefined) for (const [key, value] of entries) this.set(key, value);
  }

  get size(): number {
    const store = this.store;
    return store instanceof Map ? store.size : store.length / 2;
  }

  get(key: string): V | undefined {
    const store = this.store;
    if (store instanceof Map) return store.get(key);
    for (let i = 0; i < store.length; i += 2) if (store[i] === key) return store[i + 1] as V;
    return undefined;
  }

  has(key: string): boolean {
    const store = this.store;
    if (store instanceof Map) return store.has(key);
    for (let i = 0; i < store.length; i += 2) if (store[i] === key) return true;
    return false;
  }

  set(key: string, value: V): this {
    const store = this.store;
    if (store instanceof Map) {
      store.set(key, value);
      return this;
    }
    for (let i = 0; i < store.length; i += 2) {
      if (store[i] === key) {
        (store as (string | V)[])[i + 1] = value;
        return this;
      }
    }
    if (store.length / 2 < SCAN_UP_TO) this.store = [...store, key, value].slice();
    else this.store = new Map([...pairsOf(store), [key, value]]);
    return this;
  }

  delete(key: string): boolean {
    const store = this.store;
    if (store instanceof Map) return store.delete(key);
    for (let i = 0; i < store.length; i += 2) {
      if (store[i] !== key) continue;
      this.store = [...store.slice(0, i), ...store.slice(i + 2)].slice();
      return true;
    }
    return false;
  }

  clear(): void {
    this.store = [];
  }

  *entries(): MapIterator<[string, V]> {
    const store = this.store;
    if (store instanceof Map) yield* store.entries();
    else yield* pairsOf(store);
  }

  *keys(): MapIterator<string> {
    const store = this.store;
    if (store instanceof Map) yield* store.keys();
    else for (let i = 0; i < store.length; i += 2) yield store[i] as string;
  }

  /** No pair made per entry: the metrics walk every instance per scrape. */
  *values(): MapIterator<V> {
    const store = this.store;
    if (store instanceof Map) yield* store.values();
    else for (let i = 1; i < store.length; i += 2) yield store[i] as V;
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }
}

function* pairsOf<V>(list: readonly (string | V)[]): Generator<[string, V]> {
  for (let i = 0; i < list.length; i += 2) yield [list[i] as string, list[i + 1] as V];
}
