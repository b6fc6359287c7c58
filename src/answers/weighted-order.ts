import type { Random } from './random.js';

/**
 * Weighted random order without replacement: the first element is element i
 * with probability w_i / Σw, the next is drawn the same way from the rest,
 * and so on. Implemented as Efraimidis–Spirakis with exponential clocks:
 * each element gets the key -ln(u)/w_i and the keys sort ascending; the
 * smallest of independent exponentials is i with probability w_i / Σw, and
 * memorylessness makes the remaining order the same draw repeated.
 * Elements of weight 0 never reach this function (they are drained).
 */

let keys = new Float64Array(64);

/** Writes a permutation of 0..n-1 into `order` (length ≥ n). */
export function weightedOrder(weights: ArrayLike<number>, order: Int32Array, random: Random): void {
  const n = weights.length;
  if (n === 1) {
    order[0] = 0;
    return;
  }
  if (keys.length < n) keys = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    // 1 - u lies in (0, 1], so the logarithm is finite.
    keys[i] = -Math.log(1 - random()) / weights[i]!;
    // Insertion sort: answer sets are small, and this allocates nothing.
    let j = i - 1;
    const k = keys[i]!;
    while (j >= 0 && keys[order[j]!]! > k) {
      order[j + 1] = order[j]!;
      j--;
    }
    order[j + 1] = i;
  }
}
