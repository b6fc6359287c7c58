import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../support/meshdns-process.js';

const built = join(repoRoot, 'dist', 'sources', 'kubernetes', 'kube-client.js');

/** V8 heap in use (MB) in a fresh Node after importing `specifier` and making a KubeConfig, after a full collection. */
function heapAfterImport(specifier: string): number {
  const script = `const m = await import(${JSON.stringify(specifier)}); new m.KubeConfig(); globalThis.gc(); console.log(process.memoryUsage().heapUsed);`;
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8' });
  return Number(out.trim()) / 2 ** 20;
}

test('the build bundles the Kubernetes client: no import of the library index, a fraction of its heap', () => {
  assert.ok(existsSync(built), 'npm run build made dist/');
  const text = readFileSync(built, 'utf8');
  assert.doesNotMatch(text, /from\s*["']@kubernetes\/client-node["']/, 'the bundle, not the re-export tsc writes');
  assert.match(text, /^[\x00-\x7f]*$/, 'ASCII only: V8 keeps the source one byte a character');
  assert.ok(existsSync(`${built}.LEGAL.txt`), 'the bundled licences beside it');
  for (const name of ['KubeConfig', 'Watch', 'CoreV1Api', 'DiscoveryV1Api', 'CustomObjectsApi', 'ApisApi']) {
    assert.match(text, new RegExp(`\\b${name}\\b`), `${name} exported`);
  }
  const index = heapAfterImport('@kubernetes/client-node');
  const bundle = heapAfterImport(`file://${built}`);
  assert.ok(bundle < index - 8, `bundle ${bundle.toFixed(1)} MB of heap against the index's ${index.toFixed(1)} MB`);
});
