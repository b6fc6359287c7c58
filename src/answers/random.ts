import { randomBytes } from 'node:crypto';

/** A source of uniform floats in [0, 1). Seedable so tests can check distributions. */
export type Random = () => number;

/**
 * sfc32 (Chris Doty-Humphrey's small fast counter): tiny state, passes
 * PractRand, far cheaper per call than crypto randomness, which weighted
 * ordering does not need.
 */
export function seededRandom(seed: number): Random {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

export function unpredictableRandom(): Random {
  return seededRandom(randomBytes(4).readUInt32LE(0));
}
