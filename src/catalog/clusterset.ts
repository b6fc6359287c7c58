import type { InstancePort } from './types.js';

/**
 * A service imported into the cluster set (the Multi-Cluster Services API, KEP-1645): what its
 * ServiceImport says and the ready endpoints of its imported EndpointSlices, every source cluster's.
 */
export interface ClusterSetService {
  readonly namespace: string;
  readonly name: string;
  readonly type: 'ClusterSetIP' | 'Headless';
  /** ClusterSetIP: the service's cluster-set addresses. */
  readonly ips: readonly string[];
  readonly ports: readonly InstancePort[];
  /** Headless: each ready endpoint with its source cluster and its name below `<cluster>.<svc>…`. */
  readonly endpoints: readonly ClusterSetEndpoint[];
}

export interface ClusterSetEndpoint {
  readonly cluster: string;
  /** The endpoint's hostname, else its address with '-' for '.' and ':' (as instance ids are made). */
  readonly name: string;
  readonly address: string;
  readonly ports: readonly InstancePort[];
}
