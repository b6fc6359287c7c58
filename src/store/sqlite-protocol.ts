/** Messages between the SQLite store and the thread that owns the database file. */

export type SqliteRequest =
  | { readonly id: number; readonly op: 'open' }
  | { readonly id: number; readonly op: 'close' }
  | { readonly id: number; readonly op: 'put'; readonly key: string; readonly body: string }
  | { readonly id: number; readonly op: 'delete'; readonly key: string }
  | { readonly id: number; readonly op: 'heartbeat'; readonly key: string; readonly body: string };

export type SqliteReply =
  | { readonly id: number; readonly ok: true; readonly changes?: number }
  | { readonly id: number; readonly ok: false; readonly message: string; readonly code: string };
