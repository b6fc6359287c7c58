import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';
import { runCommand } from '../support/run-command.js';

/**
 * The SQLite store on a real file system that fills up or turns read-only:
 * a tmpfs of 2 MiB mounted for the test (as root). Writes get a 503 that
 * says what to check, DNS keeps answering, nothing half-written is served,
 * and after the fault every acknowledged registration is there and the
 * database passes SQLite's integrity check.
 */

async function mount(...args: string[]): Promise<void> {
  const r = await runCommand('mount', args, { timeoutMs: 10_000 });
  assert.equal(r.code, 0, `mount ${args.join(' ')}: ${r.stderr}`);
}

async function answers(s: MeshdnsProcess, name: string): Promise<number> {
  return decode((await udpExchange(s.dnsPort, buildQuery(`${name}.faults.linkerd.local`)))!).answers.length;
}

const body = (i: number) => ({ address: `10.44.${i >> 8}.${i & 255}`, ports: [{ name: 'http', port: 80 }], metadata: { pad: 'p'.repeat(900) } });

test('SQLite on a full disk, then a read-only one: 503s naming the cause, DNS unharmed, nothing acknowledged lost, no corruption', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshdns-tmpfs-'));
  await mount('-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir);
  let s: MeshdnsProcess | undefined;
  try {
    s = await startMeshdns(['--data-dir', dir]);
    const acknowledged = new Set<number>();
    for (let i = 0; i < 20; i++) {
      assert.equal((await api(s.httpPort, 'PUT', instancePath('faults', `svc${i}`, 'a'), body(i))).status, 200);
      acknowledged.add(i);
    }

    // Fill the disk: a file takes whatever room is left.
    const filler = join(dir, 'filler');
    await runCommand('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { timeoutMs: 10_000 });
    let refused = 0;
    for (let i = 20; i < 60; i++) {
      const res = await api(s.httpPort, 'PUT', instancePath('faults', `svc${i}`, 'a'), body(i));
      if (res.status === 200) acknowledged.add(i);
      else {
        assert.equal(res.status, 503);
        assert.match(res.body.message, /SQLite store cannot write .*check free space and permissions/);
        refused++;
        assert.equal(await answers(s, `svc${i}`), 0, 'a refused registration is not served');
      }
    }
    assert.ok(refused >= 30, `only ${refused} writes refused on a full disk`);
    assert.equal(await answers(s, 'svc3'), 1, 'DNS answers what was registered before');
    rmSync(filler);
    assert.equal((await api(s.httpPort, 'PUT', instancePath('faults', 'after-full', 'a'), body(200))).status, 200, 'writes resume once there is room');

    // Read-only (a volume mounted ro): the server starts anyway, serves DNS, says why writes fail, and
    // loads the registrations once the volume is writable again.
    await s.stop();
    await mount('-o', 'remount,ro', dir);
    s = await startMeshdns(['--data-dir', dir]);
    await s.waitForLog(/"msg":"the SQLite store cannot be opened; serving zone data meanwhile and retrying"/);
    assert.equal(decode((await udpExchange(s.dnsPort, buildQuery('web.default.linkerd.local')))!).answers.length, 2, 'zone data is answered');
    const ready = await api(s.httpPort, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.body.waiting, ['registrations not loaded from the sqlite store']);
    const ro = await api(s.httpPort, 'PUT', instancePath('faults', 'while-ro', 'a'), body(201));
    assert.equal(ro.status, 503);
    assert.match(ro.body.message, /SQLite store .* is not open/);
    await mount('-o', 'remount,rw', dir);
    await s.waitForLog(/"msg":"registrations loaded"/, 15_000);
    assert.equal((await api(s.httpPort, 'GET', '/readyz')).status, 200);
    assert.equal(await answers(s, 'svc3'), 1);
    assert.equal((await api(s.httpPort, 'PUT', instancePath('faults', 'after-ro', 'a'), body(202))).status, 200);

    // Restart on the same files: every acknowledged registration is back; the database is sound.
    await s.stop();
    const db = new DatabaseSync(join(dir, 'registrations.db'), { readOnly: true });
    assert.deepEqual(db.prepare('PRAGMA integrity_check').all().map((r) => ({ ...r })), [{ integrity_check: 'ok' }]);
    db.close();
    s = await startMeshdns(['--data-dir', dir]);
    await s.waitForLog(/"msg":"registrations loaded"/);
    for (const i of acknowledged) assert.equal(await answers(s, `svc${i}`), 1, `svc${i} was acknowledged`);
    assert.equal(await answers(s, 'after-full'), 1);
    assert.equal(await answers(s, 'after-ro'), 1);
    assert.equal(await answers(s, 'while-ro'), 0);
  } finally {
    await s?.stop();
    await runCommand('umount', ['-l', dir], { timeoutMs: 10_000 });
    rmSync(dir, { recursive: true, force: true });
  }
});
