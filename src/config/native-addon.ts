import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Where `npm run build` puts native/<name>.c compiled (scripts/build-native.mjs): dist/native, two levels above
 * both src/config and dist/config.
 */
export function nativeAddonPath(name: string): string {
  return fileURLToPath(new URL(`../../dist/native/${name}.node`, import.meta.url));
}

/**
 * One of the optional native addons, or why it is not there: each has a fallback, and the start line says which
 * is in use and why.
 */
export function loadNativeAddon<T>(name: string): { addon: T } | { error: string } {
  const path = nativeAddonPath(name);
  try {
    return { addon: createRequire(import.meta.url)(path) as T };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { error: code === 'MODULE_NOT_FOUND' ? `${path} was not built (no C compiler at npm run build)` : `${path}: ${(err as Error).message}` };
  }
}

const linuxAddons = new Map<string, { addon: unknown } | { error: string }>();

/**
 * A Linux-only addon (each uses a Linux call or file), loaded once per process: elsewhere the error says
 * `<unsupported>; this is <platform>` (`unsupported`: what is Linux's, e.g. "recvmmsg is Linux's").
 */
export function loadLinuxAddon<T>(name: string, unsupported: string): { addon: T } | { error: string } {
  let found = linuxAddons.get(name);
  if (found === undefined) {
    found = process.platform === 'linux' ? loadNativeAddon<T>(name) : { error: `${unsupported}; this is ${process.platform}` };
    linuxAddons.set(name, found);
  }
  return found as { addon: T } | { error: string };
}
