import { spawn, type ChildProcess } from 'node:child_process';
import { runCommand, type CommandResult } from './run-command.js';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cliPath = join(repoRoot, 'dist', 'cli.js');

const startWords = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/);
const nodeAt = startWords.indexOf('node');

/** The Node flags of `npm start` (the image's ENTRYPOINT carries the same; a deploy test checks): what users run. */
export const runtimeNodeFlags: readonly string[] = startWords.slice(nodeAt + 1, startWords.indexOf('dist/cli.js')).filter((w) => w.startsWith('--'));

/**
 * The environment `npm start` sets before `node` (the image's ENV carries the same; a deploy test checks). The
 * caller's environment wins, so a bench can compare (`MALLOC_ARENA_MAX=16 npm run bench:scale`).
 */
export const runtimeEnv: Readonly<Record<string, string>> = Object.fromEntries(
  startWords.slice(0, nodeAt).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]),
);

export interface MeshdnsProcess {
  readonly proc: ChildProcess;
  readonly dnsPort: number;
  readonly httpPort: number;
  readonly logs: string[];
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs the built CLI (what users run) on free ports and waits for its
 * "meshdns listening" line, which names the ports it bound.
 */
export async function startMeshdns(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; /** A command that execs the rest (e.g. into a cgroup). */ wrapper?: readonly string[]; /** Another build's dist/cli.js (a bench's baseline). */ cli?: string } = {}): Promise<MeshdnsProcess> {
  const hasDns = args.includes('--dns');
  const hasHttp = args.includes('--http');
  // Each server gets its own registration store unless the test shares one on purpose.
  const ownDataDir = args.includes('--data-dir') ? undefined : mkdtempSync(join(tmpdir(), 'meshdns-data-'));
  const dataDir = ownDataDir === undefined ? [] : ['--data-dir', ownDataDir];
  // Tests stop servers all the time: no lame duck unless a test asks for one.
  const lameDuck = args.includes('--shutdown-lameduck') ? [] : ['--shutdown-lameduck', '0s'];
  const fullArgs = [opts.cli ?? cliPath, 'serve', ...(hasDns ? [] : ['--dns', '127.0.0.1:0']), ...(hasHttp ? [] : ['--http', '127.0.0.1:0']), ...dataDir, ...lameDuck, ...args];
  // The Node flags users run with (npm start's, the image's), then MESHDNS_NODE_FLAGS: more for a run, e.g.
  // "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile a bench.
  const nodeFlags = [...runtimeNodeFlags, ...(process.env.MESHDNS_NODE_FLAGS ?? '').split(' ').filter(Boolean)];
  const command = [...(opts.wrapper ?? []), process.execPath, ...nodeFlags, ...fullArgs];
  const proc = spawn(command[0]!, command.slice(1), { cwd: opts.cwd ?? repoRoot, env: { ...runtimeEnv, ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  let partial = '';
  const onData = (chunk: Buffer): void => {
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      logs.push(line);
      for (const w of [...waiters]) {
        if (w.pattern.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));

  const waitForLog = (pattern: RegExp, timeoutMs = 5000): Promise<string> => {
    const seen = logs.find((l) => pattern.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms; logs:\n${logs.join('\n')}`)), timeoutMs);
      waiters.push({
        pattern,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`meshdns exited before logging ${pattern}; logs:\n${logs.join('\n')}`));
      });
    });
  };

  let line: string;
  try {
    // Generous: a loaded machine starting workers one after the other can take seconds.
    line = await waitForLog(/"msg":"meshdns listening"/, 20_000);
  } catch (err) {
    // Never leave a half-started server behind: its pipes would keep the test file from ever exiting.
    proc.kill('SIGKILL');
    throw err;
  }
  const entry = JSON.parse(line) as { dns: string[]; http: string };
  const dnsPort = Number(entry.dns[0]!.split(':').pop());
  const httpPort = Number(entry.http.split(':').pop());
  return {
    proc,
    dnsPort,
    httpPort,
    logs,
    waitForLog,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      // A server that does not stop must not hang the test file (its pipes keep the runner waiting): kill it.
      const killer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      killer.unref();
      const code = await exited;
      clearTimeout(killer);
      // A store made for this server alone goes with it (a test that restarts on the same data names its own).
      if (ownDataDir !== undefined) rmSync(ownDataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/** Runs the CLI to completion (for bad-flag checks). */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 5000): Promise<CommandResult> {
  return runCommand(process.execPath, [cliPath, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, timeoutMs });
}
