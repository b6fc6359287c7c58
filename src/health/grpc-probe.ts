import { createRequire } from 'node:module';
import type * as GrpcLibrary from '@grpc/grpc-js';
import type { ChannelCredentials, Client, ServiceError } from '@grpc/grpc-js';
import type { ProbeResult } from './probes.js';

/**
 * The gRPC health checking protocol (grpc.health.v1.Health/Check), what Kubernetes' `grpc` probes, Consul's
 * gRPC checks and Envoy call. Its two messages are one field each, so they are encoded here by hand instead of
 * compiling the .proto at run time:
 *   HealthCheckRequest  { string service = 1; }             → tag 0x0a, length, UTF-8
 *   HealthCheckResponse { ServingStatus status = 1; }       → tag 0x08, varint
 * ServingStatus: 0 UNKNOWN, 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN. Only SERVING passes.
 */

const CHECK_METHOD = '/grpc.health.v1.Health/Check';

let library: typeof GrpcLibrary | undefined;
/**
 * @grpc/grpc-js, loaded by the first gRPC check (a CommonJS package, so synchronously): a server without gRPC
 * checks does not carry it and protobufjs (~3 MB of heap, ~8 MB resident with etcd3; measured 2026-11-29).
 */
function grpc(): typeof GrpcLibrary {
  return (library ??= createRequire(import.meta.url)('@grpc/grpc-js') as typeof GrpcLibrary);
}
const STATUS_NAMES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

export function encodeHealthCheckRequest(service: string): Buffer {
  // The empty service is the empty message, as grpc_health_probe and kubelet send it (proto3 omits defaults).
  if (service === '') return Buffer.alloc(0);
  const text = Buffer.from(service, 'utf8');
  const length: number[] = [];
  let n = text.length;
  do {
    length.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return Buffer.concat([Buffer.from([0x0a, ...length]), text]);
}

/** The `status` field of a HealthCheckResponse (0 when absent, as proto3 omits defaults); unknown fields skipped. */
export function decodeHealthCheckResponse(buf: Buffer): number {
  let status = 0;
  let o = 0;
  const varint = (): number => {
    let value = 0;
    let shift = 0;
    for (;;) {
      if (o >= buf.length) throw new Error('truncated HealthCheckResponse');
      const b = buf[o++]!;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
      shift += 7;
      if (shift > 63) throw new Error('bad varint in HealthCheckResponse');
    }
  };
  while (o < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      const v = varint();
      if (field === 1) status = v;
    } else if (wire === 2) {
      const length = varint();
      o += length;
    }
    else if (wire === 1) o += 8;
    else if (wire === 5) o += 4;
    else throw new Error(`unexpected wire type ${wire} in HealthCheckResponse`);
  }
  return status;
}

/**
 * gRPC clients by target, one channel each, kept for as long as something probes that target: a probe every
 * second must not pay a TCP and HTTP/2 (and TLS) handshake every second. Closed when the last check using it
 * goes (untrack), like a connection pool.
 */
export class GrpcProbes {
  private readonly clients = new Map<string, { client: Client; users: number }>();
  private tlsCredentials: ChannelCredentials | undefined;

  private clientFor(target: string, tls: boolean): Client {
    const key = `${tls ? 'tls' : 'plain'}|${target}`;
    let entry = this.clients.get(key);
    if (entry === undefined) {
      const { Client, credentials } = grpc();
      const client = new Client(target, tls ? (this.tlsCredentials ??= credentials.createSsl()) : credentials.createInsecure(), {
        // A health check should see the server as it is: no retries, no waiting for a connection beyond the deadline.
        'grpc.enable_retries': 0,
        'grpc.max_reconnect_backoff_ms': 2000,
        'grpc.initial_reconnect_backoff_ms': 200,
      });
      this.clients.set(key, (entry = { client, users: 0 }));
    }
    return entry.client;
  }

  /** A check starts using this target (the scheduler tracks it). */
  acquire(target: string, tls: boolean): void {
    this.clientFor(target, tls);
    this.clients.get(`${tls ? 'tls' : 'plain'}|${target}`)!.users++;
  }

  /** A check stops using it; the channel closes with its last user. */
  release(target: string, tls: boolean): void {
    const key = `${tls ? 'tls' : 'plain'}|${target}`;
    const entry = this.clients.get(key);
    if (entry === undefined) return;
    if (--entry.users > 0) return;
    entry.client.close();
    this.clients.delete(key);
  }

  /** One Health/Check call with the timeout as its deadline: SERVING passes; any other status or error fails. */
  check(target: string, service: string, tls: boolean, timeoutMs: number): Promise<ProbeResult> {
    const started = Date.now();
    const client = this.clientFor(target, tls);
    return new Promise((resolve) => {
      client.makeUnaryRequest(
        CHECK_METHOD,
        (s: string) => encodeHealthCheckRequest(s),
        (b: Buffer) => decodeHealthCheckResponse(b),
        service,
        new (grpc().Metadata)(),
        { deadline: started + timeoutMs },
        (err: ServiceError | null, value?: number) => {
          const durationMs = Date.now() - started;
          if (err !== null) {
            const codes = grpc().status;
            const detail = err.code === codes.DEADLINE_EXCEEDED ? 'timeout' : `${codes[err.code] ?? err.code}: ${err.details}`;
            return resolve({ ok: false, detail, durationMs, at: started });
          }
          const status = value ?? 0;
          resolve({ ok: status === 1, detail: STATUS_NAMES[status] ?? `status ${status}`, durationMs, at: started });
        },
      );
    });
  }

  close(): void {
    for (const { client } of this.clients.values()) client.close();
    this.clients.clear();
  }
}
