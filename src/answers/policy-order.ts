import type { Random } from './random.js';

/**
 * The per-query orders of the non-default load balancers (weightedOrder is
 * the default's). Both write a permutation of 0..n-1 into `order` and
 * allocate nothing.
 */

/** Uniform random order (Fisher–Yates): weights are ignored. */
export function uniformOrder(n: number, order: Int32Array, random: Random): void {
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
}

/**
 * Smooth weighted round robin (nginx's): each call adds every weight to its
 * current value, takes the largest first and lowers it by Σw. Over any Σw
 * consecutive calls, element i comes first exactly w_i times (whole weights),
 * spread out rather than in runs. The rest follow in rotation after the first,
 * so the second choice moves too.
 */
export function roundRobinOrder(weights: ArrayLike<number>, current: Float64Array, order: Int32Array): void {
  const n = weights.length;
  let total = 0;
  let best = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    total += w;
    current[i] = current[i]! + w;
    if (current[i]! > current[best]!) best = i;
  }
  current[best] = current[best]! - total;
  rotationFrom(best, n, order);
}

/**
 * The order round robin's next turn would give, without taking the turn: for a group that is not first in
 * this answer (its turn is taken when it is).
 */
export function roundRobinPeek(weights: ArrayLike<number>, current: Float64Array, order: Int32Array): void {
  const n = weights.length;
  let best = 0;
  for (let i = 1; i < n; i++) if (current[i]! + weights[i]! > current[best]! + weights[best]!) best = i;
  rotationFrom(best, n, order);
}

/** An instance's zone for locality: its own, or the zones an EndpointSlice hint assigns it to. */
export type MemberZone = string | readonly string[] | undefined;

function inZone(z: MemberZone, zone: string): boolean {
  return z === zone || (typeof z === 'object' && z.includes(zone));
}

/**
 * Smooth weighted round robin among the members in `zone` only, on that zone's own state (`current`): the
 * clients of one zone get an exact window of their own (over any Σw of the in-zone weights consecutive
 * answers to them, in-zone member i comes first w_i times), whatever clients of other zones ask in between.
 * The order is the in-zone members in rotation from the chosen one, then the others in rotation. Returns
 * false (and leaves everything alone) when no member is in the zone.
 */
export function roundRobinInZone(weights: ArrayLike<number>, current: Float64Array, order: Int32Array, zones: readonly MemberZone[], zone: string, scratch: Int32Array): boolean {
  const n = weights.length;
  let total = 0;
  let best = -1;
  for (let i = 0; i < n; i++) {
    if (!inZone(zones[i], zone)) continue;
    const w = weights[i]!;
    total += w;
    current[i] = current[i]! + w;
    if (best < 0 || current[i]! > current[best]!) best = i;
  }
  if (best < 0) return false;
  current[best] = current[best]! - total;
  rotationFrom(best, n, order);
  zoneFirst(order, n, zones, zone, scratch);
  return true;
}

/** The order of round robin's turn that chose `first`: every element in rotation from it. */
export function rotationFrom(first: number, n: number, order: Int32Array): void {
  for (let k = 0; k < n; k++) order[k] = (first + k) % n;
}

/**
 * Moves the elements whose zone is `zone` (or whose hinted zones hold it) to
 * the front, keeping the order within both groups (locality prefer-zone).
 * Nothing moves when none matches.
 */
export function zoneFirst(order: Int32Array, n: number, zones: readonly MemberZone[], zone: string, scratch: Int32Array): void {
  let front = 0;
  let back = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    if (inZone(zones[i], zone)) order[front++] = i;
    else scratch[back++] = i;
  }
  for (let k = 0; k < back; k++) order[front + k] = scratch[k]!;
}
