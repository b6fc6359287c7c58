import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, type Config } from './config.js';

/**
 * Files named by flags that may hold secrets (keys, tokens, passwords). Every error names the flag and the
 * path and what the system or OpenSSL said of it, never a byte of the content: an error reaches stderr or the
 * JSON log, and a key quoted there is a key leaked.
 */
export function readFileFor(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`--${flag} ${path}: cannot read the file (${code ?? 'error'})`);
  }
}

/** OpenSSL's reason ("key values mismatch", "no start line"), without the library's error-code prefix. */
function opensslReason(err: unknown): string {
  const text = (err as Error).message ?? String(err);
  const m = /routines::(.+)$/.exec(text);
  return (m?.[1] ?? text).split('\n')[0]!.trim();
}

/**
 * A certificate and its key, checked as a pair before they are used: a key that does not match (or the two
 * files swapped) is one line naming both flags instead of a stack trace from the HTTPS server. An expired or
 * not-yet-valid certificate is still loaded (the operator may be mid-rotation) but warned about.
 */
export function readKeyPair(certFlag: string, certPath: string, keyFlag: string, keyPath: string, warn: (line: string) => void): { cert: Buffer; key: Buffer } {
  const cert = readFileFor(certFlag, certPath);
  const key = readFileFor(keyFlag, keyPath);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new ConfigError(`--${certFlag} ${certPath}: not a PEM certificate (${opensslReason(err)}); are --${certFlag} and --${keyFlag} swapped?`);
  }
  try {
    createSecureContext({ cert, key } satisfies SecureContextOptions);
  } catch (err) {
    throw new ConfigError(`--${certFlag} ${certPath} / --${keyFlag} ${keyPath}: the key cannot be used with the certificate (${opensslReason(err)}); give the key that belongs to this certificate`);
  }
  const now = Date.now();
  if (x509.validToDate.getTime() < now) warn(`--${certFlag} ${certPath}: the certificate expired on ${x509.validToDate.toISOString()}; clients will refuse it`);
  else if (x509.validFromDate.getTime() > now) warn(`--${certFlag} ${certPath}: the certificate is not valid before ${x509.validFromDate.toISOString()}; clients will refuse it until then`);
  return { cert, key };
}

/** --http-tls-cert and --http-tls-key, checked as a pair; undefined without them. */
export function readHttpTls(config: Config, warn: (line: string) => void): { cert: Buffer; key: Buffer } | undefined {
  if (config.httpTls === undefined) return undefined;
  return readKeyPair('http-tls-cert', config.httpTls.cert, 'http-tls-key', config.httpTls.key, warn);
}
