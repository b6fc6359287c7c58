import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CatalogProjection } from '../../src/answers/catalog-projection.js';
import { VersionedNameTable, type NameNode } from '../../src/answers/name-table.js';
import { emptyResolution, Resolver, type Resolution } from '../../src/answers/resolver.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { RRType, Rcode } from '../../src/wire/constants.js';
import { keyOf } from '../../src/wire/name.js';
import { parseZone } from '../../src/sources/zonefile/parser.js';
import { buildZoneData, emptyZone } from '../../src/sources/zonefile/zone-data.js';
import { instance } from '../support/instances.js';
import { core } from '../support/in-process.js';

/** The catalog's table, counting the lookups the resolver makes in it. */
class CountingTable extends VersionedNameTable {
  gets = 0;
  override get(key: string): NameNode | undefined {
    this.gets++;
    return super.get(key);
  }
}

const ZONE_KEY = keyOf('linkerd.local.');

function setUp(): { catalog: Catalog; table: CountingTable; resolver: Resolver } {
  const catalog = new Catalog();
  const table = new CountingTable();
  const resolver = new Resolver(table);
  new CatalogProjection(catalog, table, [ZONE_KEY], 5);
  resolver.setStaticZones([emptyZone(ZONE_KEY, 5)]);
  return { catalog, table, resolver };
}

/** The resolver as the query handler calls it: with the parser's hash of the name (any stable number will do here). */
function ask(resolver: Resolver, name: string, qtype: number = RRType.A, out: Resolution = emptyResolution()): Resolution {
  const key = keyOf(name);
  let hash = 0;
  for (let i = 0; i < key.length; i++) hash = (Math.imul(hash, 31) + key.charCodeAt(i)) >>> 0;
  return resolver.resolve(key, qtype, out, hash);
}

const recordCount = (res: Resolution): number => res.sets.reduce((n, s) => n + s.records.length, 0);

test('a name and type asked again are answered from the remembered answer, without the table lookups', () => {
  const { catalog, table, resolver } = setUp();
  catalog.upsert('shop', 'web', instance('a', '10.0.0.1'));
  catalog.upsert('shop', 'web', instance('b', '10.0.0.2'));
  const first = ask(resolver, 'web.shop.linkerd.local.');
  assert.equal(recordCount(first), 2);
  const looked = table.gets;
  assert.ok(looked > 0);
  const again = ask(resolver, 'web.shop.linkerd.local.');
  assert.equal(table.gets, looked, 'the second query made no lookup');
  assert.equal(recordCount(again), 2);
  assert.equal(again.rcode, Rcode.NOERROR);
  // Another type of the same name is its own question: NODATA, looked up once and then remembered too.
  const aaaa = ask(resolver, 'web.shop.linkerd.local.', RRType.AAAA);
  assert.equal(aaaa.sets.length, 0);
  assert.equal(aaaa.negative, true);
  const afterAaaa = table.gets;
  assert.ok(afterAaaa > looked);
  assert.equal(ask(resolver, 'web.shop.linkerd.local.', RRType.AAAA).negative, true);
  assert.equal(table.gets, afterAaaa);
  // Without the parser's hash (the console, transfers), nothing is remembered or reused.
  resolver.resolve(keyOf('web.shop.linkerd.local.'), RRType.A, emptyResolution());
  assert.ok(table.gets > afterAaaa);
});

test('every change of the catalog or the zone files is answered at once, however recently the name was asked', () => {
  const { catalog, resolver } = setUp();
  const name = 'web.shop.linkerd.local.';
  assert.equal(ask(resolver, name).rcode, Rcode.NXDOMAIN);
  assert.equal(ask(resolver, name).rcode, Rcode.NXDOMAIN);
  catalog.upsert('shop', 'web', instance('a', '10.0.0.1'));
  assert.equal(recordCount(ask(resolver, name)), 1);
  catalog.upsert('shop', 'web', instance('b', '10.0.0.2'));
  assert.equal(recordCount(ask(resolver, name)), 2);
  catalog.setHealth('shop', 'web', 'rest', 'a', 'unhealthy');
  assert.equal(recordCount(ask(resolver, name)), 1);
  catalog.remove('shop', 'web', 'rest', 'b');
  const none = ask(resolver, name);
  assert.equal(none.rcode, Rcode.NOERROR);
  assert.equal(none.sets.length, 0, 'the one instance left is unhealthy: NODATA');
  catalog.remove('shop', 'web', 'rest', 'a');
  assert.equal(ask(resolver, name).rcode, Rcode.NXDOMAIN);
  // The zone files: a name they add is answered at the next query, as is one they take away.
  const txt = 'txt.linkerd.local.';
  assert.equal(ask(resolver, txt, RRType.TXT).rcode, Rcode.NXDOMAIN);
  const zone = buildZoneData(parseZone('$ORIGIN linkerd.local.\n$TTL 30\n@ SOA ns hostmaster 1 7200 1800 86400 10\n@ NS ns\nns A 127.0.0.1\ntxt TXT "hello"\n', 'linkerd.local.'), true, 5).zone;
  resolver.setStaticZones([zone]);
  assert.equal(recordCount(ask(resolver, txt, RRType.TXT)), 1);
  resolver.setStaticZones([emptyZone(ZONE_KEY, 5)]);
  assert.equal(ask(resolver, txt, RRType.TXT).rcode, Rcode.NXDOMAIN);
});

test('an instance name is answered with its own address, whichever instance name was asked before', () => {
  // Instance names share one node whose sets are refilled by each lookup: such an answer is never remembered.
  const { catalog, resolver } = setUp();
  catalog.upsert('shop', 'web', instance('a', '10.0.0.1'));
  catalog.upsert('shop', 'web', instance('b', '10.0.0.2'));
  const addressOf = (name: string): string => {
    const res = ask(resolver, name);
    const set = res.sets[0]!;
    const at = set.bytes!.base + (set.records[0] as number);
    const data = set.bytes!.data;
    return [...data.subarray(at + 10, at + 14)].join('.');
  };
  for (let i = 0; i < 3; i++) {
    assert.equal(addressOf('a.web.shop.linkerd.local.'), '10.0.0.1');
    assert.equal(addressOf('b.web.shop.linkerd.local.'), '10.0.0.2');
  }
});

test('a consumer split is answered by the client namespace, query after query', () => {
  // The node of a service with consumer routes depends on the client: never remembered.
  const c = core();
  c.catalog.upsert('shop', 'web', instance('w', '10.0.0.1'));
  c.catalog.upsert('shop', 'web-v2', instance('v', '10.2.0.1'));
  const origin = { kind: 'HTTPRoute', group: 'gateway.networking.k8s.io', namespace: 'client', name: 'consumer' };
  c.catalog.setSplit('shop', 'web', { backends: [], origin, consumers: [{ namespace: 'client', backends: [{ service: 'shop/web-v2', weight: 1 }], origin }] });
  c.catalog.setClientNamespaces(new Map([['10.9.0.1', 'client'], ['10.9.0.2', 'other']]));
  const addresses = (client: string): string[] => c.query('web.shop.linkerd.local', {}, false, client).answers.map((a) => a.address!);
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(addresses('10.9.0.1'), ['10.2.0.1']);
    assert.deepEqual(addresses('10.9.0.2'), ['10.0.0.1']);
  }
});
