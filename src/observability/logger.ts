import { pino, type Logger } from 'pino';

/** JSON lines on stdout; the level name rather than pino's number, which is what log pipelines expect. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'meshdns' },
    formatters: { level: (label) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
