import { randomBytes } from 'node:crypto';

/** A source of uniform floats in [0, 1). Seedable so tests can check distributions. */
export type Random = () => number;

/**
 * sfc32 (Chris Doty-Humphrey's small fast counter): tiny state, passes
 * PractRand, far cheaper per call than crypto randomness, which weighted
 * ordering does not need.
 */
export function seededRandom(seed: number): Random {
  // The state lives in a typed array, not in four captured variables: a closure's variables are boxed, and each
  // uint32 stored back in them allocated a heap number, four a call, three calls an answer (measured, 2026-11-29).
  // The arithmetic is modulo 2^32 either way, so the sequence is sfc32's (and the same as before) for every seed.
  const s = new Int32Array([0x9e3779b9, 0x243f6a88, 0xb7e15162, seed >>> 0]);
  const next = (): number => {
    const a = s[0]!;
    const b = s[1]!;
    const c = s[2]!;
    const d = (s[3]! + 1) | 0;
    s[0] = b ^ (b >>> 9);
    s[1] = (c + (c << 3)) | 0;
    s[3] = d;
    const t = (((a + b) | 0) + d) | 0;
    s[2] = (((c << 21) | (c >>> 11)) + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

export function unpredictableRandom(): Random {
  return seededRandom(randomBytes(4).readUInt32LE(0));
}
