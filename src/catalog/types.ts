/** The catalog's vocabulary: what every source turns its facts into. */

export type InstanceSource = 'kubernetes' | 'rest' | 'zonefile';

export type Protocol = 'tcp' | 'udp';

export interface InstancePort {
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
}

/**
 * healthy: answered. unhealthy: not answered (failed probes, not ready).
 * draining: kept but given no new traffic (terminating endpoints, weight 0).
 */
export type HealthState = 'healthy' | 'unhealthy' | 'draining';

export interface Instance {
  /** DNS label naming the instance below its service. */
  readonly id: string;
  readonly source: InstanceSource;
  readonly address: string;
  readonly ports: readonly InstancePort[];
  /** 0..65535; 0 drains the instance. */
  readonly weight: number;
  readonly zone?: string;
  readonly health: HealthState;
}

export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
}

export interface Service extends ServiceRef {
  /** Keyed by `${source}/${id}`: two sources may name the same instance id. */
  readonly instances: ReadonlyMap<string, Instance>;
}

export function serviceKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function instanceKey(source: InstanceSource, id: string): string {
  return `${source}/${id}`;
}

/** Answered instances: healthy with a positive weight. */
export function isAnswerable(instance: Instance): boolean {
  return instance.health === 'healthy' && instance.weight > 0;
}
