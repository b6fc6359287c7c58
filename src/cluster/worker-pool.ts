import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { Catalog } from '../catalog/catalog.js';
import type { ListenAddress } from '../dns/listen-address.js';
import { fullSnapshot, snapshotOf, type ClientZonesMessage, type ClientNamespacesMessage } from './replication.js';

/** Messages a worker sends to its primary. */
export type WorkerMessage = { type: 'listening'; bound: ListenAddress[] } | { type: 'failed'; message: string };

/**
 * The primary's side of `--workers N`: forks N processes that each answer
 * DNS on the shared listener sockets from a replica of the catalog. Every
 * catalog change is sent to every worker as the changed services' full
 * state; a worker that starts (or restarts after a crash) gets everything
 * first. Each worker reads UDP from a socket of its own on the shared port
 * (SO_REUSEPORT), so the kernel spreads datagrams without a hop through
 * the primary; Node's cluster spreads TCP connections.
 */
export class WorkerPool {
  private readonly workers = new Set<Worker>();
  private readonly listening = new Set<Worker>();
  private stopping = false;
  private readonly aggregator = new AggregatorRegistry();
  private readonly pending = new Set<string>();
  private flushScheduled = false;

  constructor(
    private readonly count: number,
    private readonly catalog: Catalog,
    private readonly logger: Logger,
  ) {
    // Changes are batched per tick: a Kubernetes re-list of 10,000 Services is a few messages, not 10,000.
    catalog.onChange((keys) => {
      if (this.listening.size === 0) return;
      for (const k of keys) this.pending.add(k);
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        const message = snapshotOf(catalog, this.pending);
        this.pending.clear();
        for (const w of this.listening) w.send(message);
      });
    });
    catalog.onClientZoneRanges((ranges) => {
      const message: ClientZonesMessage = { type: 'client-zones', ranges };
      for (const w of this.listening) w.send(message);
    });
    catalog.onClientNamespaces((entries) => {
      const message: ClientNamespacesMessage = { type: 'client-namespaces', entries };
      for (const w of this.listening) w.send(message);
    });
  }

  /** The ports the first worker bound (port 0 resolved), handed to every later worker. */
  private ports: number[] | undefined;

  /**
   * Forks the workers and resolves with the addresses they bound once all listen. The first binds alone, so
   * that a port 0 becomes one concrete port that the others' SO_REUSEPORT sockets join.
   */
  start(): Promise<ListenAddress[]> {
    cluster.setupPrimary({ serialization: 'advanced' });
    return new Promise((resolve, reject) => {
      this.fork((bound) => {
        this.ports = bound.map((b) => b.port);
        if (this.listening.size === this.count) resolve(bound);
        for (let i = 1; i < this.count; i++) {
          this.fork(() => {
            if (this.listening.size === this.count) resolve(bound);
          }, reject);
        }
      }, reject);
    });
  }

  private fork(onListening: (bound: ListenAddress[]) => void, onFailed: (err: Error) => void): void {
    const worker = cluster.fork(this.ports === undefined ? {} : { MESHDNS_WORKER_DNS_PORTS: JSON.stringify(this.ports) });
    this.workers.add(worker);
    worker.on('message', (m: WorkerMessage | { type?: string }) => {
      if (m.type === 'listening') {
        // Everything so far, then every change as it happens.
        worker.send(fullSnapshot(this.catalog));
        if (this.catalog.clientZoneRanges().length > 0) worker.send({ type: 'client-zones', ranges: this.catalog.clientZoneRanges() } satisfies ClientZonesMessage);
        if (this.catalog.clientNamespaces().size > 0) worker.send({ type: 'client-namespaces', entries: this.catalog.clientNamespaces() } satisfies ClientNamespacesMessage);
        this.listening.add(worker);
        onListening((m as { bound: ListenAddress[] }).bound);
      } else if (m.type === 'failed') {
        onFailed(new Error((m as { message: string }).message));
      }
    });
    worker.on('exit', (code, signal) => {
      this.workers.delete(worker);
      this.listening.delete(worker);
      if (this.stopping) return;
      this.logger.error({ pid: worker.process.pid, code, signal }, 'DNS worker died; starting another');
      this.fork(() => undefined, (err) => this.logger.error({ err: err.message }, 'replacement DNS worker failed to start'));
    });
  }

  get ready(): boolean {
    return this.listening.size === this.count;
  }

  /** Worker metrics summed across workers (prom-client's cluster aggregation). */
  metrics(): Promise<string> {
    return this.aggregator.clusterMetrics();
  }

  /** Passes a reloaded config on (log level, query log, forwarding) and has workers re-read zone files. */
  reload(config: unknown): void {
    for (const w of this.listening) w.send({ type: 'reload', config });
  }

  /** Asks every worker to drain and exit; kills what is left after graceMs. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const exits = [...this.workers].map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))));
    for (const w of this.workers) if (w.isConnected()) w.send({ type: 'shutdown' });
    const timer = setTimeout(() => {
      for (const w of this.workers) w.kill('SIGKILL');
    }, graceMs);
    await Promise.all(exits);
    clearTimeout(timer);
  }
}
