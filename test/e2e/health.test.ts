import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { ProbeTarget } from '../support/probe-target.js';
import { api, instancePath } from '../support/rest-client.js';
import { within } from '../support/poll.js';

const INTERVAL = 200;
const check = (extra: Record<string, unknown>) => ({ interval: `${INTERVAL}ms`, timeout: '100ms', healthyThreshold: 2, unhealthyThreshold: 3, ...extra });

async function addresses(s: MeshdnsProcess, name: string): Promise<string[]> {
  return decode((await udpExchange(s.dnsPort, buildQuery(name)))!).answers.map((a) => a.address!).sort();
}


async function register(s: MeshdnsProcess, svc: string, id: string, address: string, c: Record<string, unknown>, weight = 100): Promise<void> {
  const r = await api(s.httpPort, 'PUT', instancePath('hc', svc, id), { address, ports: [{ name: 'http', port: 80 }], weight, check: check(c) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

test('a stopped target leaves the answers within interval × unhealthyThreshold and returns within interval × healthyThreshold', async () => {
  const s = await startMeshdns(['--upstream', 'none']);
  const good = await ProbeTarget.start();
  const bad = await ProbeTarget.start();
  try {
    await register(s, 'web', 'good', '10.30.0.1', { http: good.url });
    await register(s, 'web', 'bad', '10.30.0.2', { http: bad.url });
    await new Promise((r) => setTimeout(r, 2 * INTERVAL));
    assert.deepEqual(await addresses(s, 'web.hc.linkerd.local'), ['10.30.0.1', '10.30.0.2']);

    await bad.stop();
    const dropped = await within(5000, async () => (await addresses(s, 'web.hc.linkerd.local')).length === 1);
    // 3 failures at 200 ms: 400-600 ms after the stop, depending on where in its interval the target was.
    assert.ok(dropped >= 2 * INTERVAL * 0.9 && dropped <= 3 * INTERVAL * 1.1 + 700, `dropped after ${dropped} ms`);
    const detail = await api(s.httpPort, 'GET', '/v1/services/hc/web');
    const view = detail.body.instances.find((i: { id: string }) => i.id === 'bad');
    assert.equal(view.state, 'unhealthy');
    assert.equal(view.lastProbe.ok, false);
    assert.equal(view.lastProbe.result, 'ECONNREFUSED');
    assert.ok(view.score < 1);

    await bad.restart();
    const back = await within(5000, async () => (await addresses(s, 'web.hc.linkerd.local')).length === 2);
    assert.ok(back >= INTERVAL * 0.9 && back <= 2 * INTERVAL * 1.1 + 700, `back after ${back} ms`);
  } finally {
    await s.stop();
    await good.stop();
    await bad.stop();
  }
});

test('500s and slow answers fail the probe; so does a closed TCP port', async () => {
  const s = await startMeshdns(['--upstream', 'none']);
  const good = await ProbeTarget.start();
  const flaky = await ProbeTarget.start();
  const listener = createServer((c) => c.destroy());
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
  const tcpPort = (listener.address() as { port: number }).port;
  try {
    await register(s, 'api', 'good', '10.31.0.1', { http: good.url });
    await register(s, 'api', 'flaky', '10.31.0.2', { http: flaky.url });
    await register(s, 'api', 'tcp', '10.31.0.3', { tcp: `127.0.0.1:${tcpPort}` });
    await within(5000, async () => (await addresses(s, 'api.hc.linkerd.local')).length === 3);
    flaky.mode = 'fail';
    await within(5000, async () => !(await addresses(s, 'api.hc.linkerd.local')).includes('10.31.0.2'));
    flaky.mode = 'ok';
    await within(5000, async () => (await addresses(s, 'api.hc.linkerd.local')).includes('10.31.0.2'));
    flaky.mode = 'slow';
    await within(5000, async () => !(await addresses(s, 'api.hc.linkerd.local')).includes('10.31.0.2'));
    const view = (await api(s.httpPort, 'GET', '/v1/services/hc/api')).body.instances.find((i: { id: string }) => i.id === 'flaky');
    assert.equal(view.lastProbe.result, 'timeout');
    listener.close();
    await within(5000, async () => !(await addresses(s, 'api.hc.linkerd.local')).includes('10.31.0.3'));
    assert.deepEqual(await addresses(s, 'api.hc.linkerd.local'), ['10.31.0.1']);
  } finally {
    await s.stop();
    await good.stop();
    await flaky.stop();
  }
});

test('a flaky target (every other probe fails) stays in but gets its score-weighted share', async () => {
  const s = await startMeshdns(['--upstream', 'none', '--health-k', '10', '--health-theta', '0.5']);
  const steady = await ProbeTarget.start();
  const flaky = await ProbeTarget.start();
  flaky.mode = 'alternate';
  try {
    await register(s, 'mix', 'steady', '10.32.0.1', { http: steady.url, interval: '150ms', timeout: '140ms' });
    await register(s, 'mix', 'flaky', '10.32.0.2', { http: flaky.url, interval: '150ms', timeout: '140ms' });
    // Fill the 10-probe window.
    await new Promise((r) => setTimeout(r, 2200));
    const view = (await api(s.httpPort, 'GET', '/v1/services/hc/mix')).body.instances.find((i: { id: string }) => i.id === 'flaky');
    assert.equal(view.state, 'healthy');
    // Every other probe fails: 0.5, unless a probe of the steady pattern was lost to a busy machine.
    assert.ok(view.score >= 0.4 && view.score <= 0.6, `score ${view.score}`);
    // Effective weight 100 × R(x)/R(1) (x = 0.5: 50.34); the steady one keeps 100.
    const r = (x: number): number => 1 / (1 + Math.exp(-10 * (x - 0.5)));
    const w = (100 * r(view.score)) / r(1);
    const expected = w / (w + 100);
    let flakyFirst = 0;
    const n = 3000;
    for (let i = 0; i < n; i++) {
      const reply = decode((await udpExchange(s.dnsPort, buildQuery('mix.hc.linkerd.local', { id: i })))!);
      if (reply.answers[0]?.address === '10.32.0.2') flakyFirst++;
    }
    assert.ok(Math.abs(flakyFirst / n - expected) < 0.05, `flaky first ${flakyFirst / n}, expected ${expected}`);
  } finally {
    await s.stop();
    await steady.stop();
    await flaky.stop();
  }
});

test('every instance failing: serve-all answers them all (panic), serve-none answers none; both warn and count', async () => {
  for (const mode of ['serve-all', 'serve-none'] as const) {
    const s = await startMeshdns(['--upstream', 'none', '--all-unhealthy', mode]);
    const t1 = await ProbeTarget.start();
    const t2 = await ProbeTarget.start();
    try {
      await register(s, 'down', 'a', '10.33.0.1', { http: t1.url });
      await register(s, 'down', 'b', '10.33.0.2', { http: t2.url });
      t1.mode = 'fail';
      t2.mode = 'fail';
      await s.waitForLog(/every instance fails its probes/, 5000);
      const answer = decode((await udpExchange(s.dnsPort, buildQuery('down.hc.linkerd.local')))!);
      assert.equal(answer.header.rcode, 0);
      assert.equal(answer.answers.length, mode === 'serve-all' ? 2 : 0);
      const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
      assert.match(metrics, /^meshdns_services_in_panic 1$/m);
      assert.match(metrics, /^meshdns_probes_total\{kind="http",result="fail"\} \d+/m);
      assert.match(metrics, /^meshdns_probe_duration_seconds_bucket\{le="0\.005",kind="http"\} \d+/m);
      t1.mode = 'ok';
      await within(5000, async () => (await addresses(s, 'down.hc.linkerd.local')).join() === '10.33.0.1');
    } finally {
      await s.stop();
      await t1.stop();
      await t2.stop();
    }
  }
});

test('deregistering an instance stops its probes', async () => {
  const s = await startMeshdns(['--upstream', 'none']);
  const t = await ProbeTarget.start();
  try {
    await register(s, 'gone', 'a', '10.34.0.1', { http: t.url, interval: '100ms', timeout: '50ms' });
    await within(5000, async () => t.requests >= 2);
    assert.equal((await api(s.httpPort, 'DELETE', instancePath('hc', 'gone', 'a'))).status, 204);
    await new Promise((r) => setTimeout(r, 150));
    const after = t.requests;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(t.requests, after);
  } finally {
    await s.stop();
    await t.stop();
  }
});
