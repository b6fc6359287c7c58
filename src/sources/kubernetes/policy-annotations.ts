import { CLUSTER_CHOICES, isBackupRef, type ClusterChoice, type LoadBalancer, type Locality, type TrafficPolicy } from '../../catalog/policy.js';

/** Service annotations that set the fields of a traffic policy (docs/traffic-policy.md). */
export const LOAD_BALANCER_ANNOTATION = 'meshdns.io/load-balancer';
export const FAILOVER_ANNOTATION = 'meshdns.io/failover';
export const LOCALITY_ANNOTATION = 'meshdns.io/locality';
export const ANSWER_LIMIT_ANNOTATION = 'meshdns.io/answer-limit';
export const CLUSTERS_ANNOTATION = 'meshdns.io/clusters';

/** What a Service's annotations say of its policy: the fields given and well formed, and why any others were not. */
export interface AnnotatedPolicy {
  readonly fields: Partial<TrafficPolicy>;
  readonly problems: readonly string[];
}

/** Reads the policy annotations; undefined when the Service has none. A bad one is reported and left out, the others apply. */
export function parsePolicyAnnotations(annotations: Record<string, string> | undefined, namespace: string, name: string): AnnotatedPolicy | undefined {
  if (annotations === undefined) return undefined;
  const fields: { -readonly [K in keyof TrafficPolicy]?: TrafficPolicy[K] } = {};
  const problems: string[] = [];
  let any = false;
  const lb = annotations[LOAD_BALANCER_ANNOTATION]?.trim();
  if (lb !== undefined) {
    any = true;
    if (lb === 'weighted' || lb === 'round-robin' || lb === 'random') fields.loadBalancer = lb as LoadBalancer;
    else problems.push(`${LOAD_BALANCER_ANNOTATION} "${lb}": expected weighted, round-robin or random`);
  }
  const failover = annotations[FAILOVER_ANNOTATION];
  if (failover !== undefined) {
    any = true;
    const refs = failover.split(',').map((r) => r.trim()).filter((r) => r !== '');
    const badRef = refs.find((r) => !isBackupRef(r, namespace, name));
    if (badRef !== undefined) problems.push(`${FAILOVER_ANNOTATION} "${failover}": "${badRef}" is not another service as <svc>.<ns>`);
    else fields.failover = [...new Set(refs)];
  }
  const locality = annotations[LOCALITY_ANNOTATION]?.trim();
  if (locality !== undefined) {
    any = true;
    if (locality === 'off' || locality === 'prefer-zone') fields.locality = locality as Locality;
    else problems.push(`${LOCALITY_ANNOTATION} "${locality}": expected off or prefer-zone`);
  }
  const limit = annotations[ANSWER_LIMIT_ANNOTATION]?.trim();
  if (limit !== undefined) {
    any = true;
    if (/^\d{1,5}$/.test(limit) && Number(limit) <= 65535) fields.answerLimit = Number(limit);
    else problems.push(`${ANSWER_LIMIT_ANNOTATION} "${limit}": expected a whole number 0 to 65535`);
  }
  const clusters = annotations[CLUSTERS_ANNOTATION]?.trim();
  if (clusters !== undefined) {
    any = true;
    if ((CLUSTER_CHOICES as readonly string[]).includes(clusters)) fields.clusters = clusters as ClusterChoice;
    else problems.push(`${CLUSTERS_ANNOTATION} "${clusters}": expected prefer-local, all or local-only`);
  }
  return any ? { fields, problems } : undefined;
}
