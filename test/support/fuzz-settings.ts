/**
 * Fuzz runs are repeatable by default (a fixed seed, so CI is stable) and
 * wider on demand: `npm run fuzz` sets FUZZ_SCALE and a fresh FUZZ_SEED and
 * prints it, so any failure can be replayed with that seed.
 */
export function fuzzRuns(base: number): number {
  return Math.round(base * Number(process.env.FUZZ_SCALE ?? '1'));
}

export function fuzzSeed(): number {
  return Number(process.env.FUZZ_SEED ?? '20261125');
}
