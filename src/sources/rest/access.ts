import { createHash, timingSafeEqual } from 'node:crypto';
import { yaml } from '../../config/lazy-yaml.js';

/** One API token as configured (--api-tokens), kept as a digest: the secret itself is never held or logged. */
export interface ApiToken {
  readonly name: string;
  readonly digest: Buffer;
  /** `<ns>/<svc>` patterns this token may write; `*` stands for a whole segment, `*` alone for everything. */
  readonly write: readonly string[];
  readonly read: boolean;
}

export type Verdict = { ok: true; token: string | undefined } | { ok: false; status: 401 | 403; token: string | undefined; message: string };

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const SEGMENT = /^(\*|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$/;

const digestOf = (secret: string): Buffer => createHash('sha256').update(secret).digest();

/** The name the one --api-token-file token goes by in audit lines; a token of the file may not take it. */
export const SINGLE_TOKEN_NAME = 'api-token-file';

/**
 * Why a secret cannot serve as a token, or undefined. A token travels in an HTTP header, which carries
 * visible ASCII only (latin-1 at most, no spaces inside a Bearer value): anything else could never be sent, so
 * it is refused rather than accepted and never matched. The length keeps guessing out of reach.
 */
export function tokenProblem(secret: string): string | undefined {
  if (!/^[\x21-\x7e]*$/.test(secret)) return 'must be visible ASCII characters only (no spaces, no letters outside ASCII: HTTP headers cannot carry them)';
  if (secret.length < 16) return 'must be at least 16 characters';
  return undefined;
}

/** Parses YAML that may hold secrets: a syntax error says where (line, column), never quotes the text. */
function parseSecretYaml(text: string): unknown {
  const { parse, YAMLError } = yaml();
  try {
    return parse(text, { prettyErrors: false, logLevel: 'error' });
  } catch (err) {
    if (err instanceof YAMLError) {
      const offset = Math.min(err.pos[0], text.length);
      const line = text.slice(0, offset).split('\n').length;
      const col = offset - text.lastIndexOf('\n', offset - 1);
      throw new Error(`not valid YAML at line ${line}, column ${col} (${err.code})`);
    }
    throw new Error('not valid YAML');
  }
}

/**
 * Parses the --api-tokens file: a YAML list of `{name, token, write: [patterns], read: true|false}`. Throws an
 * Error naming the entry and field for anything else, so a broken file never half-applies.
 */
export function parseTokensFile(text: string): ApiToken[] {
  const doc: unknown = parseSecretYaml(text);
  if (!Array.isArray(doc)) throw new Error('expected a YAML list of tokens: - {name: ci, token: "…", write: ["shop/*"], read: true}');
  const names = new Set<string>();
  const secrets = new Set<string>();
  return doc.map((entry: unknown, i): ApiToken => {
    const where = `entry ${i + 1}`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new Error(`${where}: expected a mapping with name, token, write, read`);
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) if (!['name', 'token', 'write', 'read'].includes(key)) throw new Error(`${where}: unknown field "${key}"`);
    if (typeof e.name !== 'string' || !NAME.test(e.name)) throw new Error(`${where}: name must be letters, digits, ".", "_" or "-" (at most 63)`);
    if (e.name === SINGLE_TOKEN_NAME) throw new Error(`${where}: the name "${SINGLE_TOKEN_NAME}" is the --api-token-file token's; choose another, so audit lines say which token wrote`);
    if (names.has(e.name)) throw new Error(`${where}: name "${e.name}" is given twice`);
    names.add(e.name);
    if (typeof e.token !== 'string') throw new Error(`${where} (${e.name}): token must be a string`);
    const problem = tokenProblem(e.token);
    if (problem !== undefined) throw new Error(`${where} (${e.name}): token ${problem}`);
    if (secrets.has(e.token)) throw new Error(`${where} (${e.name}): the same token is given twice`);
    secrets.add(e.token);
    const write = e.write ?? [];
    if (!Array.isArray(write) || !write.every((p): p is string => typeof p === 'string' && validPattern(p))) {
      throw new Error(`${where} (${e.name}): write must be a list of "<ns>/<svc>" patterns ("*" for a whole segment, "*" alone for all)`);
    }
    if (e.read !== undefined && typeof e.read !== 'boolean') throw new Error(`${where} (${e.name}): read must be true or false`);
    return { name: e.name, digest: digestOf(e.token), write, read: e.read ?? true };
  });
}

function validPattern(p: string): boolean {
  if (p === '*') return true;
  const parts = p.split('/');
  return parts.length === 2 && parts.every((s) => SEGMENT.test(s));
}

function covers(pattern: string, namespace: string, service: string): boolean {
  if (pattern === '*' || pattern === '*/*') return true;
  const [ns, svc] = pattern.split('/') as [string, string];
  return (ns === '*' || ns === namespace) && (svc === '*' || svc === service);
}

/**
 * Who may do what on the REST API. Without tokens: writes from loopback only, reads open (as before). With
 * tokens (--api-tokens, or the one --api-token-file token, which may write everything): a write needs a token
 * whose patterns cover `<ns>/<svc>` (401 without one, 403 outside its scope); a token with `read: false` may not
 * read; with --api-read-auth on, reads need a token too.
 */
export class Access {
  constructor(
    private tokens: readonly ApiToken[],
    private readonly readAuth: boolean,
  ) {}

  private readonly listeners: (() => void)[] = [];

  /** Swaps the tokens (SIGHUP re-read the file); whatever holds credentials open (console streams) re-checks them. */
  replace(tokens: readonly ApiToken[]): void {
    this.tokens = tokens;
    for (const listener of this.listeners) listener();
  }

  onReplace(listener: () => void): void {
    this.listeners.push(listener);
  }

  get size(): number {
    return this.tokens.length;
  }

  write(authorization: string | undefined, remoteAddress: string | undefined, namespace: string, service: string): Verdict {
    if (this.tokens.length === 0) {
      const a = remoteAddress ?? '';
      const loopback = a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');
      return loopback ? { ok: true, token: undefined } : { ok: false, status: 403, token: undefined, message: 'writes are accepted from loopback only; configure --api-tokens or --api-token-file to accept them from elsewhere' };
    }
    const found = this.identify(authorization);
    if (!found.ok) return found;
    const token = found.token;
    if (token.write.some((p) => covers(p, namespace, service))) return { ok: true, token: token.name };
    return { ok: false, status: 403, token: token.name, message: `token "${token.name}" may not write ${namespace}/${service}` };
  }

  read(authorization: string | undefined): Verdict {
    if (this.tokens.length === 0 || (!this.readAuth && authorization === undefined)) return { ok: true, token: undefined };
    const found = this.identify(authorization);
    if (!found.ok) return this.readAuth ? found : { ok: true, token: undefined };
    if (!found.token.read) return { ok: false, status: 403, token: found.token.name, message: `token "${found.token.name}" may not read` };
    return { ok: true, token: found.token.name };
  }

  /** The token presented, compared in constant time against every configured one (no early exit, digests of equal length). */
  private identify(authorization: string | undefined): { ok: true; token: ApiToken } | { ok: false; status: 401; token: undefined; message: string } {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return { ok: false, status: 401, token: undefined, message: 'send an API token as "Authorization: Bearer <token>"' };
    const given = digestOf(m[1]!);
    let match: ApiToken | undefined;
    for (const t of this.tokens) if (timingSafeEqual(given, t.digest) && match === undefined) match = t;
    return match === undefined ? { ok: false, status: 401, token: undefined, message: 'the API token is not valid' } : { ok: true, token: match };
  }

  /** The one --api-token-file token: named after the flag, may write everything and read. */
  static singleToken(secret: string): ApiToken {
    return { name: SINGLE_TOKEN_NAME, digest: digestOf(secret), write: ['*'], read: true };
  }
}
