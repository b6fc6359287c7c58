import type { Catalog } from '../catalog/catalog.js';
import { dnsNameOf, instanceState, isAnswerable, type Instance } from '../catalog/types.js';
import { effectiveWeight, type SoftWeight } from '../health/soft-weight.js';
import { splitView, type SplitView } from '../catalog/split-view.js';
import { serviceRef } from '../catalog/split.js';

/** One instance as the console shows it. */
export interface InstanceView {
  id: string;
  name: string;
  source: string;
  address: string;
  ports: string;
  zone: string | null;
  state: string;
  score: number | null;
  lastProbe: string | null;
  weight: number;
  /** Share of first answers it gets (0..1), from its effective weight among the answerable instances. */
  share: number;
}

export interface ServiceView {
  key: string;
  namespace: string;
  name: string;
  sources: string[];
  policy: { loadBalancer: string; failover: readonly string[]; locality: string; answerLimit: number };
  failingOverTo: string | null;
  /** A traffic split this service is the apex of: each backend with its share of first answers now. */
  split: (Omit<SplitView, 'backends'> & { backends: (SplitView['backends'][number] & { share: number })[] }) | null;
  instances: InstanceView[];
}

/**
 * What the console shows of one service, derived from the catalog (never the store): its sources, policy,
 * failover state and instances with their share of first answers.
 */
export function serviceView(catalog: Catalog, key: string, soft: SoftWeight, failingOverTo: string | undefined): ServiceView | undefined {
  const svc = catalog.getByKey(key);
  if (svc === undefined && !catalog.hasPolicy(key) && catalog.splitOf(key) === undefined && !catalog.isDeclared(key)) return undefined;
  const slash = key.indexOf('/');
  const instances = [...(svc?.instances.values() ?? [])];
  const policy = catalog.policyOf(key);
  const weightOf = (i: Instance): number => (i.probe === undefined ? i.weight : effectiveWeight(i.weight, i.probe.score, soft));
  const answerable = failingOverTo === undefined ? instances.filter(isAnswerable) : [];
  const total = answerable.reduce((sum, i) => sum + (policy.loadBalancer === 'random' ? 1 : weightOf(i)), 0);
  const split = splitView(catalog, key);
  const splitTotal = split?.backends.reduce((sum, b) => sum + (b.answering ? b.weight : 0), 0) ?? 0;
  // With a split in force, the service's own instances get only the part it gives the service itself.
  const ownPart = split === undefined || splitTotal === 0 ? 1 : split.backends.filter((b) => b.answering && b.service === serviceRef(key)).reduce((sum, b) => sum + b.weight, 0) / splitTotal;
  return {
    key,
    namespace: key.slice(0, slash),
    name: key.slice(slash + 1),
    sources: [...new Set(instances.map((i) => i.source))].sort(),
    policy: { ...policy },
    failingOverTo: failingOverTo ?? null,
    split: split === undefined ? null : { ...split, backends: split.backends.map((b) => ({ ...b, share: splitTotal > 0 && b.answering ? b.weight / splitTotal : 0 })) },
    instances: instances
      .map((i) => ({
        id: i.id,
        name: dnsNameOf(i),
        source: i.source,
        address: i.address,
        ports: i.ports.map((p) => `${p.name} ${p.port}/${p.protocol}`).join(', '),
        zone: i.zone ?? null,
        state: instanceState(i),
        score: i.probe?.score ?? null,
        lastProbe: i.probe?.lastResult === undefined ? null : `${i.probe.lastResult.ok ? 'ok' : 'failed'}: ${i.probe.lastResult.detail}`,
        weight: i.weight,
        share: total > 0 && answerable.includes(i) ? (ownPart * (policy.loadBalancer === 'random' ? 1 : weightOf(i))) / total : 0,
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}
