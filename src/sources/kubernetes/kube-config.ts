import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from './kube-client.js';

/** Where the cluster's credentials are, found without loading the Kubernetes client. */
export type KubeConfigSource = { kind: 'file'; path: string } | { kind: 'cluster' } | { kind: 'default'; path: string };

/**
 * Where to find the cluster, in kubectl's order: --kubeconfig, in-cluster
 * service account, $KUBECONFIG, ~/.kube/config. Undefined when nothing is
 * found (fine for --kubernetes auto, an error for on).
 */
export function findKubeConfig(file: string | undefined): KubeConfigSource | undefined {
  if (file !== undefined) {
    if (!existsSync(file)) throw new Error(`--kubeconfig ${file}: no such file`);
    return { kind: 'file', path: file };
  }
  if (process.env.KUBERNETES_SERVICE_HOST !== undefined && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) return { kind: 'cluster' };
  const env = process.env.KUBECONFIG;
  const home = join(homedir(), '.kube', 'config');
  if ((env !== undefined && env !== '') || existsSync(home)) return { kind: 'default', path: env || home };
  return undefined;
}

/** Clusters of a kubeconfig served over plain HTTP (for the start line: no TLS protects that connection). */
export function plainHttpServers(kc: KubeConfig): string[] {
  return kc.clusters.filter((c) => c.server.startsWith('http://')).map((c) => c.server);
}

export function describeKubeConfig(source: KubeConfigSource): string {
  return source.kind === 'cluster' ? 'in-cluster service account' : source.path;
}

/**
 * Loads the credentials with the Kubernetes client, imported only now: the
 * library is large (some 15 MB of heap), and a server without a cluster
 * should not carry it.
 */
export async function loadKubeConfig(source: KubeConfigSource): Promise<KubeConfig> {
  const { KubeConfig } = await import('./kube-client.js');
  const kc = new KubeConfig();
  if (source.kind === 'file') kc.loadFromFile(source.path);
  else if (source.kind === 'cluster') kc.loadFromCluster();
  else kc.loadFromDefault();
  // A plain-HTTP API server (kubectl proxy's http://127.0.0.1:8001, a local test server) has no TLS to
  // verify: kubectl talks to it as it is, while the client library refuses it unless skipTLSVerify is set and
  // would fail every request, forever. Say so once and talk to it as kubectl does.
  kc.clusters = kc.clusters.map((c) => (c.server.startsWith('http://') && c.skipTLSVerify !== true ? { ...c, skipTLSVerify: true } : c));
  return kc;
}
