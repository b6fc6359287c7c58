import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dig } from '../../support/dig.js';
import { startMeshdns, type MeshdnsProcess } from '../../support/meshdns-process.js';
import { api, instancePath } from '../../support/rest-client.js';

let server: MeshdnsProcess;
before(async () => {
  server = await startMeshdns(['--upstream', 'none']);
});
after(() => server.stop());

const body = { address: '10.1.2.3', ports: [{ name: 'http', port: 8080, protocol: 'tcp' }] };

test('PUT registers (200 with the stored instance) and DNS answers it at once', async () => {
  const r = await api(server.httpPort, 'PUT', instancePath('shop', 'cart', 'cart-1'), {
    ...body,
    weight: 40,
    zone: 'eu-west-1a',
    ttl: '30s',
    check: { http: 'http://10.1.2.3:8080/healthz', interval: '5s', timeout: '1s', healthyThreshold: 2, unhealthyThreshold: 3 },
    metadata: { version: 'v2' },
  });
  assert.equal(r.status, 200);
  assert.equal(r.body.id, 'cart-1');
  assert.equal(r.body.weight, 40);
  assert.equal(r.body.ttl, '30s');
  assert.equal(r.body.check.interval, '5s');
  assert.deepEqual(r.body.metadata, { version: 'v2' });
  assert.deepEqual(r.body.ports, [{ name: 'http', port: 8080, protocol: 'tcp' }]);
  assert.match((await dig(server.dnsPort, ['+short', 'cart.shop.linkerd.local'])).raw, /^10\.1\.2\.3$/m);
  const srv = await dig(server.dnsPort, ['+short', '_http._tcp.cart.shop.linkerd.local', 'SRV']);
  assert.match(srv.raw, /^0 40 8080 cart-1\.cart\.shop\.linkerd\.local\.$/m);
});

test('PUT again replaces the instance; defaults: weight 100, protocol tcp', async () => {
  const path = instancePath('shop', 'cart', 'cart-2');
  const first = await api(server.httpPort, 'PUT', path, { address: 'fd00::7', ports: [{ name: 'grpc', port: 9090 }] });
  assert.equal(first.status, 200);
  assert.equal(first.body.weight, 100);
  assert.equal(first.body.ports[0].protocol, 'tcp');
  const second = await api(server.httpPort, 'PUT', path, { address: 'fd00::8', ports: [] });
  assert.equal(second.body.registeredAt, first.body.registeredAt);
  assert.match((await dig(server.dnsPort, ['+short', 'cart-2.cart.shop.linkerd.local', 'AAAA'])).raw, /^fd00::8$/m);
});

const invalid: [string, unknown, RegExp][] = [
  ['missing address', { ports: [] }, /address/],
  ['missing ports', { address: '10.0.0.1' }, /ports/],
  ['bad address', { ...body, address: '10.0.0.256' }, /^address: "10\.0\.0\.256" is not an IPv4 or IPv6 address/],
  ['port 0', { ...body, ports: [{ name: 'http', port: 0 }] }, /body\.ports\.0\.port must be >= 1/],
  ['port 65536', { ...body, ports: [{ name: 'http', port: 65536 }] }, /ports\.0\.port must be <= 65535/],
  ['protocol sctp', { ...body, ports: [{ name: 'http', port: 1, protocol: 'sctp' }] }, /ports\.0\.protocol must be equal to one of the allowed values/],
  ['port name not a label', { ...body, ports: [{ name: 'HTTP_1', port: 1 }] }, /ports\.0\.name must match pattern/],
  ['duplicate port names', { ...body, ports: [{ name: 'a', port: 1 }, { name: 'a', port: 2 }] }, /ports\[1\]\.name: port "a" \(tcp\) is given twice/],
  ['weight too big', { ...body, weight: 65536 }, /weight must be <= 65535/],
  ['weight as a string', { ...body, weight: '100' }, /weight must be integer/],
  ['bad ttl', { ...body, ttl: 'soon' }, /ttl must match pattern/],
  ['ttl too short', { ...body, ttl: '10ms' }, /^ttl: "10ms" must be from 1s to 24h/],
  ['check with both kinds', { ...body, check: { http: 'http://x/', tcp: 'x:1' } }, /check: give exactly one of "http", "tcp" or "grpc"/],
  ['check http not a URL', { ...body, check: { http: 'nope' } }, /check\.http: "nope" is not a URL/],
  ['check timeout above interval', { ...body, check: { tcp: '10.0.0.1:80', interval: '1s', timeout: '2s' } }, /check\.timeout/],
  ['unknown field', { ...body, color: 'blue' }, /must NOT have additional properties/],
  ['metadata value not a string', { ...body, metadata: { a: 1 } }, /metadata\.a must be string/],
];
for (const [name, payload, message] of invalid) {
  test(`400 naming the field: ${name}`, async () => {
    const r = await api(server.httpPort, 'PUT', instancePath('shop', 'bad', 'x'), payload);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error, 'invalid_body');
    assert.match(r.body.message, message);
  });
}

test('400 for names that are not DNS labels (case, underscore, over 63 characters)', async () => {
  for (const path of [instancePath('Shop', 'web', 'a'), instancePath('shop', 'web_1', 'a'), instancePath('shop', 'web', 'a'.repeat(64))]) {
    const r = await api(server.httpPort, 'PUT', path, body);
    assert.equal(r.status, 400, path);
    assert.equal(r.body.error, 'invalid_name');
    assert.match(r.body.message, /params\.(ns|svc|id) must/);
  }
});

test('bodies: not JSON is 400, another media type 415, over 64 KiB 413', async () => {
  const path = instancePath('shop', 'web', 'a');
  const notJson = await api(server.httpPort, 'PUT', path, '{"address":');
  assert.equal(notJson.status, 400);
  assert.equal(typeof notJson.body.message, 'string');
  const text = await fetch(`http://127.0.0.1:${server.httpPort}${path}`, { method: 'PUT', headers: { 'content-type': 'application/xml' }, body: '<a/>' });
  assert.equal(text.status, 415);
  const big = await api(server.httpPort, 'PUT', path, { ...body, metadata: { a: 'x'.repeat(70_000) } });
  assert.equal(big.status, 413);
  assert.equal(big.body.error, 'body_too_large');
});

test('DELETE: 204, then 404; heartbeat: 204 for a known instance, 404 otherwise', async () => {
  const path = instancePath('shop', 'gone', 'g1');
  assert.equal((await api(server.httpPort, 'PUT', path, body)).status, 200);
  assert.equal((await api(server.httpPort, 'PUT', `${path}/heartbeat`)).status, 204);
  assert.equal((await api(server.httpPort, 'DELETE', path)).status, 204);
  assert.equal((await dig(server.dnsPort, ['gone.shop.linkerd.local'])).status, 'NXDOMAIN');
  const again = await api(server.httpPort, 'DELETE', path);
  assert.equal(again.status, 404);
  assert.equal(again.body.error, 'not_found');
  assert.equal((await api(server.httpPort, 'PUT', `${path}/heartbeat`)).status, 404);
});

test('GET /v1/services lists every source; GET one service shows its instances; unknown 404', async () => {
  await api(server.httpPort, 'PUT', instancePath('default', 'web', 'vm-1'), { ...body, weight: 10 });
  const list = await api(server.httpPort, 'GET', '/v1/services');
  assert.equal(list.status, 200);
  const web = list.body.services.find((s: { namespace: string; name: string }) => s.namespace === 'default' && s.name === 'web');
  assert.deepEqual(web.sources, { zonefile: 2, rest: 1 });
  assert.equal(web.instances, 3);
  const one = await api(server.httpPort, 'GET', '/v1/services/default/web');
  assert.equal(one.status, 200);
  const vm = one.body.instances.find((i: { id: string }) => i.id === 'vm-1');
  assert.equal(vm.source, 'rest');
  assert.equal(vm.weight, 10);
  assert.equal(vm.health, 'healthy');
  assert.ok('lastProbe' in vm);
  assert.equal((await api(server.httpPort, 'GET', '/v1/services/default/nothing')).status, 404);
  assert.equal((await api(server.httpPort, 'GET', '/v2/nothing')).body.error, 'not_found');
});

test('with --api-token-file, writes need the bearer token; reads do not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshdns-token-'));
  writeFileSync(join(dir, 'token'), 's3cret-token-0000000\n');
  const s = await startMeshdns(['--upstream', 'none', '--api-token-file', join(dir, 'token')]);
  try {
    const path = instancePath('shop', 'web', 'a');
    const none = await api(s.httpPort, 'PUT', path, body);
    assert.equal(none.status, 401);
    assert.equal(none.body.error, 'unauthorized');
    assert.equal((await api(s.httpPort, 'PUT', path, body, { authorization: 'Bearer wrong' })).status, 401);
    assert.equal((await api(s.httpPort, 'PUT', path, body, { authorization: 'Bearer s3cret-token-0000000' })).status, 200);
    assert.equal((await api(s.httpPort, 'DELETE', path, undefined, { authorization: 'Bearer nope' })).status, 401);
    assert.equal((await api(s.httpPort, 'GET', '/v1/services')).status, 200);
  } finally {
    await s.stop();
  }
});
