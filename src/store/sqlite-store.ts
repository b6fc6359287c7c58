import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { deserialize, serialize, type Registration } from './registration.js';
import { SCHEMA, type SqliteReply, type SqliteRequest } from './sqlite-protocol.js';
import { parsePolicy, type TrafficPolicy } from '../catalog/policy.js';
import { StoreUnavailableError, type RegistrationStore, type StoredPolicy, type StoreEvent } from './store.js';

type Pending = { resolve: (reply: Extract<SqliteReply, { ok: true }>) => void; reject: (err: Error) => void };
type Request = SqliteRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/**
 * The embedded default: one SQLite file in --data-dir, WAL journal with
 * synchronous=FULL, so a write has reached the disk before the API answers
 * 2xx and survives kill -9 or a power cut. Node's own node:sqlite (the
 * runtime's SQLite, nothing to compile: better-sqlite3 needed a native build
 * against the headers of the exact Node that runs it, which a machine whose
 * system Node is older gets wrong), in a thread of its own (sqlite-worker.ts):
 * a commit waits for fsync, and on the answering thread every write stalled
 * DNS answers for that long. The thread runs while writes come: it starts with
 * the first write and stops after `idleMs` without one (a thread is ~18 MB
 * resident, a third of an idle server; measured 2026-11-29), so a server whose
 * registrations are read at start and rarely written does not carry it.
 */
export class SqliteStore implements RegistrationStore {
  readonly kind = 'sqlite';
  /** One process owns the file: there is nothing of others' to follow. */
  readonly following = true;
  private worker: Worker | undefined;
  private open_ = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private outbox: SqliteRequest[] = [];
  private inFlight = false;
  private loadedPolicies: StoredPolicy[] = [];
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly logger: Logger,
    /** The writer thread stops after this long without a write. */
    private readonly idleMs = 30_000,
  ) {}

  /** Whether the writer thread runs now (tests; it starts with a write and stops when idle). */
  get writerRunning(): boolean {
    return this.worker !== undefined;
  }

  /**
   * Reads every registration here, on the calling thread, before anything is answered (the server waits for
   * this at start), row by row so that each JSON text dies young: handing 100,000 rows over from the thread
   * would copy them all at once. The thread then opens the file for writes.
   */
  async open(): Promise<Registration[]> {
    const out: Registration[] = [];
    try {
      const db = new DatabaseSync(join(mkdirOf(this.dataDir), 'registrations.db'), { timeout: 5000 });
      try {
        db.exec('PRAGMA journal_mode = WAL');
        db.exec(SCHEMA);
        // Writable now, or the store is not open (read-only file system, a file we may not write): writes start
        // the thread later, and a store that cannot take them must say so at start, not at the first write.
        db.exec('BEGIN IMMEDIATE');
        db.exec('ROLLBACK');
        for (const row of db.prepare('SELECT key, body FROM registrations').iterate() as Iterable<{ key: string; body: string }>) {
          try {
            out.push(deserialize(row.body));
          } catch (err) {
            this.logger.error({ key: row.key, err: (err as Error).message }, 'skipping an unreadable stored registration');
          }
        }
        this.loadedPolicies = [];
        for (const row of db.prepare('SELECT key, body FROM policies').iterate() as Iterable<{ key: string; body: string }>) {
          const [namespace = '', service = ''] = row.key.split('/');
          try {
            this.loadedPolicies.push({ namespace, service, policy: parsePolicy(namespace, service, row.body) });
          } catch (err) {
            this.logger.error({ key: row.key, err: (err as Error).message }, 'skipping an unreadable stored policy');
          }
        }
      } finally {
        db.close();
      }
    } catch (err) {
      throw new Error(`cannot open the registration store in ${this.dataDir}: ${(err as Error).message} (check that --data-dir is writable and has free space)`);
    }
    this.open_ = true;
    return out;
  }

  async policies(): Promise<StoredPolicy[]> {
    return this.loadedPolicies;
  }

  async putPolicy(namespace: string, service: string, policy: TrafficPolicy): Promise<void> {
    await this.write({ op: 'putPolicy', key: `${namespace}/${service}`, body: JSON.stringify(policy) });
  }

  async deletePolicy(namespace: string, service: string): Promise<boolean> {
    return (await this.write({ op: 'deletePolicy', key: `${namespace}/${service}` })) > 0;
  }

  async put(r: Registration): Promise<void> {
    await this.write({ op: 'put', key: `${r.namespace}/${r.service}/${r.id}`, body: serialize(r) });
  }

  async delete(namespace: string, service: string, id: string): Promise<boolean> {
    return (await this.write({ op: 'delete', key: `${namespace}/${service}/${id}` })) > 0;
  }

  async heartbeat(r: Registration): Promise<boolean> {
    return (await this.write({ op: 'heartbeat', key: `${r.namespace}/${r.service}/${r.id}`, body: serialize(r) })) > 0;
  }

  onRemoteChange(_listener: (event: StoreEvent) => void): void {
    // One process owns the file: there is nobody else to hear from.
  }

  async close(): Promise<void> {
    this.open_ = false;
    clearTimeout(this.idleTimer);
    const worker = this.worker;
    if (worker === undefined) return;
    // Writes already asked are ahead of the close in the queue: committed before the database closes.
    await this.call({ op: 'close' }).catch(() => undefined);
    this.detach(worker);
  }

  /**
   * The writer thread, started if it is not running, its open of the file queued first: a write asked now goes
   * after it in the same queue (one that fails to open answers the writes behind it "not open": 503s).
   */
  private ensureWriter(): void {
    if (this.worker !== undefined) return;
    const worker = (this.worker = this.startWorker());
    // A thread that cannot open the file is ended; the next write tries a new one.
    this.call({ op: 'open' }).catch(() => this.retire(worker));
  }

  /** Ends a thread with nothing in flight: it closes the file and stops; a write from now on starts a new one. */
  private retire(worker: Worker): void {
    if (this.worker === worker) this.worker = undefined;
    const id = this.nextId++;
    const end = (): void => this.detach(worker);
    this.pending.set(id, { resolve: end, reject: end });
    worker.postMessage([{ op: 'close', id }]);
  }

  private detach(worker: Worker): void {
    if (this.worker === worker) this.worker = undefined;
    worker.removeAllListeners('exit');
    void worker.terminate();
  }

  /** After the last reply: the thread stops once no write has come for idleMs. */
  private stopWhenIdle(): void {
    clearTimeout(this.idleTimer);
    if (this.pending.size > 0 || this.outbox.length > 0) return;
    this.idleTimer = setTimeout(() => {
      if (this.worker !== undefined && this.pending.size === 0 && this.outbox.length === 0 && !this.inFlight) this.retire(this.worker);
    }, this.idleMs);
    this.idleTimer.unref();
  }

  /** SQLite errors on write (disk full, read-only file system, I/O) become 503s; the transaction was rolled back. */
  private async write(request: Request): Promise<number> {
    if (!this.open_) throw new StoreUnavailableError(`the SQLite store in ${this.dataDir} is not open (see the server log); writes resume once it is`);
    try {
      this.ensureWriter();
      return (await this.call(request)).changes ?? 0;
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      throw new StoreUnavailableError(`the SQLite store cannot write (${code || (err as Error).message}): check free space and permissions of --data-dir`);
    }
  }

  private call(request: Request): Promise<Extract<SqliteReply, { ok: true }>> {
    if (this.worker === undefined) return Promise.reject(new Error('the SQLite store is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.outbox.push({ ...request, id } as SqliteRequest);
      this.sendBatch();
    });
  }

  /**
   * One batch in flight: what is asked while the thread commits waits here and goes as the next batch, one
   * message each way however many writes it holds (a message costs the answering thread a wake-up and a copy).
   */
  private sendBatch(): void {
    if (this.inFlight || this.outbox.length === 0 || this.worker === undefined) return;
    this.inFlight = true;
    this.worker.postMessage(this.outbox);
    this.outbox = [];
  }

  private startWorker(): Worker {
    // Under tsx (the tests) this module is .ts, and so is its worker.
    const file = new URL(`./sqlite-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
    const worker = new Worker(file, { workerData: { dataDir: this.dataDir } });
    worker.unref();
    worker.on('message', (replies: readonly SqliteReply[]) => {
      // A retired thread's last reply (its close) is no batch of the running thread's.
      const current = worker === this.worker;
      if (current) this.inFlight = false;
      for (const reply of replies) {
        const waiting = this.pending.get(reply.id);
        if (waiting === undefined) continue;
        this.pending.delete(reply.id);
        if (reply.ok) waiting.resolve(reply);
        else waiting.reject(Object.assign(new Error(reply.message), { code: reply.code }));
      }
      if (!current) return;
      this.sendBatch();
      this.stopWhenIdle();
    });
    worker.on('error', (err) => {
      if (worker === this.worker) this.failAll(err);
    });
    worker.on('exit', () => this.failAll(new Error('the SQLite thread stopped')));
    return worker;
  }

  private failAll(err: Error): void {
    this.logger.error({ err: err.message }, 'SQLite store thread failed');
    for (const waiting of this.pending.values()) waiting.reject(err);
    this.pending.clear();
    this.outbox = [];
    this.inFlight = false;
    this.worker = undefined;
    this.open_ = false;
  }
}

function mkdirOf(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}
