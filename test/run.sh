#!/usr/bin/env bash
# The test command (README): installs what the tests need, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v dig >/dev/null 2>&1 || missing+=(bind9-dnsutils)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "the tests need: ${missing[*]} (apt-get install -y ${missing[*]}, as root)" >&2
    exit 1
  fi
fi

[ -d node_modules ] || npm ci
npm run build
# Test files mirror src/; e2e tests start the built server (dist/cli.js) on free ports.
mapfile -t files < <(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-reporter=spec "${files[@]}"
