import type { Catalog } from '../catalog/catalog.js';
import { instanceState, nameLabelsOf } from '../catalog/types.js';
import type { SoftWeight } from '../answers/soft-weight.js';
import { firstAnswerShares, planAnswers } from '../answers/answer-plan.js';
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
  /** Another cluster's instance: that cluster (null: the local cluster, or a zone file). */
  cluster: string | null;
  state: string;
  score: number | null;
  lastProbe: string | null;
  weight: number;
  /** Share of first answers it gets (0..1), from the answer plan DNS answers from (a client without zone preference). */
  share: number;
}

export interface ServiceView {
  key: string;
  namespace: string;
  name: string;
  sources: string[];
  policy: { loadBalancer: string; failover: readonly string[]; locality: string; answerLimit: number };
  failingOverTo: string | null;
  /** Every instance fails its probes: answered per --all-unhealthy (all of them, or none). */
  panic: boolean;
  /** A traffic split this service is the apex of: each backend with its share of first answers now. */
  split: (Omit<SplitView, 'backends'> & { backends: (SplitView['backends'][number] & { share: number })[] }) | null;
  instances: InstanceView[];
}

/**
 * What the console shows of one service, derived from the catalog (never the store) through the same answer
 * plan DNS answers from (answers/answer-plan.ts): its sources, policy, failover and panic state, and its
 * instances (and split backends) with their share of first answers.
 */
export function serviceView(catalog: Catalog, key: string, soft: SoftWeight, allUnhealthy: 'serve-all' | 'serve-none' = 'serve-all'): ServiceView | undefined {
  const svc = catalog.getByKey(key);
  if (svc === undefined && !catalog.hasPolicy(key) && catalog.splitOf(key) === undefined && !catalog.isDeclared(key)) return undefined;
  const slash = key.indexOf('/');
  const instances = [...(svc?.instances.values() ?? [])];
  const policy = catalog.policyOf(key);
  const plan = planAnswers({ catalog, soft, allUnhealthy }, key);
  const shares = firstAnswerShares(plan);
  const split = splitView(catalog, key);
  // A backend's share: what the plan gives the instances of that backend (and subset).
  const backendShare = (service: string, subset: string | undefined): number => {
    let sum = 0;
    for (const m of plan.members) {
      if (serviceRef(m.service) !== service) continue;
      if (subset !== undefined && !(catalog.splitOf(key)?.backends.find((b) => serviceRef(b.service) === service && b.subset?.name === subset)?.subset?.members.includes(m.instance.id) ?? false)) continue;
      sum += shares.get(m.instance) ?? 0;
    }
    return sum;
  };
  return {
    key,
    namespace: key.slice(0, slash),
    name: key.slice(slash + 1),
    sources: [...new Set(instances.map((i) => i.source))].sort(),
    policy: { ...policy },
    failingOverTo: plan.failoverTo ?? null,
    panic: plan.panic,
    split:
      split === undefined
        ? null
        : { ...split, backends: split.backends.map((b) => ({ ...b, share: plan.state === 'split' ? backendShare(b.service, b.subset?.name) : 0 })) },
    instances: instances
      .map((i) => ({
        id: i.id,
        // Its name below the service: another cluster's is <name>.<cluster>.
        name: nameLabelsOf(i).join('.'),
        source: i.source,
        address: i.address,
        ports: i.ports.map((p) => `${p.name} ${p.port}/${p.protocol}`).join(', '),
        zone: i.zone ?? null,
        cluster: i.cluster ?? null,
        state: instanceState(i),
        score: i.probe?.score ?? null,
        lastProbe: i.probe?.lastResult === undefined ? null : `${i.probe.lastResult.ok ? 'ok' : 'failed'}: ${i.probe.lastResult.detail}`,
        weight: i.weight,
        share: shares.get(i) ?? 0,
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}
