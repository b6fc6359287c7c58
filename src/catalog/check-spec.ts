/** An active health check as registered (durations in milliseconds). */
export interface CheckSpec {
  readonly http?: string;
  readonly tcp?: string;
  /** gRPC health checking protocol: HOST:PORT of the server. */
  readonly grpc?: string;
  /** The service name asked for ('' = the server as a whole). */
  readonly grpcService?: string;
  /** TLS to the gRPC server (verified against the system roots, or GRPC_DEFAULT_SSL_ROOTS_FILE_PATH). */
  readonly grpcTls?: boolean;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
}

export type CheckKind = 'http' | 'tcp' | 'grpc';

export function checkKind(check: CheckSpec): CheckKind {
  return check.http !== undefined ? 'http' : check.grpc !== undefined ? 'grpc' : 'tcp';
}
