import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdStore } from '../../src/store/etcd-store.js';
import type { Registration } from '../../src/store/registration.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { RegistrationStore, StoreEvent } from '../../src/store/store.js';
import { EtcdServer } from '../support/etcd.js';
import { silentLogger } from '../support/in-process.js';

const reg = (id: string, extra: Partial<Registration> = {}): Registration => ({
  namespace: 'shop',
  service: 'web',
  id,
  address: '10.0.0.7',
  ports: [{ name: 'http', port: 8080, protocol: 'tcp' }],
  weight: 100,
  metadata: { team: 'a' },
  registeredAt: 1000,
  heartbeatAt: 1000,
  ...extra,
});

let etcd: EtcdServer;
before(async () => {
  etcd = await EtcdServer.start();
});
after(() => etcd.dispose());

interface Flavour {
  name: string;
  /** Opens a store on the same durable data each call (a "restart"). */
  make: () => () => RegistrationStore;
}

const flavours: Flavour[] = [
  {
    name: 'sqlite',
    make: () => {
      const dir = mkdtempSync(join(tmpdir(), 'meshdns-sqlite-'));
      return () => new SqliteStore(dir, silentLogger);
    },
  },
  {
    name: 'etcd',
    make: () => {
      const prefix = `/meshdns-test/${Math.random().toString(36).slice(2)}/`;
      return () => new EtcdStore({ endpoints: [etcd.url], prefix, deregisterAfterMs: 60_000, callTimeoutMs: 1000, logger: silentLogger });
    },
  },
];

for (const flavour of flavours) {
  describe(`registration store contract: ${flavour.name}`, () => {
    test('put, reopen, replace, heartbeat, delete', async () => {
      const open = flavour.make();
      const a = open();
      assert.deepEqual(await a.open(), []);
      await a.put(reg('one'));
      await a.put(reg('two', { ttlMs: 30_000, address: 'fd00::2' }));
      await a.put(reg('one', { weight: 7 })); // replace
      assert.ok(await a.heartbeat(reg('two', { ttlMs: 30_000, address: 'fd00::2', heartbeatAt: 5000 })));
      await a.close();

      const b = open();
      const loaded = new Map((await b.open()).map((r) => [r.id, r]));
      assert.equal(loaded.size, 2);
      assert.equal(loaded.get('one')!.weight, 7);
      assert.deepEqual(loaded.get('one')!.metadata, { team: 'a' });
      assert.equal(loaded.get('two')!.heartbeatAt, 5000);
      assert.equal(loaded.get('two')!.address, 'fd00::2');
      assert.equal(await b.delete('shop', 'web', 'one'), true);
      assert.equal(await b.delete('shop', 'web', 'one'), false);
      await b.close();

      const c = open();
      assert.deepEqual((await c.open()).map((r) => r.id), ['two']);
      await c.close();
    });
  });
}

test('etcd: a second store on the same prefix hears puts and deletes', async () => {
  const open = flavours[1]!.make();
  const writer = open();
  const reader = open();
  await writer.open();
  await reader.open();
  const events: StoreEvent[] = [];
  reader.onRemoteChange((e) => events.push(e));
  await writer.put(reg('seen'));
  await writer.delete('shop', 'web', 'seen');
  const deadline = Date.now() + 2000;
  while (events.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(events.map((e) => e.kind), ['put', 'delete']);
  await writer.close();
  await reader.close();
});

test('etcd: a TTL registration lives on a lease of --deregister-after that heartbeats renew', async () => {
  const prefix = `/meshdns-lease/${Math.random().toString(36).slice(2)}/`;
  const make = () => new EtcdStore({ endpoints: [etcd.url], prefix, deregisterAfterMs: 2000, callTimeoutMs: 1000, logger: silentLogger });
  const store = make();
  await store.open();
  await store.put(reg('leased', { ttlMs: 1000 }));
  await store.put(reg('forever'));
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 900));
    assert.ok(await store.heartbeat(reg('leased', { ttlMs: 1000, heartbeatAt: Date.now() })));
  }
  const other = make();
  assert.deepEqual((await other.open()).map((r) => r.id).sort(), ['forever', 'leased']);
  await other.close();
  // No more heartbeats: etcd drops it once the 2 s lease runs out (plus etcd's own slack).
  await new Promise((r) => setTimeout(r, 3500));
  const third = make();
  assert.deepEqual((await third.open()).map((r) => r.id), ['forever']);
  await third.close();
  await store.close();
});
