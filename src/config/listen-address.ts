import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { addressProblem } from '../catalog/address.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** Parses HOST:PORT, [V6]:PORT; throws with a message fit for the user. */
export function parseHostPort(text: string, what: string, defaultPort?: number): ListenAddress {
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if (isIP(text) === 6) {
    host = text;
  } else {
    const i = text.lastIndexOf(':');
    host = i < 0 ? text : text.slice(0, i);
    portText = i < 0 ? undefined : text.slice(i + 1);
  }
  const family = isIP(host);
  if (family === 0) throw new Error(`${what} "${text}": "${host}" is not an IP address (use e.g. 127.0.0.1:1053 or [::1]:1053)`);
  const port = portText === undefined ? defaultPort : Number(portText);
  if (port === undefined || !Number.isInteger(port) || port < 0 || port > 65535 || (portText !== undefined && !/^\d+$/.test(portText))) {
    throw new Error(`${what} "${text}": the port must be a number from 0 to 65535`);
  }
  return { host, port, family: family as 4 | 6 };
}

export function formatHostPort(a: { host: string; port: number }): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/**
 * Where clients reach this server, for the generated NS host's address
 * records: the given --ns-address values, else the --dns hosts, with a
 * wildcard (0.0.0.0, ::) replaced by this host's non-loopback addresses of
 * that family (the pod IP in Kubernetes).
 */
export function nameServerAddresses(given: readonly string[], listeners: readonly ListenAddress[]): string[] {
  if (given.length > 0) return [...given];
  const out = new Set<string>();
  for (const l of listeners) {
    const wildcard = l.host === '0.0.0.0' || /^[0:]+$/.test(l.host);
    if (!wildcard) {
      out.add(l.host);
      continue;
    }
    for (const list of Object.values(networkInterfaces())) {
      for (const nic of list ?? []) {
        if (nic.internal || nic.family !== (l.family === 4 ? 'IPv4' : 'IPv6') || nic.address.includes('%') || nic.address.toLowerCase().startsWith('fe80')) continue;
        out.add(nic.address);
      }
    }
  }
  return [...out].filter((a) => addressProblem(a) === undefined);
}

/** An upstream resolver (--upstream HOST[:PORT]). */
export interface Upstream {
  readonly host: string;
  readonly port: number;
}
