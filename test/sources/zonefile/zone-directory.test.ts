import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dig } from '../../support/dig.js';
import { startMeshdns, type MeshdnsProcess } from '../../support/meshdns-process.js';
import { shippedZone, tempZones } from '../../support/temp-zones.js';
import { within } from '../../support/poll.js';
import { api } from '../../support/rest-client.js';

/** Issue 23, cases 2 and 7: real FIFOs, symlinks to devices and case-clashing files in the zone directory. */
let s: MeshdnsProcess;
let dir: string;
before(async () => {
  dir = tempZones({ 'linkerd.local.zone': shippedZone, 'example.test.zone': '$ORIGIN example.test.\n$TTL 60\n@ IN SOA ns hostmaster 1 60 60 60 60\n@ IN NS ns\nns IN A 192.0.2.1\nwww IN A 192.0.2.10\n' });
  s = await startMeshdns(['--upstream', 'none', '--zones', dir]);
});
after(() => s.stop());

const broken = async (): Promise<number> => Number(/meshdns_zone_files_broken (\d+)/.exec((await api(s.httpPort, 'GET', '/metrics')).body as string)?.[1] ?? 'NaN');
const rssMb = (): number => Number(/VmRSS:\s+(\d+)/.exec(execFileSync('cat', [`/proc/${s.proc.pid}/status`], { encoding: 'utf8' }))![1]) / 1024;

test('2: a FIFO and a symlink to /dev/zero named *.zone are reported and skipped; DNS and /healthz keep answering, memory stays put', async () => {
  const rssBefore = rssMb();
  execFileSync('mkfifo', [join(dir, 'x.zone')]);
  symlinkSync('/dev/zero', join(dir, 'zero.zone'));
  try {
    await within(6000, async () => (await broken()) === 2, 100);
    for (let i = 0; i < 10; i++) {
      const r = await dig(s.dnsPort, ['web.default.linkerd.local', 'A']);
      assert.equal(r.status, 'NOERROR');
      assert.equal((await fetch(`http://127.0.0.1:${s.httpPort}/healthz`, { signal: AbortSignal.timeout(1000) })).status, 200);
      await new Promise((r) => setTimeout(r, 200));
    }
    await s.waitForLog(/x\.zone.*not a regular file \(a FIFO\)/);
    await s.waitForLog(/zero\.zone.*not a regular file \(a character device\)/);
    assert.ok(rssMb() < rssBefore + 50, `RSS ${rssBefore} → ${rssMb()} MB`);
  } finally {
    unlinkSync(join(dir, 'x.zone'));
    unlinkSync(join(dir, 'zero.zone'));
  }
  await within(6000, async () => (await broken()) === 0, 100);
});

test('2: a zone file over the size bound is refused with its size, the rest served', async () => {
  const big = join(dir, 'big.test.zone');
  execFileSync('truncate', ['-s', `${33 * 1024 * 1024}`, big]);
  try {
    await s.waitForLog(/big\.test\.zone.*over the 33554432-byte bound/, 6000);
    assert.equal((await dig(s.dnsPort, ['www.example.test', 'A'])).answer.length, 1);
  } finally {
    unlinkSync(big);
  }
});

test('7: two files for one zone whose names differ only in case: the first is kept, the clash reported naming both', async () => {
  writeFileSync(join(dir, 'EXAMPLE.TEST.zone'), '$TTL 60\n@ IN SOA ns hostmaster 2 60 60 60 60\n@ IN NS ns\nns IN A 192.0.2.1\nwww IN A 198.51.100.66\n');
  try {
    await s.waitForLog(/two zone files give one zone/, 6000);
    const line = s.logs.find((l) => l.includes('two zone files give one zone'))!;
    assert.match(line, /EXAMPLE\.TEST\.zone/);
    assert.match(line, /example\.test\.zone/);
    const www = await dig(s.dnsPort, ['+short', 'www.example.test', 'A']);
    assert.equal(www.raw.trim(), '192.0.2.10');
    assert.equal(await broken(), 1);
  } finally {
    unlinkSync(join(dir, 'EXAMPLE.TEST.zone'));
  }
  await within(6000, async () => (await broken()) === 0, 100);
});
