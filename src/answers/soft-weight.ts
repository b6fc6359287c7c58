/**
 * Soft weighting of the failover model: effective weight = weight × R(x),
 * R(x) = 1 / (1 + e^(−k(x − θ))), x the health score in [0, 1]. R is
 * normalised by R(1) so a steadily healthy instance keeps exactly its weight.
 */
export interface SoftWeight {
  readonly k: number;
  readonly theta: number;
}

export const DEFAULT_SOFT_WEIGHT: SoftWeight = { k: 10, theta: 0.5 };

export function logistic(x: number, { k, theta }: SoftWeight): number {
  return 1 / (1 + Math.exp(-k * (x - theta)));
}

export function effectiveWeight(weight: number, score: number, soft: SoftWeight): number {
  if (score >= 1) return weight;
  return (weight * logistic(score, soft)) / logistic(1, soft);
}
