import { Server, ServerCredentials, status as GrpcStatus, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';

/**
 * A real gRPC server (@grpc/grpc-js) implementing grpc.health.v1.Health/Check, as a mesh's services do:
 * each service name has a status (SERVING, NOT_SERVING, SERVICE_UNKNOWN) or is slow (answers after a delay);
 * a name it does not know fails with NOT_FOUND, as the protocol says. It records the service names asked for.
 */
export type HealthState = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN' | { slowMs: number };

const STATUS_VALUE = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

/** A decoded HealthCheckRequest: an object, as protobuf libraries give servers (grpc-js takes a falsy request for none). */
interface HealthCheckRequest {
  service: string;
}

function decodeRequest(buf: Buffer): HealthCheckRequest {
  return { service: decodeService(buf) };
}

function decodeService(buf: Buffer): string {
  // HealthCheckRequest { string service = 1; }: tag 0x0a, a varint length, the bytes.
  if (buf.length === 0) return '';
  if (buf[0] !== 0x0a) throw new Error('unexpected HealthCheckRequest');
  let length = 0;
  let shift = 0;
  let o = 1;
  for (;;) {
    const b = buf[o++]!;
    length |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
  }
  return buf.toString('utf8', o, o + length);
}

const encodeResponse = (status: number): Buffer => (status === 0 ? Buffer.alloc(0) : Buffer.from([0x08, status]));

export class GrpcHealthServer {
  readonly asked: string[] = [];
  private readonly states = new Map<string, HealthState>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(states: Record<string, HealthState>, tls?: { cert: Buffer; key: Buffer }, host = '127.0.0.1'): Promise<GrpcHealthServer> {
    const server = new Server();
    const definition: ServiceDefinition = {
      Check: {
        path: '/grpc.health.v1.Health/Check',
        requestStream: false,
        responseStream: false,
        requestSerialize: (r: HealthCheckRequest) => Buffer.from(r.service),
        requestDeserialize: decodeRequest,
        responseSerialize: (n: number) => encodeResponse(n),
        responseDeserialize: (b: Buffer) => b[1] ?? 0,
      },
    };
    let self: GrpcHealthServer | undefined;
    server.addService(definition, {
      Check: (call: ServerUnaryCall<HealthCheckRequest, number>, callback: sendUnaryData<number>) => {
        const service = call.request.service;
        if (self!.asked.length < 10_000) self!.asked.push(service);
        const state = self!.states.get(service);
        if (state === undefined) return callback({ code: GrpcStatus.NOT_FOUND, details: `unknown service ${service}` });
        if (typeof state === 'object') return void setTimeout(() => callback(null, STATUS_VALUE.SERVING), state.slowMs);
        callback(null, STATUS_VALUE[state]);
      },
    });
    const credentials = tls === undefined ? ServerCredentials.createInsecure() : ServerCredentials.createSsl(null, [{ cert_chain: tls.cert, private_key: tls.key }], false);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync(`${host}:0`, credentials, (err, p) => (err ? reject(err) : resolve(p))));
    self = new GrpcHealthServer(server, port);
    for (const [name, state] of Object.entries(states)) self.states.set(name, state);
    return self;
  }

  set(service: string, state: HealthState): void {
    this.states.set(service, state);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }
}
