import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import type { ListenAddress } from '../../config/listen-address.js';
import type { Upstream } from './upstream.js';

/** Nameservers of a resolv.conf, port 53 (glibc's format has no port). */
export function resolvConfUpstreams(path = '/etc/resolv.conf'): Upstream[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && isIP(m[1]!.split('%')[0]!) !== 0) out.push({ host: m[1]!.split('%')[0]!, port: 53 });
  }
  return out;
}

function localAddresses(): Set<string> {
  const set = new Set<string>(['127.0.0.1', '::1']);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) set.add(a.address);
  return set;
}

/**
 * Whether sending to `u` would reach one of our own listeners: the simplest
 * forwarding loop (resolv.conf naming this very server). Loops through other
 * resolvers are caught at run time by the loop probe.
 */
export function isOwnListener(u: Upstream, listeners: readonly ListenAddress[]): boolean {
  const local = localAddresses();
  return listeners.some((l) => {
    if (l.port !== u.port) return false;
    if (l.host === u.host) return true;
    const wildcard = l.host === '0.0.0.0' || l.host === '::';
    return wildcard && (local.has(u.host) || u.host.startsWith('127.'));
  });
}
