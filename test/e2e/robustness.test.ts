import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { dig } from '../support/dig.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { shippedZone, tempZones } from '../support/temp-zones.js';
import { api, instancePath } from '../support/rest-client.js';
import { within } from '../support/poll.js';

/** The ten edge cases of the robustness issue, each against the built server with the shipped zone file. */
let server: MeshdnsProcess;
let zonesDir: string;
before(async () => {
  zonesDir = tempZones({
    'linkerd.local.zone': `${shippedZone}
foo.bar.baz IN A 10.9.9.9
legacy.default IN CNAME web.default
loop-a IN CNAME loop-b
loop-b IN CNAME loop-a
`,
  });
  server = await startMeshdns(['--upstream', 'none', '--zones', zonesDir]);
});
after(() => server.stop());

const port = (name: string): { name: string; port: number } => ({ name, port: 8080 });

test('1: a port name longer than 15 is a 400 with nothing stored; the service and its zone-file instances keep answering', async () => {
  const r = await api(server.httpPort, 'PUT', instancePath('default', 'web', 'evil'), { address: '10.0.0.66', ports: [port('p'.repeat(63))] });
  assert.equal(r.status, 400);
  assert.match(r.body.message, /ports.0.name/);
  assert.equal((await api(server.httpPort, 'PUT', instancePath('default', 'web', 'evil'), { address: '10.0.0.66', ports: [port('p'.repeat(16))] })).status, 400);
  const ok = await api(server.httpPort, 'PUT', instancePath('default', 'web', 'fine'), { address: '10.0.0.67', ports: [port('p'.repeat(15))] });
  assert.equal(ok.status, 200);
  const a = await dig(server.dnsPort, ['+short', 'web.default.linkerd.local']);
  assert.deepEqual(a.raw.trim().split('\n').sort(), ['10.0.0.11', '10.0.0.12', '10.0.0.67']);
  const srv = await dig(server.dnsPort, [`_${'p'.repeat(15)}._tcp.web.default.linkerd.local`, 'SRV']);
  assert.equal(srv.status, 'NOERROR');
  assert.equal(srv.answer.length, 1);
  const detail = await api(server.httpPort, 'GET', '/v1/services/default/web');
  assert.equal(detail.body.instances.some((i: { id: string }) => i.id === 'evil'), false);
});

test('1: a stored row an older version accepted is loaded past, logged, reported by /readyz and a metric; the rest loads', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshdns-oldrow-'));
  const first = await startMeshdns(['--upstream', 'none', '--data-dir', dataDir]);
  assert.equal((await api(first.httpPort, 'PUT', instancePath('shop', 'cart', 'good'), { address: '10.3.0.1', ports: [port('http')] })).status, 200);
  await first.stop();
  // What the older version stored: a 63-character port name.
  const db = new DatabaseSync(join(dataDir, 'registrations.db'));
  const row = db.prepare('SELECT * FROM registrations LIMIT 1').get() as Record<string, unknown>;
  const body = JSON.parse(String(row.body)) as Record<string, unknown>;
  const evil = { ...body, id: 'evil', address: '10.3.0.2', ports: [{ name: 'p'.repeat(63), port: 80, protocol: 'tcp' }] };
  db.prepare('INSERT INTO registrations (key, body) VALUES (?, ?)').run(String(row.key).replace(/good$/, 'evil'), JSON.stringify(evil));
  db.close();

  const again = await startMeshdns(['--upstream', 'none', '--data-dir', dataDir]);
  try {
    await again.waitForLog(/no longer validates/);
    assert.match((await dig(again.dnsPort, ['+short', 'cart.shop.linkerd.local'])).raw, /^10\.3\.0\.1$/m);
    const ready = await api(again.httpPort, 'GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.match(ready.body.notes[0], /shop\/cart\/evil/);
    const metrics = await (await fetch(`http://127.0.0.1:${again.httpPort}/metrics`)).text();
    assert.match(metrics, /^meshdns_invalid_registrations 1$/m);
    // The operator can delete it through the API.
    assert.equal((await api(again.httpPort, 'DELETE', instancePath('shop', 'cart', 'evil'))).status, 204);
    assert.equal((await api(again.httpPort, 'GET', '/readyz')).body.notes, undefined);
  } finally {
    await again.stop();
  }
});

test('2: a TTL longer than --deregister-after keeps its registration while the TTL runs', async () => {
  const s = await startMeshdns(['--upstream', 'none', '--deregister-after', '1s']);
  try {
    const path = instancePath('shop', 'long', 'a');
    assert.equal((await api(s.httpPort, 'PUT', path, { address: '10.4.0.1', ports: [], ttl: '4s' })).status, 200);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await api(s.httpPort, 'PUT', `${path}/heartbeat`)).status, 204);
    assert.match((await dig(s.dnsPort, ['+short', 'long.shop.linkerd.local'])).raw, /10\.4\.0\.1/);
  } finally {
    await s.stop();
  }
});

test('3: REST writes that collide with zone-file names get 409 naming the conflict; adding instances beside them is fine', async () => {
  const cases: [string, string, string, RegExp][] = [
    ['default', 'web', 'web-1', /instance web-1 of default\/web is defined in a zone file/],
    ['baz', 'bar', 'foo', /foo\.bar\.baz\.linkerd\.local\. has a A record in a zone file/],
    ['default', 'legacy', 'x', /legacy\.default\.linkerd\.local\. has a CNAME record/],
    ['docs', 'x', 'y', /docs\.linkerd\.local\. has a CNAME record/],
    ['dns', 'ns', 'z', /ns\.dns\.linkerd\.local\. is a name server of the zone/],
  ];
  for (const [ns, svc, id, message] of cases) {
    const r = await api(server.httpPort, 'PUT', instancePath(ns, svc, id), { address: '10.5.0.1', ports: [port('http')] });
    assert.equal(r.status, 409, `${ns}/${svc}/${id}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error, 'conflict');
    assert.match(r.body.message, message);
  }
  assert.deepEqual((await dig(server.dnsPort, ['+short', 'foo.bar.baz.linkerd.local'])).raw.trim(), '10.9.9.9');
  assert.deepEqual((await dig(server.dnsPort, ['+short', 'ns.dns.linkerd.local'])).raw.trim(), '127.0.0.1');
  // No duplicate RRs: one SRV per target name, glue once per address.
  const srv = await dig(server.dnsPort, ['_http._tcp.web.default.linkerd.local', 'SRV']);
  const targets = srv.answer.map((l) => l.split(/\s+/).pop());
  assert.equal(new Set(targets).size, targets.length);
  assert.equal(new Set(srv.additional).size, srv.additional.length);
});

test('4: an SRV name whose instances are all drained or expired is NODATA, not NXDOMAIN', async () => {
  const path = instancePath('shop', 'flap', 'a');
  assert.equal((await api(server.httpPort, 'PUT', path, { address: '10.6.0.1', ports: [port('http')], weight: 0 })).status, 200);
  for (const name of ['_http._tcp.flap.shop.linkerd.local', '_tcp.flap.shop.linkerd.local']) {
    const r = await dig(server.dnsPort, [name, 'SRV']);
    assert.equal(r.status, 'NOERROR', name);
    assert.equal(r.answer.length, 0);
    assert.match(r.authority.join('\n'), /SOA/);
  }
  assert.equal((await dig(server.dnsPort, ['_grpc._tcp.flap.shop.linkerd.local', 'SRV'])).status, 'NXDOMAIN');
});

test('5: a check URL with credentials is shown with the password masked', async () => {
  const path = instancePath('shop', 'secret', 'a');
  const put = await api(server.httpPort, 'PUT', path, { address: '10.7.0.1', ports: [], check: { http: 'http://user:hunter2@10.7.0.1:8080/healthz' } });
  assert.equal(put.status, 200);
  assert.equal(put.body.check.http, 'http://user:****@10.7.0.1:8080/healthz');
  const get = await api(server.httpPort, 'GET', '/v1/services/shop/secret');
  assert.doesNotMatch(JSON.stringify(get.body), /hunter2/);
});

test('6: unusable addresses are refused with the reason', async () => {
  for (const [address, reason] of [
    ['0.0.0.0', /this network/],
    ['255.255.255.255', /broadcast/],
    ['::', /unspecified/],
    ['224.0.0.5', /multicast/],
    ['ff02::1', /multicast/],
    ['fe80::1%eth0', /zone index/],
    ['::ffff:10.0.0.1', /IPv4-mapped/],
  ] as const) {
    const r = await api(server.httpPort, 'PUT', instancePath('shop', 'addr', 'a'), { address, ports: [] });
    assert.equal(r.status, 400, address);
    assert.match(r.body.message, /^address: /);
    assert.match(r.body.message, reason);
  }
});

test('7: a CNAME loop in a zone file is warned about at load and answered without repeated records', async () => {
  await server.waitForLog(/CNAME loop: loop-a\.linkerd\.local\. → loop-b\.linkerd\.local\. → loop-a\.linkerd\.local\./);
  const r = await dig(server.dnsPort, ['loop-a.linkerd.local', 'A']);
  assert.equal(r.answer.length, 2);
  assert.equal(new Set(r.answer).size, 2);
});

test('8: API errors say what is wrong: __proto__ keys, text/plain, tcp port 0, other methods', async () => {
  const path = instancePath('shop', 'api', 'a');
  const proto = await api(server.httpPort, 'PUT', path, '{"address":"10.8.0.1","ports":[],"__proto__":{"x":1}}');
  assert.equal(proto.status, 400);
  assert.match(proto.body.message, /"__proto__" key/);
  const bad = await api(server.httpPort, 'PUT', path, '{"address":');
  assert.match(bad.body.message, /not valid JSON: /);
  const plain = await fetch(`http://127.0.0.1:${server.httpPort}${path}`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'hi' });
  assert.equal(plain.status, 415);
  const tcp0 = await api(server.httpPort, 'PUT', path, { address: '10.8.0.1', ports: [], check: { tcp: '10.8.0.1:0' } });
  assert.equal(tcp0.status, 400);
  assert.match(tcp0.body.message, /check\.tcp/);
  for (const method of ['POST', 'PATCH']) {
    const res = await fetch(`http://127.0.0.1:${server.httpPort}${path}`, { method, headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'PUT, DELETE');
  }
});

test('9: without a zone file, the generated NS host has an address', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'meshdns-nozones-'));
  const s = await startMeshdns(['--upstream', 'none', '--zones', empty, '--ns-address', '10.96.0.53']);
  try {
    const ns = await dig(s.dnsPort, ['linkerd.local', 'NS']);
    assert.match(ns.answer[0]!, /NS\s+ns\.dns\.linkerd\.local\.$/);
    assert.equal((await dig(s.dnsPort, ['+short', 'ns.dns.linkerd.local'])).raw.trim(), '10.96.0.53');
  } finally {
    await s.stop();
  }
  const d = await startMeshdns(['--upstream', 'none', '--zones', empty]);
  try {
    assert.equal((await dig(d.dnsPort, ['+short', 'ns.dns.linkerd.local'])).raw.trim(), '127.0.0.1');
  } finally {
    await d.stop();
  }
});

test('10: a zone file that does not parse is never served; its last good version is (the README says to rename into place)', async () => {
  writeFileSync(join(zonesDir, 'linkerd.local.zone'), '$ORIGIN linkerd.local.\n@ IN SOA ns.dns hostmaster ( 1 2 3 4\n');
  await server.waitForLog(/zone file is broken; still serving its last good version/, 5000);
  await within(3000, async () => (await dig(server.dnsPort, ['+short', 'foo.bar.baz.linkerd.local'])).raw.trim() === '10.9.9.9');
});
