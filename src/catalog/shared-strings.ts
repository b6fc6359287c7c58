/**
 * One copy of a string that many catalog entries spell alike: instance keys (`rest/i0`) and name labels built
 * from ids that repeat across services. Each build of such a string is a new one on the heap (24–40 bytes); at
 * 100,000 instances the copies were ~7 MB. Bounded: once full it hands strings back as they are, so names that
 * never repeat (Pod hostnames, addresses) cannot grow it past `max` entries.
 */
export class SharedStrings {
  private readonly kept = new Map<string, string>();

  constructor(private readonly max = 4096) {}

  /** The kept string equal to `text` (typed as it: a string of a literal union comes back as that union). */
  of<S extends string>(text: S): S {
    const kept = this.kept.get(text);
    // Equal to `text`, so of its type.
    if (kept !== undefined) return kept as S;
    if (this.kept.size < this.max) this.kept.set(text, text);
    return text;
  }
}
