import { parseDuration } from '../../config/duration.js';
import type { InstancePort } from '../../catalog/types.js';
import { compact, type Registration } from '../../store/registration.js';
import type { CheckSpec } from '../../catalog/check-spec.js';
import { FieldError } from './field-error.js';
import { PORT_NAME_PATTERN } from './registration-rules.js';

export { FieldError };

export const DNS_LABEL_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
const DURATION_PATTERN = '^(\\d+(\\.\\d+)?(ms|s|m|h))+$';

/** JSON schema of the instance body (validated by Fastify's Ajv before the handler runs). */
export const instanceBodySchema = {
  type: 'object',
  required: ['address', 'ports'],
  additionalProperties: false,
  properties: {
    address: { type: 'string', maxLength: 45 },
    ports: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        required: ['name', 'port'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', maxLength: 15, pattern: PORT_NAME_PATTERN },
          port: { type: 'integer', minimum: 1, maximum: 65535 },
          protocol: { type: 'string', enum: ['tcp', 'udp'] },
        },
      },
    },
    weight: { type: 'integer', minimum: 0, maximum: 65535 },
    zone: { type: 'string', minLength: 1, maxLength: 63 },
    cluster: { type: 'string', maxLength: 63, pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' },
    ttl: { type: 'string', pattern: DURATION_PATTERN },
    check: {
      type: 'object',
      additionalProperties: false,
      properties: {
        http: { type: 'string', maxLength: 2048 },
        tcp: { type: 'string', maxLength: 300 },
        grpc: { type: 'string', maxLength: 300 },
        grpcService: { type: 'string', maxLength: 200 },
        grpcTls: { type: 'boolean' },
        interval: { type: 'string', pattern: DURATION_PATTERN },
        timeout: { type: 'string', pattern: DURATION_PATTERN },
        healthyThreshold: { type: 'integer', minimum: 1, maximum: 100 },
        unhealthyThreshold: { type: 'integer', minimum: 1, maximum: 100 },
      },
    },
    metadata: {
      type: 'object',
      maxProperties: 64,
      additionalProperties: { type: 'string', maxLength: 1024 },
    },
  },
} as const;

export interface InstanceBody {
  address: string;
  ports: { name: string; port: number; protocol?: 'tcp' | 'udp' }[];
  weight?: number;
  zone?: string;
  cluster?: string;
  ttl?: string;
  check?: { http?: string; tcp?: string; grpc?: string; grpcService?: string; grpcTls?: boolean; interval?: string; timeout?: string; healthyThreshold?: number; unhealthyThreshold?: number };
  metadata?: Record<string, string>;
}


/** What JSON schema cannot say: address syntax, unique port names, one check kind, sane durations. */
export function toRegistration(namespace: string, service: string, id: string, body: InstanceBody, now: number, previous?: Registration): Registration {
  const seen = new Set<string>();
  const ports: InstancePort[] = body.ports.map((p, i) => {
    const key = `${p.name}/${p.protocol ?? 'tcp'}`;
    if (seen.has(key)) throw new FieldError(`ports[${i}].name`, `port "${p.name}" (${p.protocol ?? 'tcp'}) is given twice`);
    seen.add(key);
    return { name: p.name, port: p.port, protocol: p.protocol ?? 'tcp' };
  });
  let ttlMs: number | undefined;
  if (body.ttl !== undefined) {
    ttlMs = parseDuration(body.ttl);
    if (ttlMs === undefined || ttlMs < 1000 || ttlMs > 86_400_000) throw new FieldError('ttl', `"${body.ttl}" must be from 1s to 24h`);
  }
  return compact({
    namespace,
    service,
    id,
    address: body.address,
    ports,
    weight: body.weight ?? 100,
    zone: body.zone,
    cluster: body.cluster,
    ttlMs,
    check: body.check === undefined ? undefined : toCheck(body.check),
    metadata: body.metadata ?? {},
    registeredAt: previous?.registeredAt ?? now,
    heartbeatAt: now,
  });
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/;

function toCheck(c: NonNullable<InstanceBody['check']>): CheckSpec {
  if ([c.http, c.tcp, c.grpc].filter((k) => k !== undefined).length !== 1) throw new FieldError('check', 'give exactly one of "http", "tcp" or "grpc"');
  if ((c.grpcService !== undefined || c.grpcTls !== undefined) && c.grpc === undefined) throw new FieldError('check.grpcService', '"grpcService" and "grpcTls" go with a "grpc" check');
  if (c.http !== undefined) {
    let url: URL;
    try {
      url = new URL(c.http);
    } catch {
      throw new FieldError('check.http', `"${c.http}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new FieldError('check.http', 'must be an http:// or https:// URL');
  }
  if (c.tcp !== undefined && !HOST_PORT.test(c.tcp)) throw new FieldError('check.tcp', `"${c.tcp}" is not HOST:PORT`);
  if (c.grpc !== undefined && !HOST_PORT.test(c.grpc)) throw new FieldError('check.grpc', `"${c.grpc}" is not HOST:PORT`);
  const intervalMs = c.interval === undefined ? 5000 : parseDuration(c.interval)!;
  const timeoutMs = c.timeout === undefined ? 1000 : parseDuration(c.timeout)!;
  if (intervalMs < 100 || intervalMs > 3_600_000) throw new FieldError('check.interval', 'must be from 100ms to 1h');
  if (timeoutMs < 10 || timeoutMs > intervalMs) throw new FieldError('check.timeout', 'must be at least 10ms and at most the interval');
  return {
    http: c.http,
    tcp: c.tcp,
    ...(c.grpc === undefined ? {} : { grpc: c.grpc, grpcService: c.grpcService ?? '', grpcTls: c.grpcTls === true }),
    intervalMs,
    timeoutMs,
    healthyThreshold: c.healthyThreshold ?? 2,
    unhealthyThreshold: c.unhealthyThreshold ?? 3,
  };
}

function durationText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * A check URL as the API shows it: reads are open, so a password in the URL
 * (http://user:secret@host/) is masked. The probe still uses the stored URL.
 */
export function withoutPassword(text: string): string {
  try {
    const url = new URL(text);
    if (url.password === '') return text;
    url.password = '****';
    return url.toString();
  } catch {
    return text;
  }
}

/** The API's view of a stored registration: the body's own shape plus identity and times. */
export function registrationView(r: Registration): Record<string, unknown> {
  return {
    namespace: r.namespace,
    service: r.service,
    id: r.id,
    address: r.address,
    ports: r.ports,
    weight: r.weight,
    ...(r.zone === undefined ? {} : { zone: r.zone }),
    ...(r.cluster === undefined ? {} : { cluster: r.cluster }),
    ...(r.ttlMs === undefined ? {} : { ttl: durationText(r.ttlMs) }),
    ...(r.check === undefined
      ? {}
      : {
          check: {
            ...(r.check.http === undefined ? {} : { http: withoutPassword(r.check.http) }),
            ...(r.check.tcp === undefined ? {} : { tcp: r.check.tcp }),
            ...(r.check.grpc === undefined ? {} : { grpc: r.check.grpc, grpcService: r.check.grpcService ?? '', grpcTls: r.check.grpcTls === true }),
            interval: durationText(r.check.intervalMs),
            timeout: durationText(r.check.timeoutMs),
            healthyThreshold: r.check.healthyThreshold,
            unhealthyThreshold: r.check.unhealthyThreshold,
          },
        }),
    metadata: r.metadata,
    registeredAt: new Date(r.registeredAt).toISOString(),
    heartbeatAt: new Date(r.heartbeatAt).toISOString(),
  };
}
