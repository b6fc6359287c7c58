import { pino, type Logger } from 'pino';

/**
 * How late a log line may reach stdout. pino's default writes each line with its own synchronous write(2): under
 * 1,000 REST writes a second that was one syscall per audit line on the answering thread, about a tenth of a
 * write's cost there (npm run bench:write-load). Lines are gathered instead and written when 4 KiB are waiting or
 * this often, whichever comes first; pino flushes what is left synchronously on exit (also after a crash). A
 * SIGKILL can lose at most this long's lines.
 */
export const LOG_FLUSH_MS = 50;
const LOG_BATCH_BYTES = 4096;

/**
 * JSON lines on stdout; the level name rather than pino's number, which is what log pipelines expect. The
 * program is named by `name` (pino's own key): `service` is a field of many lines (the mesh service they are
 * about), and a line must not carry one key twice.
 */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      name: 'meshdns',
      base: undefined,
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS }),
  );
}
