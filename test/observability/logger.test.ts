import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { LOG_FLUSH_MS } from '../../src/observability/logger.js';

const loggerModule = new URL('../../src/observability/logger.ts', import.meta.url).href;

/** Runs a script with a meshdns logger in a child process; resolves with its stdout lines as they arrived. */
function child(script: string): Promise<{ lines: { at: number; line: string }[]; code: number | null }> {
  const started = Date.now();
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { createLogger } from '${loggerModule}'; const logger = createLogger('info');\n${script}`], { stdio: ['ignore', 'pipe', 'ignore'] });
  const lines: { at: number; line: string }[] = [];
  let partial = '';
  proc.stdout.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop()!;
    for (const line of parts) lines.push({ at: Date.now() - started, line });
  });
  return new Promise((resolve) => proc.on('close', (code) => resolve({ lines, code })));
}

test('a lone line reaches stdout within the flush interval, while the process keeps running', async () => {
  const { lines } = await child(`const t = Date.now(); logger.info('first'); setTimeout(() => { logger.info({ took: Date.now() - t }, 'second'); setTimeout(() => process.exit(0), 1500); }, 1000);`);
  assert.deepEqual(lines.map((l) => JSON.parse(l.line).msg), ['first', 'second']);
  // 'first' was out long before the exit (1.5 s after 'second'), i.e. by the periodic flush, not the exit's.
  assert.ok(lines[1]!.at - lines[0]!.at > 500 && lines[1]!.at - lines[0]!.at < 1000 + 20 * LOG_FLUSH_MS, JSON.stringify(lines.map((l) => l.at)));
});

test('every line written before an exit or a crash is on stdout', async () => {
  const exited = await child(`for (let i = 0; i < 5000; i++) logger.info({ i }, 'line'); process.exit(3);`);
  assert.equal(exited.code, 3);
  assert.equal(exited.lines.length, 5000);
  assert.equal(JSON.parse(exited.lines.at(-1)!.line).i, 4999);

  const crashed = await child(`for (let i = 0; i < 100; i++) logger.info({ i }, 'line'); setImmediate(() => { throw new Error('boom'); });`);
  assert.notEqual(crashed.code, 0);
  assert.equal(crashed.lines.length, 100);
});
