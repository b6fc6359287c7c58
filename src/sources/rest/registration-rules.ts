import { addressProblem } from '../../catalog/address.js';
import { isDnsLabel } from '../../catalog/validate.js';
import { childKey, keyToText } from '../../wire/name.js';
import type { Registration } from '../../store/registration.js';
import { FieldError } from './field-error.js';

/**
 * A port name as Kubernetes (IANA_SVC_NAME) and RFC 6335 §5.1 have it: at
 * most 15 characters, lowercase letters, digits and single hyphens, at least
 * one letter. The SRV owner label is "_" + the name, so a 63-character DNS
 * label would make a 64-octet label that no query can carry.
 */
export const PORT_NAME_PATTERN = '^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$';
const PORT_NAME = new RegExp(PORT_NAME_PATTERN);

/**
 * Everything the catalog and the answer tables will build from a
 * registration, checked before the store sees it: what passes is answerable.
 * The same check runs on rows loaded from the store, so one written by an
 * older, laxer version is skipped and reported instead of failing the load.
 */
export function registrationProblem(r: Registration, zoneKeys: readonly string[]): FieldError | undefined {
  for (const [field, value] of [
    ['namespace', r.namespace],
    ['service', r.service],
    ['id', r.id],
  ] as const) {
    if (!isDnsLabel(value)) return new FieldError(field, `"${value}" is not an RFC 1123 DNS label (lowercase letters, digits, "-", at most 63)`);
  }
  if (r.cluster !== undefined && !isDnsLabel(r.cluster)) return new FieldError('cluster', `"${r.cluster}" is not a DNS label: a cluster name is one (its instances are named <id>.<cluster>.<svc>.<ns>)`);
  const address = addressProblem(r.address);
  if (address !== undefined) return new FieldError('address', address);
  if (!Number.isInteger(r.weight) || r.weight < 0 || r.weight > 65535) return new FieldError('weight', `${r.weight} is not an integer from 0 to 65535`);
  for (const [i, p] of r.ports.entries()) {
    if (!PORT_NAME.test(p.name)) {
      return new FieldError(`ports[${i}].name`, `"${p.name}" is not a port name: at most 15 lowercase letters, digits and single hyphens, with a letter (RFC 6335, as Kubernetes)`);
    }
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) return new FieldError(`ports[${i}].port`, `${p.port} is not from 1 to 65535`);
    if (p.protocol !== 'tcp' && p.protocol !== 'udp') return new FieldError(`ports[${i}].protocol`, `"${String(p.protocol)}" is not tcp or udp`);
  }
  for (const field of ['tcp', 'grpc'] as const) {
    const target = r.check?.[field];
    if (target === undefined) continue;
    const port = Number(target.slice(target.lastIndexOf(':') + 1));
    if (!Number.isInteger(port) || port < 1 || port > 65535) return new FieldError(`check.${field}`, `"${target}": the port must be from 1 to 65535`);
  }
  // Every name built from it must fit in 255 octets in every mesh zone (a long --domain leaves less room).
  for (const zoneKey of zoneKeys) {
    try {
      childKey([r.id, ...(r.cluster === undefined ? [] : [r.cluster]), r.service, r.namespace], zoneKey);
      for (const p of r.ports) childKey([`_${p.name}`, `_${p.protocol}`, r.service, r.namespace], zoneKey);
    } catch {
      return new FieldError('id', `the names of ${r.id}.${r.service}.${r.namespace} would be longer than 255 octets in the zone ${keyToText(zoneKey)}; use shorter names`);
    }
  }
  return undefined;
}
