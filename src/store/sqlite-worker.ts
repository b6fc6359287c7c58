/**
 * The thread that owns the SQLite file (see sqlite-store.ts). SQLite's API is
 * synchronous and a durable commit waits for fsync: done on the answering
 * thread, every registration write stalled DNS answers for the length of a
 * disk flush. Here, writes that arrive while one commit is on disk are
 * committed together in the next transaction (group commit): one fsync for
 * the batch, and each write is acknowledged only once its batch is durable.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import { SCHEMA, type SqliteReply, type SqliteRequest } from './sqlite-protocol.js';

const dataDir = (workerData as { dataDir: string }).dataDir;
let db: DatabaseSync | undefined;
let statements: { put: StatementSync; del: StatementSync; beat: StatementSync; putPolicy: StatementSync; delPolicy: StatementSync } | undefined;
const queue: SqliteRequest[] = [];
let flushing = false;
/** See the message handler: the least time between two commits while writes keep coming. */
const COMMIT_SPACING_MS = 5;
let lastCommit = -Infinity;

function reply(message: SqliteReply): void {
  parentPort!.postMessage(message);
}

function errorText(err: unknown): { message: string; code: string } {
  const e = err as { errstr?: string; code?: string; message?: string };
  return { message: e.message ?? String(err), code: e.errstr ?? e.code ?? '' };
}

function open(id: number): void {
  let handle: DatabaseSync | undefined;
  try {
    mkdirSync(dataDir, { recursive: true });
    handle = new DatabaseSync(join(dataDir, 'registrations.db'), { timeout: 5000 });
    handle.exec('PRAGMA journal_mode = WAL');
    handle.exec('PRAGMA synchronous = FULL');
    handle.exec(SCHEMA);
    statements = {
      put: handle.prepare('INSERT INTO registrations (key, body) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET body = excluded.body'),
      del: handle.prepare('DELETE FROM registrations WHERE key = ?'),
      beat: handle.prepare('UPDATE registrations SET body = ? WHERE key = ?'),
      putPolicy: handle.prepare('INSERT INTO policies (key, body) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET body = excluded.body'),
      delPolicy: handle.prepare('DELETE FROM policies WHERE key = ?'),
    };
    db = handle;
  } catch (err) {
    // A half-opened handle would keep the file busy for the next attempt.
    if (handle?.isOpen) handle.close();
    db = undefined;
    reply({ id, ok: false, ...errorText(err) });
    return;
  }
  // The caller read the rows itself (see SqliteStore.open): only writes happen here.
  reply({ id, ok: true });
}

/** One write; returns how many rows it changed. */
function apply(r: SqliteRequest): number {
  const s = statements!;
  switch (r.op) {
    case 'put':
      return Number(s.put.run(r.key, r.body).changes);
    case 'delete':
      return Number(s.del.run(r.key).changes);
    case 'heartbeat':
      return Number(s.beat.run(r.body, r.key).changes);
    case 'putPolicy':
      return Number(s.putPolicy.run(r.key, r.body).changes);
    case 'deletePolicy':
      return Number(s.delPolicy.run(r.key).changes);
    default:
      return 0;
  }
}

/** Commits everything queued in one transaction; a failed batch is retried write by write, so one bad write fails alone. */
function flush(): void {
  flushing = false;
  lastCommit = performance.now();
  const batch = queue.splice(0);
  if (batch.length === 0) return;
  if (db === undefined) {
    for (const r of batch) reply({ id: r.id, ok: false, message: 'not open', code: 'NOT_OPEN' });
    return;
  }
  try {
    db.exec('BEGIN IMMEDIATE');
    const changes = batch.map(apply);
    db.exec('COMMIT');
    batch.forEach((r, i) => reply({ id: r.id, ok: true, changes: changes[i]! }));
    return;
  } catch {
    if (db.isTransaction) db.exec('ROLLBACK');
  }
  for (const r of batch) {
    try {
      reply({ id: r.id, ok: true, changes: apply(r) });
    } catch (err) {
      reply({ id: r.id, ok: false, ...errorText(err) });
    }
  }
}

parentPort!.on('message', (r: SqliteRequest) => {
  if (r.op === 'open') return open(r.id);
  if (r.op === 'close') {
    flush();
    if (db?.isOpen) db.close();
    db = undefined;
    return reply({ id: r.id, ok: true });
  }
  queue.push(r);
  if (flushing) return;
  flushing = true;
  // Whatever arrives before this turn of the thread's loop ends rides in the same commit. Under a stream of
  // writes, commits are also spaced COMMIT_SPACING_MS apart, so that one fsync carries the writes of that span
  // instead of one each: a lone write commits at once, a busy store trades a few milliseconds of acknowledgement
  // for a fraction of the disk flushes (and of the CPU they cost, which the answering threads share).
  const wait = lastCommit + COMMIT_SPACING_MS - performance.now();
  if (wait > 0) setTimeout(flush, wait);
  else setImmediate(flush);
});
