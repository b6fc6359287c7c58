import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Registration } from '../../src/store/registration.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { silentLogger } from '../support/in-process.js';

const reg = (id: string, weight: number): Registration => ({
  namespace: 'shop',
  service: 'web',
  id,
  address: '10.0.0.7',
  ports: [{ name: 'http', port: 8080, protocol: 'tcp' }],
  weight,
  metadata: {},
  registeredAt: 1000,
  heartbeatAt: 1000,
});

test('SQLite: writes asked while a batch commits ride in the next; every acknowledged write is there after a restart, the last one of each key winning', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshdns-batch-'));
  const store = new SqliteStore(dir, silentLogger);
  await store.open();
  // Bursts of overlapping writes to 40 keys: puts, overwrites, deletes, some awaited one by one in between.
  const expected = new Map<string, number>();
  const acks: Promise<unknown>[] = [];
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 40; i++) {
      const id = `i${(i * 7 + round) % 40}`;
      if ((i + round) % 9 === 0) {
        acks.push(store.delete('shop', 'web', id));
        expected.delete(id);
      } else {
        acks.push(store.put(reg(id, round * 100 + i)));
        expected.set(id, round * 100 + i);
      }
    }
    if (round % 5 === 0) await store.put(reg('lone', round));
    await new Promise((r) => setTimeout(r, round % 3));
  }
  expected.set('lone', 15);
  await Promise.all(acks);
  await store.close();

  const again = new SqliteStore(dir, silentLogger);
  const rows = await again.open();
  await again.close();
  assert.deepEqual(new Map(rows.map((r) => [r.id, r.weight])), expected);
});
