import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildQuery, decode, udpExchange } from '../../support/dns-client.js';
import { dig } from '../../support/dig.js';
import { startMeshdns } from '../../support/meshdns-process.js';
import { api, instancePath } from '../../support/rest-client.js';
import { within } from '../../support/poll.js';


test('TTL: missed heartbeats stop answers, a heartbeat brings them back, --deregister-after removes for good', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshdns-ttl-'));
  const s = await startMeshdns(['--upstream', 'none', '--data-dir', dataDir, '--deregister-after', '3s']);
  const answers = async (): Promise<number> => decode((await udpExchange(s.dnsPort, buildQuery('vm.ttl.linkerd.local')))!).answers.length;
  try {
    assert.equal((await api(s.httpPort, 'PUT', instancePath('ttl', 'vm', 'a'), { address: '10.5.0.1', ports: [], ttl: '1s' })).status, 200);
    assert.equal(await answers(), 1);
    await within(2500, async () => (await answers()) === 0);
    const detail = await api(s.httpPort, 'GET', '/v1/services/ttl/vm');
    assert.equal(detail.body.instances[0].health, 'unhealthy');
    assert.equal((await api(s.httpPort, 'PUT', `${instancePath('ttl', 'vm', 'a')}/heartbeat`)).status, 204);
    assert.equal(await answers(), 1);
    // Removed 1 s (TTL) + 3 s (--deregister-after) after the heartbeat, at the next 500 ms sweep: 4.5 s at most, and
    // a loaded machine (the whole suite on two cores) needs the margin.
    await within(7000, async () => (await dig(s.dnsPort, ['vm.ttl.linkerd.local'])).status === 'NXDOMAIN');
  } finally {
    await s.stop();
  }
  const again = await startMeshdns(['--upstream', 'none', '--data-dir', dataDir]);
  try {
    assert.equal((await dig(again.dnsPort, ['vm.ttl.linkerd.local'])).status, 'NXDOMAIN');
  } finally {
    await again.stop();
  }
});

test('registrations survive a restart and are loaded before /readyz turns ready', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshdns-restart-'));
  const s = await startMeshdns(['--upstream', 'none', '--data-dir', dataDir]);
  for (let i = 0; i < 20; i++) await api(s.httpPort, 'PUT', instancePath('keep', `svc-${i}`, 'one'), { address: `10.6.0.${i}`, ports: [{ name: 'http', port: 80 }] });
  await s.stop();
  const again = await startMeshdns(['--upstream', 'none', '--data-dir', dataDir]);
  try {
    assert.equal((await fetch(`http://127.0.0.1:${again.httpPort}/readyz`)).status, 200);
    assert.match((await dig(again.dnsPort, ['+short', 'svc-13.keep.linkerd.local'])).raw, /^10\.6\.0\.13$/m);
    assert.equal((await api(again.httpPort, 'GET', '/v1/services')).body.services.filter((x: { namespace: string }) => x.namespace === 'keep').length, 20);
  } finally {
    await again.stop();
  }
});

test('weighted answers end to end: 60/30/10 first-answer shares within tolerance, SRV weights as registered', async () => {
  const s = await startMeshdns(['--upstream', 'none']);
  try {
    for (const [id, weight, address] of [['a', 60, '10.7.0.1'], ['b', 30, '10.7.0.2'], ['c', 10, '10.7.0.3']] as const) {
      await api(s.httpPort, 'PUT', instancePath('w', 'svc', id), { address, weight, ports: [{ name: 'http', port: 80 }] });
    }
    const counts = new Map<string, number>();
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const reply = decode((await udpExchange(s.dnsPort, buildQuery('svc.w.linkerd.local', { id: i })))!);
      assert.equal(reply.answers.length, 3);
      const first = reply.answers[0]!.address!;
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    // Three standard deviations of a binomial share at n = 4000 are at most 0.024.
    for (const [address, share] of [['10.7.0.1', 0.6], ['10.7.0.2', 0.3], ['10.7.0.3', 0.1]] as const) {
      const observed = (counts.get(address) ?? 0) / n;
      assert.ok(Math.abs(observed - share) < 0.03, `${address}: ${observed} vs ${share}`);
    }
    const srv = await dig(s.dnsPort, ['+short', '_http._tcp.svc.w.linkerd.local', 'SRV']);
    assert.deepEqual(srv.raw.trim().split('\n').map((l) => l.split(' ')[1]).sort(), ['10', '30', '60']);
  } finally {
    await s.stop();
  }
});
