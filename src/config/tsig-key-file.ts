import { ConfigError } from './config.js';
import { readFileFor } from './secret-files.js';
import type { TsigAlgorithm, TsigKey } from '../wire/tsig.js';

const ALGORITHMS = new Set<TsigAlgorithm>(['hmac-sha256', 'hmac-sha384', 'hmac-sha512']);

/**
 * A TSIG key in BIND's key-file syntax, as `tsig-keygen` writes it:
 *   key "transfer" { algorithm hmac-sha256; secret "base64…"; };
 * Errors name the flag, the file and what is wrong, never the secret.
 */
export function parseTsigKeyFile(text: string, where: string): TsigKey {
  const clean = withoutComments(text);
  const m = /key\s+(?:"([^"]+)"|([A-Za-z0-9._-]+))\s*\{([\s\S]*?)\}\s*;/.exec(clean);
  if (m === null) throw new ConfigError(`${where}: expected a key statement: key "name" { algorithm hmac-sha256; secret "…"; };`);
  const name = (m[1] ?? m[2]!).toLowerCase();
  const body = m[3]!;
  const algorithm = /algorithm\s+"?([A-Za-z0-9-]+)"?\s*;/.exec(body)?.[1]?.toLowerCase();
  if (algorithm === undefined || !ALGORITHMS.has(algorithm as TsigAlgorithm)) {
    throw new ConfigError(`${where}: key "${name}": algorithm must be hmac-sha256, hmac-sha384 or hmac-sha512${algorithm === undefined ? '' : ` (not ${algorithm})`}`);
  }
  const secretText = /secret\s+"([^"]*)"\s*;/.exec(body)?.[1];
  if (secretText === undefined) throw new ConfigError(`${where}: key "${name}": no secret "…"; statement`);
  if (!/^[A-Za-z0-9+/\s]+=*$/.test(secretText)) throw new ConfigError(`${where}: key "${name}": the secret is not base64`);
  const secret = Buffer.from(secretText.replace(/\s/g, ''), 'base64');
  if (secret.length < 16) throw new ConfigError(`${where}: key "${name}": the secret is shorter than 16 octets`);
  return { name: name.endsWith('.') ? name : `${name}.`, algorithm: algorithm as TsigAlgorithm, secret };
}

/**
 * The text without BIND's comments (`#`, `//` to the end of the line, `/* … *\/`), which may only start outside a
 * quoted string: a base64 secret may hold "//" (about one secret in fifty from tsig-keygen does).
 */
function withoutComments(text: string): string {
  let out = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      out += c;
      if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') {
      quoted = true;
      out += c;
    } else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
      out += ' ';
    } else out += c;
  }
  return out;
}

export function readTsigKeyFile(path: string): TsigKey {
  return parseTsigKeyFile(readFileFor('tsig-key-file', path).toString('utf8'), `--tsig-key-file ${path}`);
}
