import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dig } from '../support/dig.js';
import { freePort } from '../support/free-port.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';

// BIND (Debian bind9) as the forwarder in front, as CoreDNS's `forward linkerd.local <meshdns>` would be.
let meshdns: MeshdnsProcess;
let named: ChildProcess;
let port: number;

before(async () => {
  meshdns = await startMeshdns(['--upstream', 'none']);
  port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'meshdns-bind-'));
  writeFileSync(
    join(dir, 'named.conf'),
    `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion yes;
  allow-query { 127.0.0.1; };
  allow-recursion { 127.0.0.1; };
  dnssec-validation no;
};
zone "linkerd.local" {
  type forward;
  forward only;
  forwarders { 127.0.0.1 port ${meshdns.dnsPort}; };
};
`,
  );
  named = spawn('named', ['-g', '-4', '-c', join(dir, 'named.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Ready when named says "running" (-g logs to stderr): it answered version.bind before finishing its start once
  // under the whole suite's load, then refused the first real query.
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`named did not start:\n${log}`)), 10_000);
    named.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      if (/\brunning\b/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    });
    named.once('exit', (code) => reject(new Error(`named exited (${code}):\n${log}`)));
  });
  named.stderr!.resume();
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await dig(port, ['+short', 'version.bind', 'TXT', 'CH']);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error('named did not answer');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});
after(async () => {
  named.kill('SIGTERM');
  await meshdns.stop();
});

test('BIND forwarding linkerd.local to meshdns: answers, SRV, NXDOMAIN all come through', async () => {
  const a = await dig(port, ['web.default.linkerd.local']);
  assert.equal(a.status, 'NOERROR', a.raw);
  assert.deepEqual(a.answer.map((l) => l.split(/\s+/).pop()).sort(), ['10.0.0.11', '10.0.0.12']);
  assert.ok(a.flags.includes('ra'));
  const srv = await dig(port, ['_http._tcp.web.default.linkerd.local', 'SRV']);
  assert.equal(srv.answer.length, 2);
  const nx = await dig(port, ['nothing.default.linkerd.local']);
  assert.equal(nx.status, 'NXDOMAIN');
  const nodata = await dig(port, ['web.default.linkerd.local', 'AAAA']);
  assert.equal(nodata.status, 'NOERROR');
  assert.equal(nodata.answer.length, 0);
});
