import { parseDuration } from '../../config/duration.js';

/** Weight of every endpoint of an EndpointSlice, or of the Pod behind an endpoint. */
export const WEIGHT_ANNOTATION = 'meshdns.io/weight';
/** Opt-in active probe: "http:<path>:<port>", "tcp:<port>" or "grpc:<port>[/<service>]", on the Service or an EndpointSlice. */
export const PROBE_ANNOTATION = 'meshdns.io/probe';
export const PROBE_INTERVAL_ANNOTATION = 'meshdns.io/probe-interval';
export const PROBE_TIMEOUT_ANNOTATION = 'meshdns.io/probe-timeout';

export interface ProbeAnnotation {
  readonly kind: 'http' | 'tcp' | 'grpc';
  /** The HTTP path, or the gRPC service name asked for ('' = the whole server). */
  readonly path: string;
  readonly port: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export function parseWeight(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  const n = Number(value.trim());
  return n <= 65535 ? n : undefined;
}

/** Parses the probe annotations; undefined when absent or malformed (reported by the caller). */
export function parseProbe(annotations: Record<string, string> | undefined): ProbeAnnotation | undefined | Error {
  const spec = annotations?.[PROBE_ANNOTATION];
  if (spec === undefined) return undefined;
  const http = /^http:(\/[^:\s]*):(\d{1,5})$/.exec(spec.trim());
  const tcp = /^tcp:(\d{1,5})$/.exec(spec.trim());
  // grpc:PORT or grpc:PORT/package.Service (the service name Kubernetes' grpc probe calls `service`).
  const grpc = /^grpc:(\d{1,5})(?:\/([A-Za-z0-9_.-]{1,200}))?$/.exec(spec.trim());
  if (!http && !tcp && !grpc) return new Error(`${PROBE_ANNOTATION} "${spec}" is not "http:/path:PORT", "tcp:PORT" or "grpc:PORT[/service]"`);
  const port = Number(http ? http[2] : tcp ? tcp[1] : grpc![1]);
  if (port < 1 || port > 65535) return new Error(`${PROBE_ANNOTATION} "${spec}": port out of range`);
  const intervalMs = parseDuration(annotations?.[PROBE_INTERVAL_ANNOTATION] ?? '5s') ?? 5000;
  const timeoutMs = Math.min(parseDuration(annotations?.[PROBE_TIMEOUT_ANNOTATION] ?? '1s') ?? 1000, intervalMs);
  return { kind: http ? 'http' : tcp ? 'tcp' : 'grpc', path: http ? http[1]! : grpc ? (grpc[2] ?? '') : '', port, intervalMs: Math.max(100, intervalMs), timeoutMs: Math.max(10, timeoutMs) };
}
