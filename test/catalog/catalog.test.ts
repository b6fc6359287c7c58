import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Catalog } from '../../src/catalog/catalog.js';
import type { Instance } from '../../src/catalog/types.js';
import { instance } from '../support/instances.js';


test('upsert, health and remove announce the changed service', () => {
  const c = new Catalog();
  const seen: string[][] = [];
  c.onChange((keys) => seen.push([...keys]));
  c.upsert('shop', 'web', instance('a', '10.0.0.1'));
  assert.equal(c.get('shop', 'web')!.instances.size, 1);
  assert.ok(c.setHealth('shop', 'web', 'rest', 'a', 'unhealthy'));
  assert.equal(c.get('shop', 'web')!.instances.get('rest/a')!.health, 'unhealthy');
  assert.ok(c.setHealth('shop', 'web', 'rest', 'a', 'unhealthy')); // no change, no event
  assert.ok(c.remove('shop', 'web', 'rest', 'a'));
  assert.equal(c.get('shop', 'web'), undefined);
  assert.ok(!c.remove('shop', 'web', 'rest', 'a'));
  assert.deepEqual(seen, [['shop/web'], ['shop/web'], ['shop/web']]);
});

test('invalid instances are rejected with the field named, and nothing changes', () => {
  const c = new Catalog();
  assert.throws(() => c.upsert('Shop', 'web', instance('a', '10.0.0.1')), /namespace "Shop"/);
  assert.throws(() => c.upsert('shop', 'web', instance('a', '10.0.0.300')), /address/);
  assert.throws(() => c.upsert('shop', 'web', instance('a', '10.0.0.1', { weight: 70000 })), /weight/);
  assert.throws(() => c.upsert('shop', 'web', instance('a_b', '10.0.0.1')), /instance id/);
  assert.throws(() => c.upsert('shop', 'web', instance('a', '10.0.0.1', { ports: [{ name: 'http', port: 0, protocol: 'tcp' }] })), /port 0/);
  assert.equal([...c.all()].length, 0);
});

test('replaceSource swaps one source and reports only services that differ', () => {
  const c = new Catalog();
  c.upsert('shop', 'web', instance('rest-1', '10.0.0.9'));
  const zi = (id: string, address: string): Instance => instance(id, address, { source: 'zonefile' });
  const seen: string[][] = [];
  c.onChange((keys) => seen.push([...keys].sort()));
  c.replaceSource('zonefile', [
    { namespace: 'shop', service: 'web', instance: zi('z1', '10.0.0.1') },
    { namespace: 'shop', service: 'db', instance: zi('z2', '10.0.0.2') },
  ]);
  assert.deepEqual(seen.pop(), ['shop/db', 'shop/web']);
  c.replaceSource('zonefile', [
    { namespace: 'shop', service: 'web', instance: zi('z1', '10.0.0.1') },
    { namespace: 'shop', service: 'db', instance: zi('z2', '10.0.0.3') },
  ]);
  assert.deepEqual(seen.pop(), ['shop/db']);
  c.replaceSource('zonefile', []);
  assert.deepEqual(seen.pop(), ['shop/db', 'shop/web']);
  assert.equal(c.get('shop', 'db'), undefined);
  assert.deepEqual([...c.get('shop', 'web')!.instances.keys()], ['rest/rest-1']); // other sources untouched
  assert.throws(() => c.replaceSource('zonefile', [{ namespace: 'shop', service: 'web', instance: instance('x', '10.0.0.1') }]), /from rest/);
});

test('a bulk write skips the entries it cannot hold, reports them, and applies the rest', () => {
  const rejected: string[] = [];
  const c = new Catalog({ onRejected: (r) => rejected.push(`${r.namespace}/${r.service}/${r.id}: ${r.reason}`) });
  const zi = (id: string, address: string): Instance => instance(id, address, { source: 'zonefile' });
  c.replaceSource('zonefile', [
    { namespace: 'shop', service: 'web', instance: zi('good', '10.0.0.1') },
    { namespace: 'shop', service: 'web', instance: zi('bad', '0.0.0.0') },
  ]);
  assert.deepEqual([...c.get('shop', 'web')!.instances.keys()], ['zonefile/good']);
  c.replaceService('shop', 'api', 'zonefile', [zi('m', '224.0.0.1'), zi('ok', '10.0.0.2')]);
  assert.deepEqual([...c.get('shop', 'api')!.instances.keys()], ['zonefile/ok']);
  assert.equal(rejected.length, 2);
  assert.match(rejected[0]!, /^shop\/web\/bad: address .*0\.0\.0\.0/);
  assert.match(rejected[1]!, /multicast/);
});

test('one id from REST, the local cluster and another cluster: three instances, each replaced or dropped alone', () => {
  const c = new Catalog();
  const id = '10-0-0-1';
  c.upsert('shop', 'web', instance(id, '10.0.0.1'));
  c.replaceService('shop', 'web', 'kubernetes', [instance(id, '10.0.0.1', { source: 'kubernetes' })]);
  c.replaceService('shop', 'web', 'kubernetes', [instance(id, '10.0.0.1', { source: 'kubernetes', cluster: 'west' })], 'west');
  const held = () => [...c.get('shop', 'web')!.instances.values()].map((i) => `${i.source}${i.cluster === undefined ? '' : `@${i.cluster}`}`).sort();
  assert.deepEqual(held(), ['kubernetes', 'kubernetes@west', 'rest']);
  // The local cluster's endpoint goes: the other cluster's and the REST one stay.
  c.replaceService('shop', 'web', 'kubernetes', []);
  assert.deepEqual(held(), ['kubernetes@west', 'rest']);
  c.replaceService('shop', 'web', 'kubernetes', [instance(id, '10.0.0.1', { source: 'kubernetes' })]);
  c.dropCluster('west');
  assert.deepEqual(held(), ['kubernetes', 'rest']);
  // A REST reload leaves Kubernetes' instance alone.
  c.replaceSource('rest', []);
  assert.deepEqual(held(), ['kubernetes']);
  assert.equal(c.remove('shop', 'web', 'rest', id), false, 'the REST one is gone; the same id from Kubernetes is not taken for it');
});
