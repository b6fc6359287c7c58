import { Counter, Gauge, type Registry } from 'prom-client';

/** Errors of the parts around the DNS path, each counted where it is handled. */
export interface OpsMetrics {
  storeError(store: string, operation: string): void;
  zoneReload(ok: boolean): void;
  kubernetesError(resource: string, stage: 'list' | 'watch', cluster: string): void;
  /** An instance or record left out because it cannot be held or built (the rest is answered). */
  skipped(what: 'instance' | 'record'): void;
  /** A SIGHUP re-read of the API tokens and certificate: applied, or refused (the ones in force stay). */
  accessReload(ok: boolean): void;
  /** A shared store's watch could not resume and the store was re-listed. */
  storeResync(store: string, reason: string): void;
  /** A REST write answered (accepted or refused). */
  apiWrite(method: string, status: number): void;
  /** Puts the error series of a store and of the Kubernetes source at 0, so that rates exist before the first error. */
  initialize(store: string, kubernetesClusters: readonly string[]): void;
}

export function opsMetrics(
  registry: Registry,
  brokenZoneFiles: () => number,
  /** Each watched cluster and 1 when its first lists are done (the local cluster alone, 1, when none is watched). */
  kubernetesSynced: () => readonly (readonly [string, number])[],
  invalidRegistrations: () => number = () => 0,
  failingOver: () => number = () => 0,
  storeFollowing: () => number = () => 1,
): OpsMetrics {
  const resyncs = new Counter({
    name: 'meshdns_store_resyncs_total',
    help: 'Re-lists of a shared store after a watch that could not resume (reason: compacted, watch-error)',
    labelNames: ['store', 'reason'],
    registers: [registry],
  });
  new Gauge({
    name: 'meshdns_store_following',
    help: '1 while the registration store is followed (etcd: its watch runs), 0 while it is being re-listed',
    registers: [registry],
    collect() {
      this.set(storeFollowing());
    },
  });
  new Gauge({
    name: 'meshdns_services_failing_over',
    help: 'Services with nothing answerable of their own, answering a backup service of their failover policy',
    registers: [registry],
    collect() {
      this.set(failingOver());
    },
  });
  const skipped = new Counter({ name: 'meshdns_skipped_total', help: 'Instances the catalog could not hold and records that could not be built, left out while the rest is answered', labelNames: ['what'], registers: [registry] });
  new Gauge({
    name: 'meshdns_invalid_registrations',
    help: 'Stored REST registrations that no longer validate (written by an older version): not answered; see /readyz',
    registers: [registry],
    collect() {
      this.set(invalidRegistrations());
    },
  });
  const store = new Counter({ name: 'meshdns_store_errors_total', help: 'Registration store operations that failed (answered 503 or retried)', labelNames: ['store', 'operation'], registers: [registry] });
  const reloads = new Counter({ name: 'meshdns_zone_reloads_total', help: 'Zone file loads by result (ok, error)', labelNames: ['result'], registers: [registry] });
  const writes = new Counter({ name: 'meshdns_api_writes_total', help: 'REST writes answered, by method and HTTP status (refused ones included)', labelNames: ['method', 'status'], registers: [registry] });
  const accessReloads = new Counter({
    name: 'meshdns_access_reloads_total',
    help: 'SIGHUP re-reads of the API tokens and TLS certificate by result (ok; error: refused, the ones in force stay)',
    labelNames: ['result'],
    registers: [registry],
  });
  const kube = new Counter({ name: 'meshdns_kubernetes_errors_total', help: 'Failed Kubernetes list or watch requests, by cluster', labelNames: ['cluster', 'resource', 'stage'], registers: [registry] });
  new Gauge({
    name: 'meshdns_zone_files_broken',
    help: 'Zone files that currently fail to parse (their last good version is served)',
    registers: [registry],
    collect() {
      this.set(brokenZoneFiles());
    },
  });
  new Gauge({
    name: 'meshdns_kubernetes_synced',
    help: 'By cluster: 1 when the first list of every watched Kubernetes resource is done and the API answers (or the source is off), else 0 (a remote cluster\'s last instances are still answered)',
    labelNames: ['cluster'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [cluster, synced] of kubernetesSynced()) this.set({ cluster }, synced);
    },
  });
  return {
    storeError: (s, op) => store.inc({ store: s, operation: op }),
    zoneReload: (ok) => reloads.inc({ result: ok ? 'ok' : 'error' }),
    kubernetesError: (resource, stage, cluster) => kube.inc({ cluster, resource, stage }),
    skipped: (what) => skipped.inc({ what }),
    storeResync: (store, reason) => resyncs.inc({ store, reason }),
    apiWrite: (method, status) => writes.inc({ method, status: String(status) }),
    initialize: (storeKind, clusters) => {
      for (const operation of ['put', 'delete', 'heartbeat']) store.inc({ store: storeKind, operation }, 0);
      for (const cluster of clusters) for (const resource of ['services', 'endpointslices']) for (const stage of ['list', 'watch'] as const) kube.inc({ cluster, resource, stage }, 0);
    },
    accessReload: (ok) => accessReloads.inc({ result: ok ? 'ok' : 'error' }),
  };
}
