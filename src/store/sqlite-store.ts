import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { Logger } from 'pino';
import { deserialize, serialize, type Registration } from './registration.js';
import { StoreUnavailableError, type RegistrationStore, type StoreEvent } from './store.js';

/**
 * The embedded default: one SQLite file in --data-dir, WAL journal with
 * synchronous=FULL, so a write has reached the disk before the API answers
 * 2xx and survives kill -9 or a power cut. Node's own node:sqlite (the
 * runtime's SQLite, nothing to compile): better-sqlite3 needed a native build
 * against the headers of the exact Node that runs it, which a machine whose
 * system Node is older gets wrong.
 */
export class SqliteStore implements RegistrationStore {
  readonly kind = 'sqlite';
  private db: DatabaseSync | undefined;
  private statements: { put: StatementSync; del: StatementSync; beat: StatementSync; all: StatementSync } | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly logger: Logger,
  ) {}

  async open(): Promise<Registration[]> {
    let db: DatabaseSync | undefined;
    try {
      mkdirSync(this.dataDir, { recursive: true });
      db = new DatabaseSync(join(this.dataDir, 'registrations.db'), { timeout: 5000 });
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = FULL');
      db.exec(`CREATE TABLE IF NOT EXISTS registrations (
        key TEXT PRIMARY KEY,
        body TEXT NOT NULL
      ) STRICT`);
      this.db = db;
      this.statements = {
        put: db.prepare('INSERT INTO registrations (key, body) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET body = excluded.body'),
        del: db.prepare('DELETE FROM registrations WHERE key = ?'),
        beat: db.prepare('UPDATE registrations SET body = ? WHERE key = ?'),
        all: db.prepare('SELECT key, body FROM registrations'),
      };
    } catch (err) {
      // A half-opened handle would keep the file busy for the next attempt.
      if (db?.isOpen) db.close();
      this.db = undefined;
      throw new Error(`cannot open the registration store in ${this.dataDir}: ${(err as Error).message} (check that --data-dir is writable and has free space)`);
    }
    const out: Registration[] = [];
    // Row by row: reading them all at once would keep every JSON text alive until the last is parsed,
    // long enough to land in the old generation as garbage.
    for (const row of this.statements.all.iterate() as Iterable<{ key: string; body: string }>) {
      try {
        out.push(deserialize(row.body));
      } catch (err) {
        this.logger.error({ key: row.key, err: (err as Error).message }, 'skipping an unreadable stored registration');
      }
    }
    return out;
  }

  async put(r: Registration): Promise<void> {
    this.run(() => this.statements!.put.run(`${r.namespace}/${r.service}/${r.id}`, serialize(r)));
  }

  async delete(namespace: string, service: string, id: string): Promise<boolean> {
    return this.run(() => Number(this.statements!.del.run(`${namespace}/${service}/${id}`).changes) > 0);
  }

  async heartbeat(r: Registration): Promise<boolean> {
    return this.run(() => Number(this.statements!.beat.run(serialize(r), `${r.namespace}/${r.service}/${r.id}`).changes) > 0);
  }

  onRemoteChange(_listener: (event: StoreEvent) => void): void {
    // One process owns the file: there is nobody else to hear from.
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
  }

  /** SQLite errors on write (disk full, read-only file system, I/O) become 503s; the transaction was rolled back. */
  private run<T>(fn: () => T): T {
    if (this.db === undefined) throw new StoreUnavailableError(`the SQLite store in ${this.dataDir} is not open (see the server log); writes resume once it is`);
    try {
      return fn();
    } catch (err) {
      const code = (err as { errstr?: string; code?: string }).errstr ?? (err as { code?: string }).code ?? '';
      throw new StoreUnavailableError(`the SQLite store cannot write (${code || (err as Error).message}): check free space and permissions of --data-dir`);
    }
  }
}
