import { memoryLimits, workerHeapLimitMb } from '../observability/memory-limits.js';
import type { UdpIoChoice } from '../dns/udp-batch.js';
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { Catalog } from '../catalog/catalog.js';
import type { ListenAddress } from '../config/listen-address.js';
import { changesOf, snapshotOf, type ClientNamespacesMessage, type ClusterSetMessage, type ClientZonesMessage, type StateMessage, type WorkerMessage } from './replication.js';

export type { WorkerMessage };

/**
 * The primary's side of `--workers N`: forks N processes that each answer DNS on the shared listener sockets
 * from a replica of the catalog, kept by the protocol in replication.ts. A worker gets the whole state before
 * it binds (a new one at start, a replacement after a crash), then every change in order, numbered; one that
 * sees a gap gets the whole state again. Each worker reads UDP from a socket of its own on the shared port
 * (SO_REUSEPORT), so the kernel spreads datagrams without a hop through the primary; Node's cluster spreads
 * TCP connections.
 */
export class WorkerPool {
  private readonly workers = new Set<Worker>();
  /** Workers sent a snapshot: they get every change from then on. */
  private readonly following = new Set<Worker>();
  /** Workers that applied their snapshot and bound their sockets: what /readyz counts. */
  private readonly answering = new Set<Worker>();
  private stopping = false;
  private readonly aggregator = new AggregatorRegistry();
  private readonly pending = new Set<string>();
  private flushScheduled = false;
  /** The sequence number of the last state message sent (every worker sees the same numbering). */
  private seq = 0;
  /** How the workers read and write UDP, as the last one to start said. */
  udpIo: UdpIoChoice | undefined;

  constructor(
    private readonly count: number,
    private readonly catalog: Catalog,
    private readonly logger: Logger,
    /** Some --dns port is 0: the first worker must bind alone so the others can join the port it got. */
    private readonly ephemeralPorts = true,
    /** The mesh zones' serials, sent with the state (workers answer SOA and transfers with the primary's). */
    private readonly serials: () => readonly (readonly [string, number])[] = () => [],
  ) {
    // Changes are batched per tick: a Kubernetes re-list of 10,000 Services is a few messages, not 10,000.
    catalog.onChange((keys) => {
      if (this.following.size === 0) return;
      for (const k of keys) this.pending.add(k);
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        if (this.pending.size === 0) return;
        const message = changesOf(catalog, this.pending, ++this.seq, this.serials());
        this.pending.clear();
        this.broadcast(message);
      });
    });
    catalog.onClientZoneRanges((ranges) => {
      if (this.following.size > 0) this.broadcast({ type: 'client-zones', seq: ++this.seq, ranges } satisfies ClientZonesMessage);
    });
    catalog.onClusterSet((services) => {
      if (this.following.size > 0) this.broadcast({ type: 'cluster-set', seq: ++this.seq, services } satisfies ClusterSetMessage);
    });
    catalog.onClientNamespaces((entries) => {
      if (this.following.size > 0) this.broadcast({ type: 'client-namespaces', seq: ++this.seq, entries } satisfies ClientNamespacesMessage);
    });
  }

  /** The serials moved without a catalog change (adopted from another replica): workers answer SOA with them. */
  sendSerials(): void {
    if (this.following.size > 0) this.broadcast(changesOf(this.catalog, [], ++this.seq, this.serials()));
  }

  private broadcast(message: StateMessage): void {
    for (const w of this.following) if (w.isConnected()) w.send(message);
  }

  /**
   * The whole state to one worker. Changes not yet sent (a flush pending) are in the snapshot; numbering them
   * after it keeps every worker's sequence unbroken.
   */
  private sendSnapshot(worker: Worker): void {
    worker.send(snapshotOf(this.catalog, this.seq, this.serials()));
    this.following.add(worker);
  }

  /** The ports the first worker bound (port 0 resolved), handed to every later worker. */
  private ports: number[] | undefined;

  /**
   * Forks the workers and resolves with the addresses they bound once every one has applied its snapshot and
   * listens. The first binds alone, so that a port 0 becomes one concrete port that the others' SO_REUSEPORT
   * sockets join.
   */
  start(): Promise<ListenAddress[]> {
    // In a container each worker's heap gets its share of the limit (V8 would give each half of it).
    const heapMb = workerHeapLimitMb(memoryLimits(), this.count);
    cluster.setupPrimary({ serialization: 'advanced', ...(heapMb === undefined ? {} : { execArgv: [...process.execArgv, `--max-old-space-size=${heapMb}`] }) });
    if (heapMb !== undefined) this.logger.info({ workers: this.count, heapLimitMbEach: heapMb }, 'DNS workers share the container\'s memory limit');
    return new Promise((resolve, reject) => {
      if (!this.ephemeralPorts) {
        // Fixed ports: every worker takes its snapshot at once (each applies it on a core of its own).
        for (let i = 0; i < this.count; i++) {
          this.fork((bound) => {
            if (this.answering.size === this.count) resolve(bound);
          }, reject);
        }
        return;
      }
      this.fork((bound) => {
        this.ports = bound.map((b) => b.port);
        if (this.answering.size === this.count) resolve(bound);
        for (let i = 1; i < this.count; i++) {
          this.fork(() => {
            if (this.answering.size === this.count) resolve(bound);
          }, reject);
        }
      }, reject);
    });
  }

  private fork(onListening: (bound: ListenAddress[]) => void, onFailed: (err: Error) => void): void {
    const worker = cluster.fork(this.ports === undefined ? {} : { MESHDNS_WORKER_DNS_PORTS: JSON.stringify(this.ports) });
    this.workers.add(worker);
    const started = Date.now();
    worker.on('message', (m: WorkerMessage | { type?: string }) => {
      if (m.type === 'hello') {
        this.sendSnapshot(worker);
      } else if (m.type === 'listening') {
        this.answering.add(worker);
        const done = m as Extract<WorkerMessage, { type: 'listening' }>;
        this.udpIo = done.udpIo;
        this.logger.info({ pid: worker.process.pid, seq: done.seq, ms: Date.now() - started, services: this.catalog.keys().length, udpIo: done.udpIo.io }, 'DNS worker holds the catalog and answers');
        onListening(done.bound);
      } else if (m.type === 'resync') {
        const r = m as Extract<WorkerMessage, { type: 'resync' }>;
        this.logger.warn({ pid: worker.process.pid, expected: r.expected, got: r.got }, 'DNS worker missed a change; sending it a full snapshot');
        this.sendSnapshot(worker);
      } else if (m.type === 'failed') {
        onFailed(new Error((m as { message: string }).message));
      }
    });
    worker.on('exit', (code, signal) => {
      this.workers.delete(worker);
      this.following.delete(worker);
      this.answering.delete(worker);
      if (this.stopping) return;
      this.logger.error({ pid: worker.process.pid, code, signal }, 'DNS worker died; starting another, which answers once it holds the catalog');
      this.fork(() => undefined, (err) => this.logger.error({ err: err.message }, 'replacement DNS worker failed to start'));
    });
  }

  /** Every worker has applied the snapshot it was sent and answers. */
  get ready(): boolean {
    return this.answering.size === this.count;
  }

  /** Worker metrics summed across workers (prom-client's cluster aggregation). */
  metrics(): Promise<string> {
    return this.aggregator.clusterMetrics();
  }

  /** Passes a reloaded config on (log level, query log, forwarding) and has workers re-read zone files. */
  reload(config: unknown): void {
    for (const w of this.answering) w.send({ type: 'reload', config });
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
