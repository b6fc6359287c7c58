import { addressProblem } from './address.js';
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

/** Why the catalog cannot hold this instance (the first invalid field), or undefined when it can. */
export function instanceProblem(namespace: string, service: string, instance: Instance): string | undefined {
  if (!isDnsLabel(namespace)) return `namespace "${namespace}" is not an RFC 1123 DNS label`;
  if (!isDnsLabel(service)) return `service "${service}" is not an RFC 1123 DNS label`;
  if (!isDnsLabel(instance.id)) return `instance id "${instance.id}" is not an RFC 1123 DNS label`;
  if (instance.name !== undefined && !isDnsLabel(instance.name)) return `instance name "${instance.name}" is not an RFC 1123 DNS label`;
  const address = addressProblem(instance.address);
  if (address !== undefined) return `address ${address}`;
  if (!Number.isInteger(instance.weight) || instance.weight < 0 || instance.weight > 65535) {
    return `weight ${instance.weight} is not an integer from 0 to 65535`;
  }
  for (const p of instance.ports) {
    if (!isDnsLabel(p.name)) return `port name "${p.name}" is not an RFC 1123 DNS label`;
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) return `port ${p.port} is not from 1 to 65535`;
    if (p.protocol !== 'tcp' && p.protocol !== 'udp') return `protocol "${String(p.protocol)}" is not tcp or udp`;
  }
  return undefined;
}

/** Throws an Error naming the first invalid field; for writes that were validated at their edge already. */
export function assertValidInstance(namespace: string, service: string, instance: Instance): void {
  const problem = instanceProblem(namespace, service, instance);
  if (problem !== undefined) throw new Error(problem);
}
