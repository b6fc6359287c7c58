import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Catalog } from '../../src/catalog/catalog.js';
import type { Instance } from '../../src/catalog/types.js';
import { toInstance, type Registration } from '../../src/store/registration.js';
import { applyChanges, applySnapshot, changesOf, snapshotOf } from '../../src/workers/replication.js';

const registration = (id: string, extra: Partial<Registration> = {}): Registration => ({
  namespace: 'shop',
  service: 'web',
  id,
  address: `10.0.0.${id.length}`,
  ports: [{ name: 'http', port: 8080, protocol: 'tcp' }],
  weight: 10,
  metadata: { team: 'payments' },
  registeredAt: 1,
  heartbeatAt: 2,
  check: { http: 'http://user:secret@10.0.0.1:8080/healthz', intervalMs: 5000, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 1 },
  ...extra,
});

/** What a replica must hold of an instance: its catalog fields, nothing of a source's own (a REST registration's). */
const facts = (i: Instance): Record<string, unknown> =>
  Object.fromEntries(Object.entries(i).filter(([k, v]) => v !== undefined && ['id', 'name', 'source', 'address', 'ports', 'weight', 'zone', 'hintZones', 'health', 'cluster', 'probe'].includes(k)));

const held = (c: Catalog, key: string): Instance[] => [...(c.getByKey(key)?.instances.values() ?? [])];

test('a replica holds every instance as the primary does, from a snapshot and from changes, without REST registrations\' own fields', async () => {
  const primary = new Catalog();
  primary.upsert('shop', 'web', toInstance(registration('a', { zone: 'eu-1' }), 3));
  primary.upsert('shop', 'web', toInstance(registration('bb', { cluster: 'west' }), 3));
  primary.replaceService('shop', 'api', 'kubernetes', [{ id: '10-1-0-1', name: 'api-0', source: 'kubernetes', address: '10.1.0.1', ports: [], weight: 1, zone: 'eu-2', hintZones: ['eu-2'], health: 'draining' }]);
  primary.setProbe('shop', 'web', 'rest', 'a', { healthy: false, score: 0.25 });
  const replica = new Catalog();
  // As the IPC channel carries it: a structured clone.
  await applySnapshot(replica, structuredClone(snapshotOf(primary, 1)));
  for (const key of ['shop/web', 'shop/api']) {
    assert.deepEqual(held(replica, key).map(facts), held(primary, key).map(facts), key);
    for (const i of held(replica, key)) assert.ok(!('registeredAt' in i) && !('check' in i) && !('metadata' in i), 'no registration in a replica');
  }
  primary.upsert('shop', 'web', toInstance(registration('ccc', { weight: 7 }), 3));
  applyChanges(replica, structuredClone(changesOf(primary, ['shop/web'], 2)));
  assert.deepEqual(held(replica, 'shop/web').map(facts), held(primary, 'shop/web').map(facts));
  assert.equal(held(replica, 'shop/web').length, 3);
});
