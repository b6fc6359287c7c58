import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { dig } from '../support/dig.js';
import { startMeshdns } from '../support/meshdns-process.js';
import { tempZones } from '../support/temp-zones.js';
import { within } from '../support/poll.js';

const zone = (address: string, extra = ''): string =>
  `$ORIGIN linkerd.local.\n$TTL 5\n@ SOA ns.dns hostmaster 1 7200 1800 86400 5\n@ NS ns.dns\napi.default A ${address}\n${extra}`;


test('zone files reload on change; a broken file keeps the last good data and is logged with file and line', async () => {
  const dir = tempZones({ 'linkerd.local.zone': zone('10.9.0.1') });
  const file = join(dir, 'linkerd.local.zone');
  const s = await startMeshdns(['--zones', dir, '--upstream', 'none']);
  try {
    const answer = async (): Promise<string[]> => (await dig(s.dnsPort, ['+short', 'api.default.linkerd.local'])).raw.trim().split('\n');
    assert.deepEqual(await answer(), ['10.9.0.1']);

    writeFileSync(file, zone('10.9.0.2'));
    await within(5000, async () => (await answer())[0] === '10.9.0.2');

    // Broken on line 6; the good version stays in service.
    writeFileSync(file, zone('10.9.0.3', 'oops IN A not-an-address\n'));
    const line = await s.waitForLog(/zone file is broken/);
    const entry = JSON.parse(line) as { file: string; line: number; err: string; level: string };
    assert.equal(entry.level, 'error');
    assert.equal(entry.file, file);
    assert.equal(entry.line, 6);
    assert.match(entry.err, /not-an-address/);
    assert.deepEqual(await answer(), ['10.9.0.2']);

    // An atomic replace (write elsewhere, rename over) is picked up too.
    writeFileSync(`${file}.tmp`, zone('10.9.0.4'));
    renameSync(`${file}.tmp`, file);
    await within(5000, async () => (await answer())[0] === '10.9.0.4');

    // A new zone file for another zone starts being served.
    writeFileSync(join(dir, 'corp.test.zone'), '$TTL 60\n@ SOA ns h 1 2 3 4 5\nwww A 192.0.2.7\n');
    await within(5000, async () => (await dig(s.dnsPort, ['+short', 'www.corp.test'])).raw.trim() === '192.0.2.7');
    const nx = await dig(s.dnsPort, ['nope.corp.test']);
    assert.equal(nx.status, 'NXDOMAIN');
    assert.ok(nx.flags.includes('aa'));
  } finally {
    await s.stop();
  }
});

test('SIGHUP reloads zone files at once', async () => {
  const dir = tempZones({ 'linkerd.local.zone': zone('10.8.0.1') });
  const s = await startMeshdns(['--zones', dir, '--upstream', 'none']);
  try {
    writeFileSync(join(dir, 'linkerd.local.zone'), zone('10.8.0.2'));
    s.proc.kill('SIGHUP');
    await s.waitForLog(/SIGHUP: reloading/);
    await within(1000, async () => (await dig(s.dnsPort, ['+short', 'api.default.linkerd.local'])).raw.trim() === '10.8.0.2');
  } finally {
    await s.stop();
  }
});

test('a zone file broken at start is reported; the mesh zone is still served with a generated SOA', async () => {
  const dir = tempZones({ 'linkerd.local.zone': '$TTL 5\n@ SOA ns hostmaster ( 1 2 3\n' });
  const s = await startMeshdns(['--zones', dir, '--upstream', 'none']);
  try {
    const line = await s.waitForLog(/zone file is broken and was never loaded/);
    assert.equal(JSON.parse(line).line, 2);
    const soa = await dig(s.dnsPort, ['linkerd.local', 'SOA']);
    assert.match(soa.answer[0]!, /SOA\s+ns\.dns\.linkerd\.local\./);
  } finally {
    await s.stop();
  }
});

test('a zone file caught mid-write: a pause inside the write loads nothing half-done; a writer that dies halfway leaves the last good data served', async () => {
  const records = (tag: number): string => Array.from({ length: 400 }, (_, i) => `svc${i}.default A 10.${tag}.${i >> 8}.${i & 255}`).join('\n') + '\n';
  const dir = tempZones({ 'linkerd.local.zone': zone('10.9.0.1', records(1)) });
  const file = join(dir, 'linkerd.local.zone');
  const s = await startMeshdns(['--zones', dir, '--upstream', 'none']);
  const last = async (): Promise<string> => (await dig(s.dnsPort, ['+short', 'svc399.default.linkerd.local'])).raw.trim();
  try {
    assert.equal(await last(), '10.1.1.143');
    // A writer that writes half (cut inside a line), pauses, then writes the rest: the parse waits for the file to settle.
    const full = zone('10.9.0.2', records(2));
    const fd = openSync(file, 'w');
    writeSync(fd, full.slice(0, Math.floor(full.length / 2)));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await last(), '10.1.1.143', 'the old data is served during the write');
    writeSync(fd, full.slice(Math.floor(full.length / 2)));
    closeSync(fd);
    await within(5000, async () => (await last()) === '10.2.1.143');
    assert.ok(!s.logs.some((l) => l.includes('zone file is broken')), 'a half-written file was parsed');

    // A writer that dies halfway through a record: the file stays broken, the last good data stays in service.
    const next = zone('10.9.0.3', records(3));
    writeFileSync(file, next.slice(0, next.indexOf('svc200.default A 10.3') + 'svc200.default A 10.'.length));
    const line = await s.waitForLog(/zone file is broken; still serving its last good version/, 5000);
    assert.match(line, /"line":206/);
    assert.equal(await last(), '10.2.1.143');
    assert.equal((await dig(s.dnsPort, ['+short', 'api.default.linkerd.local'])).raw.trim(), '10.9.0.2');
  } finally {
    await s.stop();
  }
});
