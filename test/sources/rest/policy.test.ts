import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { buildQuery, decode, udpExchange } from '../../support/dns-client.js';
import { EtcdServer } from '../../support/etcd.js';
import { fuzzRuns, fuzzSeed } from '../../support/fuzz-settings.js';
import { startMeshdns, type MeshdnsProcess } from '../../support/meshdns-process.js';
import { within } from '../../support/poll.js';
import { ProbeTarget } from '../../support/probe-target.js';
import { api, instancePath } from '../../support/rest-client.js';

let s: MeshdnsProcess;
before(async () => {
  s = await startMeshdns(['--upstream', 'none', '--client-zone', '127.0.0.2/32=zone-a', '--client-zone', '127.0.0.3/32=zone-b']);
});
after(() => s.stop());

const port = [{ name: 'http', port: 8080 }];
const register = async (ns: string, svc: string, id: string, address: string, extra: object = {}): Promise<void> => {
  const r = await api(s.httpPort, 'PUT', instancePath(ns, svc, id), { address, ports: port, ...extra });
  assert.equal(r.status, 200, JSON.stringify(r.body));
};
const setPolicy = async (ns: string, svc: string, body: unknown, server = s): Promise<ReturnType<typeof api>> => api(server.httpPort, 'PUT', `/v1/services/${ns}/${svc}/policy`, body);

async function query(name: string, opts: { type?: number; from?: string; server?: MeshdnsProcess; id?: number } = {}): Promise<ReturnType<typeof decode>> {
  const reply = await udpExchange((opts.server ?? s).dnsPort, buildQuery(name, { type: opts.type, id: opts.id, edns: { udpSize: 4096 } }), 2000, '127.0.0.1', opts.from);
  assert.ok(reply !== null, `no answer for ${name}`);
  return decode(reply);
}
const first = async (name: string, opts: { from?: string; server?: MeshdnsProcess } = {}): Promise<string> => (await query(name, opts)).answers[0]?.address ?? 'none';

test('PUT/GET/DELETE policy: defaults filled in, also for a service without instances; strict validation names the field', async () => {
  assert.deepEqual((await api(s.httpPort, 'GET', '/v1/services/shop/nothing-yet/policy')).body, { loadBalancer: 'weighted', failover: [], locality: 'off', answerLimit: 0 });
  const put = await setPolicy('shop', 'p1', { loadBalancer: 'random', answerLimit: 2 });
  assert.equal(put.status, 200);
  assert.deepEqual(put.body, { loadBalancer: 'random', failover: [], locality: 'off', answerLimit: 2 });
  assert.deepEqual((await api(s.httpPort, 'GET', '/v1/services/shop/p1/policy')).body, put.body);
  assert.equal((await api(s.httpPort, 'GET', '/v1/services/shop/p1')).body.policy.loadBalancer, 'random');
  for (const [body, field] of [
    [{ loadBalancer: 'least-conn' }, /loadBalancer/],
    [{ failover: ['not a ref'] }, /failover/],
    [{ failover: ['p1.shop'] }, /failover\[0\]: "p1\.shop" is this service itself/],
    [{ failover: ['a.shop', 'a.shop'] }, /failover\[1\]: "a\.shop" is listed twice/],
    [{ locality: 'nearest' }, /locality/],
    [{ answerLimit: -1 }, /answerLimit/],
    [{ answerLimit: '2' }, /answerLimit/],
    [{ extra: 1 }, /additional/],
  ] as const) {
    const r = await setPolicy('shop', 'p1', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.body.message, field);
  }
  assert.equal((await api(s.httpPort, 'DELETE', '/v1/services/shop/p1/policy')).status, 204);
  assert.equal((await api(s.httpPort, 'GET', '/v1/services/shop/p1/policy')).body.loadBalancer, 'weighted');
  assert.equal((await api(s.httpPort, 'POST', '/v1/services/shop/p1/policy', {})).status, 405);
});

test('round-robin: the exact smooth weighted sequence; random: weights ignored; answerLimit cuts the answer', async () => {
  await register('lb', 'rr', 'a', '10.20.0.1', { weight: 3 });
  await register('lb', 'rr', 'b', '10.20.0.2', { weight: 1 });
  assert.equal((await setPolicy('lb', 'rr', { loadBalancer: 'round-robin' })).status, 200);
  const seq: string[] = [];
  for (let i = 0; i < 16; i++) seq.push(await first('rr.lb.linkerd.local'));
  const window = (from: number): number => seq.slice(from, from + 4).filter((a) => a === '10.20.0.1').length;
  for (let from = 0; from + 4 <= seq.length; from++) assert.equal(window(from), 3, seq.join(' '));
  assert.equal((await setPolicy('lb', 'rr', { loadBalancer: 'random', answerLimit: 1 })).status, 200);
  let heavy = 0;
  const n = 1000;
  for (let i = 0; i < n; i++) {
    const r = await query('rr.lb.linkerd.local', { id: i });
    assert.equal(r.answers.length, 1);
    if (r.answers[0]!.address === '10.20.0.1') heavy++;
  }
  assert.ok(Math.abs(heavy / n - 0.5) < 0.06, `random: ${heavy} of ${n} for the weight-3 instance`);
});

test('failover: a service with nothing answerable answers its first backup that has instances, under its own name; back as soon as one of its own is', async () => {
  await register('ha', 'web', 'w1', '10.30.0.1');
  await register('ha', 'dr2', 'd2', '10.30.2.1');
  assert.equal((await setPolicy('ha', 'web', { failover: ['dr1.ha', 'dr2.ha'] })).status, 200);
  assert.equal(await first('web.ha.linkerd.local'), '10.30.0.1');
  // Drain the own instance: dr1 has nothing (does not exist), so dr2 answers.
  await register('ha', 'web', 'w1', '10.30.0.1', { weight: 0 });
  assert.equal(await first('web.ha.linkerd.local'), '10.30.2.1');
  const srv = await query('_http._tcp.web.ha.linkerd.local', { type: 33 });
  assert.equal(srv.answers[0]!.target, 'd2.dr2.ha.linkerd.local');
  assert.equal(srv.additionals.find((a) => a.type === 1)?.address, '10.30.2.1');
  const view = await api(s.httpPort, 'GET', '/v1/services/ha/web');
  assert.equal(view.body.failover.answeredBy, 'dr2.ha');
  assert.match(await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text(), /^meshdns_services_failing_over [1-9]/m);
  // A backup appearing earlier in the list is followed (the dependency is tracked, not polled).
  await register('ha', 'dr1', 'd1', '10.30.1.1');
  assert.equal(await first('web.ha.linkerd.local'), '10.30.1.1');
  // The backup changes: the failing service follows within the write.
  await register('ha', 'dr1', 'd1', '10.30.1.9');
  assert.equal(await first('web.ha.linkerd.local'), '10.30.1.9');
  // Nothing answerable anywhere: NODATA, not the drained instances (no panic: they are drained, not failing probes).
  await register('ha', 'dr1', 'd1', '10.30.1.9', { weight: 0 });
  await register('ha', 'dr2', 'd2', '10.30.2.1', { weight: 0 });
  const empty = await query('web.ha.linkerd.local');
  assert.equal(empty.header.rcode, 0);
  assert.equal(empty.answers.length, 0);
  // Its own instance back: its own answers at once.
  await register('ha', 'web', 'w1', '10.30.0.1', { weight: 100 });
  assert.equal(await first('web.ha.linkerd.local'), '10.30.0.1');
  assert.equal((await api(s.httpPort, 'GET', '/v1/services/ha/web')).body.failover, undefined);
  // The instance name still answers its own instance whatever happens.
  assert.equal(await first('w1.web.ha.linkerd.local'), '10.30.0.1');
});

test("failover follows a backup's own probes: dr1 fails its checks, dr2 answers; dr1 heals, it answers again", async () => {
  const target = await ProbeTarget.start();
  try {
    await register('hp', 'web', 'w1', '10.32.0.1', { weight: 0 });
    const check = { http: target.url, interval: '100ms', timeout: '50ms', healthyThreshold: 1, unhealthyThreshold: 1 };
    await register('hp', 'dr1', 'd1', '10.32.1.1', { check });
    await register('hp', 'dr2', 'd2', '10.32.2.1');
    assert.equal((await setPolicy('hp', 'web', { failover: ['dr1.hp', 'dr2.hp'] })).status, 200);
    await within(3000, async () => (await first('web.hp.linkerd.local')) === '10.32.1.1');
    target.mode = 'fail';
    await within(3000, async () => (await first('web.hp.linkerd.local')) === '10.32.2.1');
    target.mode = 'ok';
    await within(3000, async () => (await first('web.hp.linkerd.local')) === '10.32.1.1');
  } finally {
    await target.stop();
  }
});

test('failover of a service with no instances at all; not transitive', async () => {
  await register('ha2', 'backup', 'b1', '10.31.0.1');
  assert.equal((await setPolicy('ha2', 'ghost', { failover: ['backup.ha2'] })).status, 200);
  assert.equal(await first('ghost.ha2.linkerd.local'), '10.31.0.1');
  // ghost2 → ghost (which only fails over itself): not followed transitively.
  assert.equal((await setPolicy('ha2', 'ghost2', { failover: ['ghost.ha2'] })).status, 200);
  assert.equal((await query('ghost2.ha2.linkerd.local')).answers.length, 0);
  // A service with only a policy is listed too.
  const listed = (await api(s.httpPort, 'GET', '/v1/services')).body.services.find((x: { name: string }) => x.name === 'ghost');
  assert.deepEqual([listed.instances, listed.policy.failover], [0, ['backup.ha2']]);
});

test('locality prefer-zone: clients at 127.0.0.2 (zone-a) and 127.0.0.3 (zone-b) get their zone first; others the plain order', async () => {
  await register('loc', 'api', 'a', '10.40.0.1', { zone: 'zone-a', weight: 1 });
  await register('loc', 'api', 'b', '10.40.0.2', { zone: 'zone-b', weight: 1000 });
  assert.equal((await setPolicy('loc', 'api', { locality: 'prefer-zone' })).status, 200);
  for (let i = 0; i < 20; i++) {
    assert.equal(await first('api.loc.linkerd.local', { from: '127.0.0.2' }), '10.40.0.1');
    assert.equal(await first('api.loc.linkerd.local', { from: '127.0.0.3' }), '10.40.0.2');
  }
  // An unknown client gets the weighted order: the heavy one nearly always.
  let heavy = 0;
  for (let i = 0; i < 50; i++) if ((await first('api.loc.linkerd.local')) === '10.40.0.2') heavy++;
  assert.ok(heavy >= 45, `${heavy}`);
});

test('a policy survives kill -9 right after the 200', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshdns-policy-'));
  const one = await startMeshdns(['--upstream', 'none', '--data-dir', dataDir]);
  assert.equal((await setPolicy('dur', 'svc', { loadBalancer: 'round-robin', failover: ['b.dur'] }, one)).status, 200);
  one.proc.kill('SIGKILL');
  await one.stop();
  const two = await startMeshdns(['--upstream', 'none', '--data-dir', dataDir]);
  try {
    assert.deepEqual((await api(two.httpPort, 'GET', '/v1/services/dur/svc/policy')).body, { loadBalancer: 'round-robin', failover: ['b.dur'], locality: 'off', answerLimit: 0 });
  } finally {
    await two.stop();
  }
});

test('over etcd, a policy written on one replica is in force on the other within a second; so is its removal', async () => {
  const etcd = await EtcdServer.start();
  const args = ['--upstream', 'none', '--store', 'etcd', '--etcd', etcd.url];
  const a = await startMeshdns(args);
  const b = await startMeshdns(args);
  try {
    await within(5000, async () => (await fetch(`http://127.0.0.1:${b.httpPort}/readyz`)).status === 200);
    assert.equal((await setPolicy('rep', 'svc', { answerLimit: 3 }, a)).status, 200);
    const t = await within(1000, async () => (await api(b.httpPort, 'GET', '/v1/services/rep/svc/policy')).body.answerLimit === 3);
    assert.ok(t < 1000);
    assert.equal((await api(a.httpPort, 'DELETE', '/v1/services/rep/svc/policy')).status, 204);
    await within(1000, async () => (await api(b.httpPort, 'GET', '/v1/services/rep/svc/policy')).body.answerLimit === 0);
  } finally {
    await a.stop();
    await b.stop();
    await etcd.dispose();
  }
});

test(`${fuzzRuns(500)} fuzzed policy bodies: a clean 4xx or accepted and in force`, async () => {
  const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('weighted', 'round-robin', 'random', 'off', 'prefer-zone', 'a.b', 'fz.fuzz', -1, 0, 1, 65536, 1.5, [], ['x.y'], ['fz.fuzz']));
  const body = fc.dictionary(fc.constantFrom('loadBalancer', 'failover', 'locality', 'answerLimit', 'extra'), value, { maxKeys: 4 });
  await fc.assert(
    fc.asyncProperty(body, async (b) => {
      const r = await setPolicy('fuzz', 'fz', b);
      assert.ok(r.status === 200 || r.status === 400, `status ${r.status}: ${JSON.stringify(r.body)}`);
      if (r.status === 200) assert.deepEqual((await api(s.httpPort, 'GET', '/v1/services/fuzz/fz/policy')).body, r.body);
      else assert.equal(r.body.error, 'invalid_body');
    }),
    { numRuns: fuzzRuns(500), seed: fuzzSeed() },
  );
  // The service still answers after all that.
  await register('fuzz', 'fz', 'a', '10.50.0.1');
  assert.equal((await query('fz.fuzz.linkerd.local')).header.rcode, 0);
});
