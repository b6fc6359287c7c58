import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { trimMalloc } from '../../src/observability/malloc-trim.js';
import { loadNativeAddon } from '../../src/config/native-addon.js';

const moduleUrl = new URL('../../src/observability/malloc-trim.ts', import.meta.url).href;

/**
 * A load's shape outside V8's heap, in a process of its own so that its resident size is the test's alone: 48 MB of
 * Buffers (each a malloc'd block below glibc's mmap threshold), every tenth kept, the rest collected. glibc keeps
 * the freed blocks below the kept ones resident; the trim hands their pages back.
 */
const fragmentThenTrim = `
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { readFileSync } from 'node:fs';
const { trimMalloc } = await import(${JSON.stringify(moduleUrl)});
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const anonMb = () => Number(/^RssAnon:\\s+(\\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
let blocks = [];
for (let i = 0; i < 800; i++) blocks.push(Buffer.alloc(60 * 1024, 1));
blocks = blocks.filter((_, i) => i % 10 === 0);
for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 50)); }
const before = anonMb();
const result = trimMalloc();
console.log(JSON.stringify({ before, after: anonMb(), result, kept: blocks.length }));
`;

test('trimMalloc hands the C heap\'s freed pages back to the kernel, and says how much', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', fragmentThenTrim], { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8' });
  const { before, after, result, kept } = JSON.parse(out) as { before: number; after: number; result: { releasedMb?: number; mallocTrim?: string }; kept: number };
  assert.equal(result.mallocTrim, undefined, `the addon is built by npm run build here: ${result.mallocTrim}`);
  assert.equal(kept, 80);
  // 43 MB freed in 720 blocks between kept ones: most of it goes back.
  assert.ok(before - after >= 25, `RssAnon ${before.toFixed(0)} → ${after.toFixed(0)} MB`);
  assert.ok(Math.abs(result.releasedMb! - (before - after)) <= 2, `said ${result.releasedMb} MB, measured ${(before - after).toFixed(1)}`);
});

test('trimMalloc in this process: a result, never an exception', () => {
  const result = trimMalloc();
  assert.ok('releasedMb' in result ? result.releasedMb >= 0 : result.mallocTrim.length > 0);
});

test('an optional addon that was not built says so, and where it was looked for', () => {
  const missing = loadNativeAddon('no_such_addon');
  assert.ok('error' in missing);
  assert.match(missing.error, /dist\/native\/no_such_addon\.node was not built \(no C compiler at npm run build\)/);
});
