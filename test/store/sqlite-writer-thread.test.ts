import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Registration } from '../../src/store/registration.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { silentLogger } from '../support/in-process.js';

const reg = (id: string): Registration => ({
  namespace: 'shop',
  service: 'web',
  id,
  address: '10.0.0.7',
  ports: [{ name: 'http', port: 8080, protocol: 'tcp' }],
  weight: 10,
  metadata: {},
  registeredAt: 1000,
  heartbeatAt: 1000,
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('SQLite: the writer thread starts with a write, stops when idle, and a write after that starts it again; nothing is lost', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshdns-writer-'));
  const store = new SqliteStore(dir, silentLogger, 150);
  await store.open();
  assert.equal(store.writerRunning, false, 'reading at start needs no thread');
  await store.put(reg('a'));
  assert.equal(store.writerRunning, true);
  await sleep(400);
  assert.equal(store.writerRunning, false, 'stopped after idleMs without a write');
  // Writes while it stops and starts again: each acknowledged, in order per key.
  const acks: Promise<unknown>[] = [];
  for (let i = 0; i < 50; i++) {
    acks.push(store.put(reg(`b${i}`)));
    if (i === 25) await sleep(200);
  }
  await Promise.all(acks);
  assert.equal(await store.delete('shop', 'web', 'b3'), true);
  await store.close();
  assert.equal(store.writerRunning, false);
  const again = new SqliteStore(dir, silentLogger);
  const ids = (await again.open()).map((r) => r.id).sort();
  assert.deepEqual(ids, ['a', ...Array.from({ length: 50 }, (_, i) => `b${i}`).filter((id) => id !== 'b3')].sort());
  await again.close();
});

test('SQLite: writes asked just before close (the thread still starting) are committed before the file closes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshdns-writer-close-'));
  const store = new SqliteStore(dir, silentLogger, 150);
  await store.open();
  const acks = Array.from({ length: 20 }, (_, i) => store.put(reg(`c${i}`)));
  const closed = Promise.race([store.close().then(() => 'closed'), sleep(5000).then(() => 'close hung')]);
  await Promise.all(acks);
  assert.equal(await closed, 'closed');
  const again = new SqliteStore(dir, silentLogger);
  assert.equal((await again.open()).length, 20);
  await again.close();
});
