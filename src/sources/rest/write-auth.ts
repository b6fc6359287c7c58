import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Who may write: with a token configured, whoever presents it (compared in
 * constant time, on digests so lengths do not leak); without one, only
 * loopback clients.
 */
export function writeAllowed(token: string | undefined, authorization: string | undefined, remoteAddress: string | undefined): 'ok' | 'missing-token' | 'bad-token' | 'not-loopback' {
  if (token !== undefined) {
    const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    if (!m) return 'missing-token';
    const given = createHash('sha256').update(m[1]!.trim()).digest();
    const wanted = createHash('sha256').update(token).digest();
    return timingSafeEqual(given, wanted) ? 'ok' : 'bad-token';
  }
  const a = remoteAddress ?? '';
  const loopback = a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');
  return loopback ? 'ok' : 'not-loopback';
}
