import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');
let loaded: Yaml | undefined;

/**
 * The yaml library, loaded by the first file that needs it (a config file, an API tokens file): a process given
 * neither, and every DNS worker, does not carry it (~2 MB resident).
 */
export function yaml(): Yaml {
  return (loaded ??= createRequire(import.meta.url)('yaml') as Yaml);
}
