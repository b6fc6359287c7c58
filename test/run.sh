#!/usr/bin/env bash
# The test command (README): installs what the tests need, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v dig >/dev/null 2>&1 || missing+=(bind9-dnsutils)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v named >/dev/null 2>&1 || missing+=(bind9)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
# Real clients: musl's and glibc's stub resolvers (a static program built with musl-gcc), Unbound as a cache.
command -v musl-gcc >/dev/null 2>&1 || missing+=(musl-tools)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v unbound >/dev/null 2>&1 || missing+=(unbound)
# The console in a real browser (driven by playwright-core from npm).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# Knot DNS as the reference server (wildcards, transfers) and Prometheus (promtool for the alerts, the server for the dashboard).
command -v knotd >/dev/null 2>&1 || missing+=(knot)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    # bind9's package starts its own named on port 53; the tests run their own.
    if command -v systemctl >/dev/null 2>&1; then systemctl stop named bind9 etcd unbound knot prometheus prometheus-node-exporter >/dev/null 2>&1 || true; fi
    # Without systemd the packages' daemons may still have been started by their scripts: the tests run their own.
    pkill -x prometheus >/dev/null 2>&1 || true
    pkill -f prometheus-node-exporter >/dev/null 2>&1 || true
    pkill -x knotd >/dev/null 2>&1 || true
  else
    echo "the tests need: ${missing[*]} (apt-get install -y ${missing[*]}, as root)" >&2
    exit 1
  fi
fi

[ -d node_modules ] || npx -y -p node@24 -- npm ci
# npm puts node_modules/.bin first on PATH: `node` is the pinned Node 24 (the "node" package), whatever the system has.
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 24 ]; then
  echo "meshdns needs Node.js 24 or newer; this is $(node --version). The \"node\" package did not install (npm ci --include=optional), or install Node 24." >&2
  exit 1
fi
# The Kubernetes client bundled as the image builds it (MESHDNS_BUNDLE=required): the e2e tests run that build.
MESHDNS_BUNDLE=required npm run build
# The tests are TypeScript too: type-checked strictly like src/ (tsx, which runs them, does not check types).
npx tsc -p tsconfig.test.json
# Test files mirror src/; e2e tests start the built server (dist/cli.js) on free ports.
mapfile -t files < <(find test -name '*.test.ts' | sort)
# A test that hangs fails after five minutes, and a process a failed test left behind cannot keep the run from
# ending (CI stops at 90 minutes and then reports nothing of what passed).
exec node --import tsx --test --test-force-exit --test-timeout=300000 --test-reporter=spec "${files[@]}"
