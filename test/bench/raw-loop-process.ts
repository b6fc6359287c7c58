/** The runtime's floor as a process: raw-udp-loop.ts (a pre-encoded answer, no parsing, no lookup) on a free port. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/**
 * Starts the raw loop through `io` (node:dgram or the native recvmmsg addon), `wrapper` exec'ing it (e.g. taskset),
 * spending `spinNs` of JavaScript on each query (0: none).
 */
export async function startRawLoop(io: 'dgram' | 'recvmmsg' = 'dgram', wrapper: readonly string[] = [], spinNs = 0): Promise<{ port: number; proc: ChildProcess }> {
  const command = [...wrapper, process.execPath, '--import', 'tsx', join(import.meta.dirname, 'raw-udp-loop.ts'), '0', io, String(spinNs)];
  const proc = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  });
  return { port, proc };
}
