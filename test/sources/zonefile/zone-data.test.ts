import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseZone } from '../../../src/sources/zonefile/parser.js';
import { buildZoneData } from '../../../src/sources/zonefile/zone-data.js';
import { keyOf } from '../../../src/wire/name.js';
import { RRType } from '../../../src/wire/constants.js';

const ZONE = `$ORIGIN linkerd.local.
$TTL 5
_http._tcp.web.default SRV 0 70 8080 web-1.web.default
_grpc._tcp.web.default SRV 0 70 9090 web-1.web.default
_http._tcp.web.default SRV 0 30 8080 web-2.web.default
web-1.web.default A 10.0.0.11
web-2.web.default AAAA fd00::12
web.default A 10.0.0.11
web.default A 10.0.0.99
web.default TXT "kept"
_x._tcp.web.default SRV 0 1 1 elsewhere.example.
`;

test('service-shaped records become catalog instances; the rest is served as written', () => {
  const data = buildZoneData(parseZone(ZONE, 'linkerd.local.'), true, 5);
  const byId = new Map(data.instances.map((i) => [i.instance.id, i]));
  assert.deepEqual([...byId.keys()].sort(), ['10-0-0-99', 'web-1', 'web-2']);
  const web1 = byId.get('web-1')!;
  assert.equal(web1.namespace, 'default');
  assert.equal(web1.service, 'web');
  assert.equal(web1.instance.weight, 70);
  assert.deepEqual(web1.instance.ports, [
    { name: 'http', port: 8080, protocol: 'tcp' },
    { name: 'grpc', port: 9090, protocol: 'tcp' },
  ]);
  assert.equal(byId.get('web-2')!.instance.address, 'fd00:0:0:0:0:0:0:12');
  assert.equal(byId.get('10-0-0-99')!.instance.weight, 100);
  const names = data.zone.names;
  assert.ok(names.get(keyOf('web.default.linkerd.local'))!.rrsets.get(RRType.TXT) !== undefined);
  assert.ok(!names.get(keyOf('web.default.linkerd.local'))!.rrsets.get(RRType.A) !== undefined);
  assert.ok(names.get(keyOf('_x._tcp.web.default.linkerd.local'))!.rrsets.get(RRType.SRV) !== undefined); // target outside: static
  assert.ok(!names.has(keyOf('_http._tcp.web.default.linkerd.local')));
  // Generated apex, and empty non-terminals for what stayed static.
  assert.ok(names.get(keyOf('linkerd.local'))!.rrsets.get(RRType.SOA) !== undefined);
  assert.equal([...names.get(keyOf('default.linkerd.local'))!.rrsets.values()].length, 0);
});

test('outside mesh zones nothing goes to the catalog', () => {
  const data = buildZoneData(parseZone(ZONE, 'linkerd.local.'), false, 5);
  assert.equal(data.instances.length, 0);
  assert.equal(data.zone.names.get(keyOf('web.default.linkerd.local'))!.rrsets.get(RRType.A)!.records.length, 2);
});

test('an SRV record with port 0 is served as written, not made an instance the catalog would reject (found by fuzzing)', () => {
  const zone = `$ORIGIN linkerd.local.\n$TTL 5\n_http._tcp.web.default SRV 0 30 0 web-2.web.default\n_http._tcp.web.default SRV 0 70 80 web-1.web.default\nweb-1.web.default A 10.0.0.11\nweb-2.web.default A 10.0.0.12\n`;
  const data = buildZoneData(parseZone(zone, 'linkerd.local.'), true, 5);
  assert.deepEqual(data.instances.map((i) => i.instance.id), ['web-1']);
  const srv = data.zone.names.get(keyOf('_http._tcp.web.default.linkerd.local'))!.rrsets.get(RRType.SRV)!;
  assert.equal(srv.records.length, 1);
});
