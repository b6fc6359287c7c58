import { Counter, Gauge, type Registry } from 'prom-client';
import { FoldedHistogram } from './folded-histogram.js';
import type { Logger } from 'pino';
import type { QueryObserver } from '../dns/query-handler.js';
import type { UdpIo } from '../dns/udp-batch.js';
import { typeName } from '../wire/constants.js';
import { keyToText } from '../wire/name.js';
import { cacheCounts } from '../dns/forward/response-cache.js';
import type { ParsedQuery } from '../wire/query.js';

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
/** Query types with their own label value; the rest count as "other" to bound cardinality. */
const LABELLED_TYPES = new Set([1, 2, 5, 6, 12, 15, 16, 28, 33, 255, 257, 252, 251]);

/**
 * DNS counters. A query costs a Map lookup and two plain increments: the
 * request counter's children keep a pending count that is added to
 * prom-client's counter when /metrics is scraped, and the duration
 * histogram is folded the same way (FoldedHistogram).
 */
export class DnsMetrics implements QueryObserver {
  private readonly requests: Counter<'transport' | 'qtype' | 'rcode' | 'zone'>;
  private readonly drops: Counter<'transport' | 'reason'>;
  private readonly forwards: Counter<'result'>;
  private readonly limited: Counter<'action'>;
  private readonly children = new Map<number, { labels: [string, string, string, string]; pending: number }>();
  /** Zone keys seen, numbered for the child key (a handful: the mesh zones, zone-file zones, none). */
  private readonly zones = new Map<string, number>();
  private readonly durations: FoldedHistogram;
  private readonly udpIoGauge: Gauge<'io'>;

  /** queryLog: log this fraction of queries at info (0 = none: nothing per query on the hot path). */
  constructor(
    registry: Registry,
    readonly queryLog: { rate: number; logger: Logger } = { rate: 0, logger: undefined as unknown as Logger },
  ) {
    this.durations = new FoldedHistogram(
      'meshdns_dns_request_duration_seconds',
      'Time from a query read to its answer written, by transport (forwarded queries include the upstream)',
      'transport',
      ['udp', 'tcp'],
      [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05, 0.25, 1, 2.5],
      registry,
    );
    const children = this.children;
    this.requests = new Counter({
      name: 'meshdns_dns_requests_total',
      help: 'DNS queries answered, by transport, query type, response code and zone (the zone answering; "." for names outside every zone)',
      labelNames: ['transport', 'qtype', 'rcode', 'zone'],
      registers: [registry],
      // Counts kept per query are added here, when /metrics is read.
      collect() {
        for (const child of children.values()) {
          if (child.pending === 0) continue;
          this.labels(...child.labels).inc(child.pending);
          child.pending = 0;
        }
      },
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
    new Counter({
      name: 'meshdns_forward_cache_total',
      help: 'Lookups in the cache of forwarded answers, by result (hit, miss)',
      labelNames: ['result'],
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ result: 'hit' }, cacheCounts.hits);
        this.inc({ result: 'miss' }, cacheCounts.misses);
      },
    });
    this.limited = new Counter({
      name: 'meshdns_dns_rate_limited_total',
      help: 'UDP responses held back by --rrl-responses-per-second: dropped, or slipped (sent truncated)',
      labelNames: ['action'],
      registers: [registry],
    });
    this.udpIoGauge = new Gauge({
      name: 'meshdns_udp_io',
      help: 'How the UDP listeners read and write: 1 for the one in use (recvmmsg: batches through the native addon; dgram: node:dgram a datagram at a time)',
      labelNames: ['io'],
      registers: [registry],
      // Workers all choose the same on one machine: summed across a pool, it would count workers instead.
      aggregator: 'max',
    });
    // Every series at 0 from the start, so rate() and alerts see them before the first event (as CoreDNS does).
    for (const transport of ['udp', 'tcp']) for (const reason of ['short', 'response']) this.drops.inc({ transport, reason }, 0);
    for (const action of ['dropped', 'slipped']) this.limited.inc({ action }, 0);
    for (const result of ['answered', 'failed']) this.forwards.inc({ result }, 0);
  }

  udpIo(io: UdpIo): void {
    this.udpIoGauge.set({ io }, 1);
    this.udpIoGauge.set({ io: io === 'recvmmsg' ? 'dgram' : 'recvmmsg' }, 0);
  }

  answered(tcp: boolean, q: ParsedQuery, rcode: number, durationMs: number, client: string, zone: string): void {
    const qtype = q.qtype;
    this.durations.observe(tcp ? 1 : 0, durationMs / 1000);
    if (this.queryLog.rate > 0 && Math.random() < this.queryLog.rate) {
      this.queryLog.logger.info(
        { client, transport: tcp ? 'tcp' : 'udp', name: q.key === '' ? null : keyToText(q.key), type: typeName(qtype), rcode: rcode === 16 ? 'BADVERS' : (RCODE_NAMES[rcode] ?? String(rcode)), ms: Number(durationMs.toFixed(3)) },
        'query',
      );
    }
    const t = LABELLED_TYPES.has(qtype) ? qtype : 0;
    let z = this.zones.get(zone);
    if (z === undefined) this.zones.set(zone, (z = this.zones.size));
    const key = z * 2 ** 25 + ((tcp ? 1 << 24 : 0) | (t << 8) | rcode);
    let child = this.children.get(key);
    if (child === undefined) {
      const zoneText = zone === '' ? '.' : keyToText(zone);
      child = { labels: [tcp ? 'tcp' : 'udp', t === 0 ? 'other' : typeName(t), rcode === 16 ? 'BADVERS' : (RCODE_NAMES[rcode] ?? String(rcode)), zoneText], pending: 0 };
      this.children.set(key, child);
    }
    child.pending++;
  }

  dropped(tcp: boolean, reason: 'short' | 'response'): void {
    this.drops.inc({ transport: tcp ? 'tcp' : 'udp', reason });
  }

  forwarded(ok: boolean): void {
    this.forwards.inc({ result: ok ? 'answered' : 'failed' });
  }

  rateLimited(action: 'dropped' | 'slipped'): void {
    this.limited.inc({ action });
  }
}
