import { readFileSync } from 'node:fs';

/**
 * One of this process's resident sizes from /proc/self/status, in kB: RssAnon (its own memory: heaps, stacks) or
 * RssFile (mapped files: the executable, libraries). Undefined where /proc says nothing (not Linux).
 */
export function residentKb(field: 'RssAnon' | 'RssFile'): number | undefined {
  try {
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb);
  } catch {
    return undefined;
  }
}
