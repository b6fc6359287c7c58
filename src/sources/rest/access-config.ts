import { ConfigError, type Config } from '../../config/config.js';
import { readFileFor } from '../../config/secret-files.js';
import { Access, parseTokensFile, tokenProblem, type ApiToken } from './access.js';

/**
 * The tokens a config names (the --api-tokens file's and the one --api-token-file token), checked so that no
 * accepted configuration opens what the README says is closed: a tokens file that lists nobody, or
 * --api-read-auth on without any token, would leave the API open to anyone, so both are refused (at start:
 * exit with one line; on SIGHUP: the tokens in force stay). Errors say where in a file, never what it holds.
 */
export function readAccessTokens(config: Config): ApiToken[] {
  const tokens: ApiToken[] = [];
  if (config.apiTokensFile !== undefined) {
    const path = config.apiTokensFile;
    try {
      tokens.push(...parseTokensFile(readSecretFile('api-tokens', path)));
    } catch (err) {
      throw err instanceof ConfigError ? err : new ConfigError(`--api-tokens ${path}: ${(err as Error).message}`);
    }
    if (tokens.length === 0) {
      throw new ConfigError(`--api-tokens ${path}: the file lists no token, which would leave the API open to anyone; list at least one token, or drop --api-tokens`);
    }
  }
  if (config.apiTokenFile !== undefined) {
    const path = config.apiTokenFile;
    const secret = readSecretFile('api-token-file', path).trim();
    if (secret === '') throw new ConfigError(`--api-token-file ${path}: the file is empty`);
    const problem = tokenProblem(secret);
    if (problem !== undefined) throw new ConfigError(`--api-token-file ${path}: the token ${problem}`);
    const single = Access.singleToken(secret);
    const twin = tokens.find((t) => t.digest.equals(single.digest));
    if (twin !== undefined) {
      throw new ConfigError(`--api-token-file ${path}: the same secret is token "${twin.name}" of --api-tokens; give each secret once (one name, one scope)`);
    }
    tokens.push(single);
  }
  if (config.apiReadAuth && tokens.length === 0) {
    throw new ConfigError('--api-read-auth on needs tokens (--api-tokens or --api-token-file): without one, reads would be open to anyone');
  }
  return tokens;
}

function readSecretFile(flag: string, path: string): string {
  return readFileFor(flag, path).toString('utf8');
}
