import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { cliPath, runCli, startMeshdns } from '../support/meshdns-process.js';

test('--help prints the flags and exits 0', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--upstream HOST\[:PORT\]/);
});

for (const [args, message] of [
  [['serve', '--bogus'], /Unknown option '--bogus'/],
  [['serve', '--dns', 'nope'], /--dns "nope"/],
  [['frobnicate'], /unknown command "frobnicate"/],
  [['serve', '--config', '/nonexistent.yaml'], /config file \/nonexistent.yaml/],
] as const) {
  test(`exit 2 with one line: ${args.join(' ')}`, async () => {
    const r = await runCli([...args]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
}

test('a DNS port in use (UDP or TCP) is one clear line and exit 2', async () => {
  const udp = createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  const r = await runCli(['serve', '--dns', `127.0.0.1:${port}`, '--http', '127.0.0.1:0', '--upstream', 'none']);
  udp.close();
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot listen for DNS: .*EADDRINUSE/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

test('an HTTP port in use is one clear line and exit 2', async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  const port = (busy.address() as { port: number }).port;
  const r = await runCli(['serve', '--dns', '127.0.0.1:0', '--http', `127.0.0.1:${port}`, '--upstream', 'none']);
  busy.close();
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot listen for HTTP on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
});

test('env vars configure the server; SIGTERM stops it cleanly with exit 0', async () => {
  const s = await startMeshdns([], { env: { MESHDNS_DOMAIN: 'mesh.test', MESHDNS_UPSTREAM: 'none', MESHDNS_LOG_LEVEL: 'debug' } });
  const line = s.logs.find((l) => l.includes('meshdns listening'))!;
  assert.deepEqual(JSON.parse(line).domains, ['mesh.test']);
  const health = await fetch(`http://127.0.0.1:${s.httpPort}/healthz`);
  assert.equal(health.status, 200);
  const ready = await fetch(`http://127.0.0.1:${s.httpPort}/readyz`);
  assert.equal(ready.status, 200);
  const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  assert.match(metrics, /meshdns_dns_requests_total/);
  assert.equal(await s.stop('SIGTERM'), 0);
});

test('issue 25: on a Node older than 24 the command says so in one line (not a stack trace)', async (t) => {
  const { execFileSync: run } = await import('node:child_process');
  const { existsSync } = await import('node:fs');
  // The machine's own Node (Debian's, or whatever is first on PATH outside node_modules), when it is older.
  const candidates = ['/usr/bin/node', '/usr/local/bin/node'].filter((p) => existsSync(p));
  const old = candidates.find((p) => Number(run(p, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }).trim()) < 24);
  if (old === undefined) return t.skip('no Node older than 24 on this machine');
  let out = '';
  try {
    run(old, [cliPath, 'serve', '--upstream', 'none'], { encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    out = String((err as { stderr: string }).stderr);
    assert.equal((err as { status: number }).status, 2);
  }
  assert.equal(out.trim().split('\n').length, 1, out);
  assert.match(out, /^meshdns: needs Node\.js 24 or newer; this is v\d+/);
});
