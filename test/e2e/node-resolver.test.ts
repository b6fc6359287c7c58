import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';

let server: MeshdnsProcess;
let resolver: Resolver;
before(async () => {
  server = await startMeshdns(['--upstream', 'none']);
  resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([`127.0.0.1:${server.dnsPort}`]);
});
after(() => server.stop());

test("Node's resolver (c-ares): A, AAAA, SRV, SOA, TXT", async () => {
  assert.deepEqual((await resolver.resolve4('web.default.linkerd.local')).sort(), ['10.0.0.11', '10.0.0.12']);
  assert.deepEqual(await resolver.resolve6('api.default.linkerd.local'), ['fd00::1:21']);
  const srv = await resolver.resolveSrv('_http._tcp.web.default.linkerd.local');
  assert.deepEqual(srv.map((s) => [s.name, s.weight, s.port]).sort(), [
    ['web-1.web.default.linkerd.local', 70, 8080],
    ['web-2.web.default.linkerd.local', 30, 8080],
  ]);
  assert.equal((await resolver.resolveSoa('linkerd.local')).nsname, 'ns.dns.linkerd.local');
  assert.deepEqual(await resolver.resolveTxt('web.default.linkerd.local'), [['owner=platform-team']]);
});

test("Node's resolver: NXDOMAIN is ENOTFOUND, NODATA is ENODATA", async () => {
  await assert.rejects(resolver.resolve4('missing.default.linkerd.local'), { code: 'ENOTFOUND' });
  await assert.rejects(resolver.resolve6('web.default.linkerd.local'), { code: 'ENODATA' });
});
