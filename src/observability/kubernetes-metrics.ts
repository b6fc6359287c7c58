import { Counter, Gauge, type Registry } from 'prom-client';
import type { KubernetesMetrics } from '../sources/kubernetes/kubernetes-source.js';

/** The Kubernetes sources' metrics, one set of series per watched cluster (`cluster` label). */
export function kubernetesMetrics(registry: Registry): (cluster: string) => KubernetesMetrics {
  const lastSync = new Gauge({ name: 'meshdns_kubernetes_last_sync_timestamp_seconds', help: 'When Kubernetes changes were last applied to the catalog, by cluster', labelNames: ['cluster'], registers: [registry] });
  const restarts = new Counter({ name: 'meshdns_kubernetes_watch_restarts_total', help: 'Kubernetes watch streams re-opened, by resource and reason (closed, error, gone)', labelNames: ['cluster', 'resource', 'reason'], registers: [registry] });
  const objects = new Gauge({ name: 'meshdns_kubernetes_objects', help: 'Kubernetes objects held (as slim records), by cluster and resource', labelNames: ['cluster', 'resource'], registers: [registry] });
  const mesh = new Gauge({ name: 'meshdns_mesh_objects', help: 'Mesh traffic objects by kind and state: followed (in force for some Service) or skipped (in force nowhere; the log says why)', labelNames: ['kind', 'state'], registers: [registry] });
  return (cluster) => ({
    meshObjects: (kind, state, count) => mesh.set({ kind, state }, count),
    synced: (at) => lastSync.set({ cluster }, at / 1000),
    restart: (resource, reason) => restarts.inc({ cluster, resource, reason }),
    objects: (resource, count) => objects.set({ cluster, resource }, count),
  });
}
