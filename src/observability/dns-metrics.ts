import { Counter, type Registry } from 'prom-client';
import type { QueryObserver } from '../dns/query-handler.js';
import { typeName } from '../dns/wire/constants.js';

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
/** Query types with their own label value; the rest count as "other" to bound cardinality. */
const LABELLED_TYPES = new Set([1, 2, 5, 6, 12, 15, 16, 28, 33, 255, 257, 252, 251]);

/**
 * DNS counters. Labelled children are memoised by a small integer key so a
 * query costs one Map lookup and an increment, not label hashing.
 */
export class DnsMetrics implements QueryObserver {
  private readonly requests: Counter<'transport' | 'qtype' | 'rcode'>;
  private readonly drops: Counter<'transport' | 'reason'>;
  private readonly forwards: Counter<'result'>;
  private readonly children = new Map<number, { inc: () => void }>();

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'meshdns_dns_requests_total',
      help: 'DNS queries answered, by transport, query type and response code',
      labelNames: ['transport', 'qtype', 'rcode'],
      registers: [registry],
    });
    this.drops = new Counter({
      name: 'meshdns_dns_dropped_total',
      help: 'DNS messages dropped without an answer (too short to read, or responses sent to us)',
      labelNames: ['transport', 'reason'],
      registers: [registry],
    });
    this.forwards = new Counter({
      name: 'meshdns_dns_forwarded_total',
      help: 'Queries for names outside the mesh zones sent to upstream resolvers, by result',
      labelNames: ['result'],
      registers: [registry],
    });
  }

  answered(tcp: boolean, qtype: number, rcode: number): void {
    const t = LABELLED_TYPES.has(qtype) ? qtype : 0;
    const key = (tcp ? 1 << 24 : 0) | (t << 8) | rcode;
    let child = this.children.get(key);
    if (child === undefined) {
      child = this.requests.labels(tcp ? 'tcp' : 'udp', t === 0 ? 'other' : typeName(t), rcode === 16 ? 'BADVERS' : (RCODE_NAMES[rcode] ?? String(rcode)));
      this.children.set(key, child);
    }
    child.inc();
  }

  dropped(tcp: boolean, reason: 'short' | 'response'): void {
    this.drops.inc({ transport: tcp ? 'tcp' : 'udp', reason });
  }

  forwarded(ok: boolean): void {
    this.forwards.inc({ result: ok ? 'answered' : 'failed' });
  }
}
