#!/usr/bin/env bash
# npm run fuzz: the fuzz tests, FUZZ_SCALE times wider than in `npm test`, from a fresh seed.
# A failure prints fast-check's shrunk counterexample; FUZZ_SEED=<the seed printed here> replays the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
export FUZZ_SCALE="${FUZZ_SCALE:-10}"
export FUZZ_SEED="${FUZZ_SEED:-$(( (RANDOM << 15) | RANDOM ))}"
echo "fuzzing with FUZZ_SEED=$FUZZ_SEED FUZZ_SCALE=$FUZZ_SCALE"
npm run build --silent
exec node --import tsx --test --test-reporter=spec --test-concurrency=1 test/fuzz/*.test.ts
