import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerMemory } from '../../src/observability/container-memory.js';

/** A cgroup filesystem laid out under a temporary root, files given by path. */
function fakeRoot(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'meshdns-cgroup-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

test('cgroup v2: usage, and the working set the kubelet counts (inactive file cache left out)', () => {
  const root = fakeRoot({ 'kubepods/pod1/meshdns/memory.current': '400000000\n', 'kubepods/pod1/meshdns/memory.stat': 'anon 300000000\nfile 90000000\ninactive_file 60000000\nactive_file 30000000\n' });
  assert.deepEqual(containerMemory(root, '0::/kubepods/pod1/meshdns\n'), { usageBytes: 400_000_000, workingSetBytes: 340_000_000 });
});

test('inside a container the cgroup is mounted at the root, whatever path /proc/self/cgroup names', () => {
  const v2 = fakeRoot({ 'memory.current': '100\n', 'memory.stat': 'inactive_file 30\n' });
  assert.deepEqual(containerMemory(v2, '0::/\n'), { usageBytes: 100, workingSetBytes: 70 });
  // cgroup v1 without a cgroup namespace: the host's path is named, the container's own directory is mounted.
  const v1 = fakeRoot({ 'memory/memory.usage_in_bytes': '500\n', 'memory/memory.stat': 'cache 200\ntotal_inactive_file 120\n' });
  assert.deepEqual(containerMemory(v1, '12:cpu,cpuacct:/docker/abc\n11:memory:/docker/abc\n'), { usageBytes: 500, workingSetBytes: 380 });
});

test('no memory cgroup to read: undefined, never a made-up figure', () => {
  assert.equal(containerMemory(fakeRoot({}), '0::/\n'), undefined);
  assert.equal(containerMemory(fakeRoot({ 'memory.current': 'max\n', 'memory.stat': '' }), '0::/\n'), undefined);
  assert.equal(containerMemory(fakeRoot({ 'memory/memory.usage_in_bytes': '5\n', 'memory/memory.stat': '' }), '3:pids:/\n'), undefined, 'v1 without the memory controller');
});
