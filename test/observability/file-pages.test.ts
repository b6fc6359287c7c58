import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseSmaps, releasableMappings, releaseExecutablePages, settledRelease, REGROWTH_KB } from '../../src/observability/file-pages.js';

const NODE = '/usr/local/bin/node';

/** /proc/self/smaps as Linux writes it (fields trimmed to the ones read, and a few beside them). */
const smaps = `00400000-00746000 r--p 00000000 08:01 123 ${NODE}
Size:               3352 kB
Rss:                3352 kB
Anonymous:             0 kB
0074a000-03044000 r-xp 0034a000 08:01 123 ${NODE}
Size:              41960 kB
Rss:               29640 kB
Pss:               29640 kB
Anonymous:             0 kB
03201000-06b51000 r--p 02e01000 08:01 123 ${NODE}
Size:              58688 kB
Rss:                   0 kB
Anonymous:             0 kB
06b52000-06b56000 r--p 06751000 08:01 123 ${NODE}
Size:                 16 kB
Rss:                  16 kB
Anonymous:            16 kB
06b56000-06b7d000 rw-p 06755000 08:01 123 ${NODE}
Size:                156 kB
Rss:                 156 kB
Anonymous:            40 kB
7f867dd80000-7f867df85000 r-xp 00000000 00:00 0 ${NODE}
Size:               2068 kB
Rss:                2048 kB
Anonymous:          2048 kB
7f1c2a400000-7f1c2a428000 r--p 00000000 08:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
Size:                160 kB
Rss:                 160 kB
Anonymous:             0 kB
7f1c2a600000-7f1c2a800000 rw-p 00000000 00:00 0
Size:               2048 kB
Rss:                2048 kB
Anonymous:          2048 kB
7ffd1c3e0000-7ffd1c401000 rw-p 00000000 00:00 0                          [stack]
Size:                132 kB
Rss:                  20 kB
Anonymous:            20 kB
`;

test('only the executable\'s clean, read-only, private mappings with pages resident are released', () => {
  const mappings = parseSmaps(smaps);
  assert.equal(mappings.length, 9);
  assert.deepEqual(mappings[1], { start: 0x74a000n, end: 0x3044000n, perms: 'r-xp', path: NODE, rssKb: 29640, anonymousKb: 0 });
  assert.equal(mappings[8]!.path, '[stack]');
  const picked = releasableMappings(mappings, NODE).map((m) => m.start.toString(16));
  // Not: one with nothing resident, the relocated one (copied on write), the writable data, the executable's text
  // remapped to anonymous memory (large pages), another file's, the anonymous heap and the stack.
  assert.deepEqual(picked, ['400000', '74a000']);
  assert.deepEqual(releasableMappings(mappings, '/usr/bin/other'), []);
});

test('a mapping smaps gives no Anonymous line for is left alone', () => {
  const mappings = parseSmaps(`00400000-00746000 r--p 00000000 08:01 123 ${NODE}\nRss:                3352 kB\n`);
  assert.equal(mappings[0]!.anonymousKb, -1);
  assert.deepEqual(releasableMappings(mappings, NODE), []);
});

const moduleUrl = new URL('../../src/observability/file-pages.ts', import.meta.url).href;

/**
 * In a process of its own (its resident size is the test's alone): release the executable's pages, then make Node
 * run code it has not run since (a hash, compression, a regular expression, JSON): the pages come back from the
 * file and the results are right.
 */
const releaseThenRun = `
import { createHash } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
const { releaseExecutablePages } = await import(${JSON.stringify(moduleUrl)});
const fileMb = () => Number(/^RssFile:\\s+(\\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
const before = fileMb();
const result = releaseExecutablePages();
const after = fileMb();
const text = 'meshdns '.repeat(10_000);
const checks = {
  sha256: createHash('sha256').update('abc').digest('hex'),
  deflate: inflateSync(deflateSync(text)).toString() === text,
  regex: /^(\\w+) (\\d+)$/.exec('answers 42')?.slice(1),
  json: JSON.parse(JSON.stringify({ a: [1, 2, { b: 'c' }] })),
};
console.log(JSON.stringify({ before, after, result, checks }));
`;

test('releaseExecutablePages unmaps the executable\'s resident pages, says how much, and the process runs on', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', releaseThenRun], { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8' });
  const { before, after, result, checks } = JSON.parse(out) as { before: number; after: number; result: { releasedFileMb?: number; filePages?: string }; checks: unknown };
  assert.equal(result.filePages, undefined, `the addon is built by npm run build here: ${result.filePages}`);
  // Starting Node and tsx maps tens of MB of the executable; most goes.
  assert.ok(before - after >= 10, `RssFile ${before.toFixed(0)} → ${after.toFixed(0)} MB`);
  // The result is read closer to the release than the test's readings: what runs in between (the reading itself,
  // V8's compiler threads) maps pages back, so it says at least what the test measured, and more by how much came
  // back.
  assert.ok(result.releasedFileMb! >= before - after - 1, `said ${result.releasedFileMb} MB, measured ${(before - after).toFixed(1)}`);
  assert.deepEqual(checks, {
    sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    deflate: true,
    regex: ['answers', '42'],
    json: { a: [1, 2, { b: 'c' }] },
  });
});

test('releaseExecutablePages of a path no mapping has releases nothing, and says so in MB', () => {
  const result = releaseExecutablePages('/no/such/executable');
  assert.ok('releasedFileMb' in result, JSON.stringify(result));
  assert.ok(result.releasedFileMb <= 1);
});

test('released again only on growth past where the server settled, never the pages it keeps running', () => {
  const readings: (number | undefined)[] = [];
  let releases = 0;
  const tick = settledRelease(() => readings.shift(), () => releases++);
  const at = (kb: number | undefined): number => {
    readings.push(kb);
    tick();
    return releases;
  };
  // After the load's release the answer path, scrapes and writes map their pages back: 11 → 24 MB. The first check
  // takes that as settled, however far it is from the release.
  assert.equal(at(24_000), 0);
  assert.equal(at(24_000 + REGROWTH_KB - 1), 0, 'growth under the bound stays');
  assert.equal(at(undefined), 0, 'an unknown reading changes nothing');
  assert.equal(at(24_000 + REGROWTH_KB), 1, 'code run once (a reload, the console): released');
  // The tick after a release settles again, at what came back; only new growth past that releases.
  assert.equal(at(25_000), 1);
  assert.equal(at(25_000 + REGROWTH_KB / 2), 1);
  assert.equal(at(25_000 + REGROWTH_KB), 2);
});
