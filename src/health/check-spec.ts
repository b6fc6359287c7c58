/** An active health check as registered (durations in milliseconds). */
export interface CheckSpec {
  readonly http?: string;
  readonly tcp?: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
}
