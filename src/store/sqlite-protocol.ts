/** The tables: one row per REST registration, one per service policy (JSON bodies, keyed `ns/svc[/id]`). */
export const SCHEMA = `CREATE TABLE IF NOT EXISTS registrations (key TEXT PRIMARY KEY, body TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS policies (key TEXT PRIMARY KEY, body TEXT NOT NULL) STRICT;`;

/** Messages between the SQLite store and the thread that owns the database file. */

export type SqliteRequest =
  | { readonly id: number; readonly op: 'open' }
  | { readonly id: number; readonly op: 'close' }
  | { readonly id: number; readonly op: 'put'; readonly key: string; readonly body: string }
  | { readonly id: number; readonly op: 'delete'; readonly key: string }
  | { readonly id: number; readonly op: 'heartbeat'; readonly key: string; readonly body: string }
  | { readonly id: number; readonly op: 'putPolicy'; readonly key: string; readonly body: string }
  | { readonly id: number; readonly op: 'deletePolicy'; readonly key: string };

export type SqliteReply =
  | { readonly id: number; readonly ok: true; readonly changes?: number }
  | { readonly id: number; readonly ok: false; readonly message: string; readonly code: string };
