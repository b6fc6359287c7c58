import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * Where to find the cluster, in kubectl's order: --kubeconfig, in-cluster
 * service account, $KUBECONFIG, ~/.kube/config. Undefined when nothing is
 * found (fine for --kubernetes auto, an error for on).
 */
export function loadKubeConfig(file: string | undefined): { config: KubeConfig; from: string } | undefined {
  const kc = new KubeConfig();
  if (file !== undefined) {
    if (!existsSync(file)) throw new Error(`--kubeconfig ${file}: no such file`);
    kc.loadFromFile(file);
    return { config: kc, from: file };
  }
  if (process.env.KUBERNETES_SERVICE_HOST !== undefined && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) {
    kc.loadFromCluster();
    return { config: kc, from: 'in-cluster service account' };
  }
  const env = process.env.KUBECONFIG;
  const home = join(homedir(), '.kube', 'config');
  if ((env !== undefined && env !== '') || existsSync(home)) {
    kc.loadFromDefault();
    return { config: kc, from: env || home };
  }
  return undefined;
}
