import { Counter, Gauge, type Registry } from 'prom-client';
import type { KubernetesMetrics } from '../sources/kubernetes/kubernetes-source.js';

export function kubernetesMetrics(registry: Registry): KubernetesMetrics {
  const lastSync = new Gauge({ name: 'meshdns_kubernetes_last_sync_timestamp_seconds', help: 'When Kubernetes changes were last applied to the catalog', registers: [registry] });
  const restarts = new Counter({ name: 'meshdns_kubernetes_watch_restarts_total', help: 'Kubernetes watch streams re-opened, by resource and reason (closed, error, gone)', labelNames: ['resource', 'reason'], registers: [registry] });
  const objects = new Gauge({ name: 'meshdns_kubernetes_objects', help: 'Kubernetes objects held (as slim records), by resource', labelNames: ['resource'], registers: [registry] });
  const mesh = new Gauge({ name: 'meshdns_mesh_objects', help: 'Mesh traffic objects by kind and state: followed (in force for some Service) or skipped (in force nowhere; the log says why)', labelNames: ['kind', 'state'], registers: [registry] });
  return {
    meshObjects: (kind, state, count) => mesh.set({ kind, state }, count),
    synced: (at) => lastSync.set(at / 1000),
    restart: (resource, reason) => restarts.inc({ resource, reason }),
    objects: (resource, count) => objects.set({ resource }, count),
  };
}
