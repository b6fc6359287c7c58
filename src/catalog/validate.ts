import { isIP } from 'node:net';
import type { Instance } from './types.js';

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The instance id an address gives when nothing better names it:
 * 10.0.0.7 → 10-0-0-7, fd00::7 → fd00--7 (a label may not start or end with a dash).
 */
export function addressLabel(address: string): string {
  return address.toLowerCase().replace(/[.:]/g, '-').replace(/^-+|-+$/g, '');
}

/** RFC 1123 label, lowercase, at most 63 characters. */
export function isDnsLabel(text: string): boolean {
  return LABEL.test(text);
}

/** Throws an Error naming the first invalid field; sources call this at their boundary. */
export function assertValidInstance(namespace: string, service: string, instance: Instance): void {
  if (!isDnsLabel(namespace)) throw new Error(`namespace "${namespace}" is not an RFC 1123 DNS label`);
  if (!isDnsLabel(service)) throw new Error(`service "${service}" is not an RFC 1123 DNS label`);
  if (!isDnsLabel(instance.id)) throw new Error(`instance id "${instance.id}" is not an RFC 1123 DNS label`);
  if (instance.name !== undefined && !isDnsLabel(instance.name)) throw new Error(`instance name "${instance.name}" is not an RFC 1123 DNS label`);
  if (isIP(instance.address) === 0) throw new Error(`address "${instance.address}" is not an IPv4 or IPv6 address`);
  if (!Number.isInteger(instance.weight) || instance.weight < 0 || instance.weight > 65535) {
    throw new Error(`weight ${instance.weight} is not an integer from 0 to 65535`);
  }
  for (const p of instance.ports) {
    if (!isDnsLabel(p.name)) throw new Error(`port name "${p.name}" is not an RFC 1123 DNS label`);
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) throw new Error(`port ${p.port} is not from 1 to 65535`);
    if (p.protocol !== 'tcp' && p.protocol !== 'udp') throw new Error(`protocol "${String(p.protocol)}" is not tcp or udp`);
  }
}
