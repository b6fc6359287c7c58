import type { TrafficPolicy } from '../../catalog/policy.js';
import { FieldError } from './field-error.js';

const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';

/** JSON schema of the policy body (Fastify's Ajv validates it before the handler runs). */
export const policyBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    loadBalancer: { type: 'string', enum: ['weighted', 'round-robin', 'random'] },
    failover: { type: 'array', maxItems: 16, items: { type: 'string', maxLength: 127, pattern: `^${LABEL}\\.${LABEL}$` } },
    locality: { type: 'string', enum: ['off', 'prefer-zone'] },
    answerLimit: { type: 'integer', minimum: 0, maximum: 65535 },
    clusters: { type: 'string', enum: ['prefer-local', 'all', 'local-only'] },
  },
} as const;

export interface PolicyBody {
  loadBalancer?: TrafficPolicy['loadBalancer'];
  failover?: string[];
  locality?: TrafficPolicy['locality'];
  answerLimit?: number;
  clusters?: TrafficPolicy['clusters'];
}

/** What the schema cannot say: a service may not fail over to itself, nor name a backup twice. */
export function toPolicy(namespace: string, service: string, body: PolicyBody): TrafficPolicy {
  const failover = body.failover ?? [];
  failover.forEach((ref, i) => {
    if (ref === `${service}.${namespace}`) throw new FieldError(`failover[${i}]`, `"${ref}" is this service itself`);
    if (failover.indexOf(ref) !== i) throw new FieldError(`failover[${i}]`, `"${ref}" is listed twice`);
  });
  return { loadBalancer: body.loadBalancer ?? 'weighted', failover, locality: body.locality ?? 'off', answerLimit: body.answerLimit ?? 0, ...(body.clusters === undefined ? {} : { clusters: body.clusters }) };
}
