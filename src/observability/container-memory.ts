import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The container's memory as the kernel counts it against the limit: its cgroup's usage, and the working set the
 * kubelet reports and evicts by (usage less the inactive file cache, which the kernel reclaims before it kills
 * anything). One figure for every process of the container: a sum of each process's resident size counts the
 * pages they share (the Node binary and libraries, ~55 MB a process) once per process, so with `--workers 2` it
 * said 440 MB where the container held ~339 (100,000 instances).
 */
export interface ContainerMemory {
  readonly usageBytes: number;
  readonly workingSetBytes: number;
}

/** Where this process's memory cgroup keeps its files: v2's unified tree, else v1's memory controller. */
function cgroupDirs(procSelfCgroup: string, root: string): { dir: string; v2: boolean }[] {
  const dirs: { dir: string; v2: boolean }[] = [];
  for (const line of procSelfCgroup.split('\n')) {
    const [, controllers, path] = line.split(':');
    if (path === undefined) continue;
    if (controllers === '') dirs.push({ dir: join(root, path), v2: true }, { dir: root, v2: true });
    else if (controllers!.split(',').includes('memory')) dirs.push({ dir: join(root, 'memory', path), v2: false }, { dir: join(root, 'memory'), v2: false });
  }
  // In a container the cgroup's own directory is mounted at the root, whatever path /proc/self/cgroup names
  // (v1 without a cgroup namespace names the host's): the root is tried after the named path.
  return dirs;
}

const numberIn = (text: string, key: string): number | undefined => {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
};

/** The container's memory now; undefined where no memory cgroup can be read (no cgroup filesystem, the root cgroup). */
export function containerMemory(root = '/sys/fs/cgroup', procSelfCgroup?: string): ContainerMemory | undefined {
  let self: string;
  try {
    self = procSelfCgroup ?? readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return undefined;
  }
  for (const { dir, v2 } of cgroupDirs(self, root)) {
    try {
      const usage = Number(readFileSync(join(dir, v2 ? 'memory.current' : 'memory.usage_in_bytes'), 'utf8').trim());
      const stat = readFileSync(join(dir, 'memory.stat'), 'utf8');
      const inactiveFile = numberIn(stat, v2 ? 'inactive_file' : 'total_inactive_file') ?? 0;
      if (!Number.isFinite(usage)) continue;
      return { usageBytes: usage, workingSetBytes: Math.max(0, usage - inactiveFile) };
    } catch {
      // Not this one: the next candidate.
    }
  }
  return undefined;
}
