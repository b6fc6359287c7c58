import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/meshdns-process.js';
import { runInNamespace, waitForDns } from '../support/netns.js';
import { shippedZone } from '../support/temp-zones.js';

/**
 * Unbound (Debian's) as the caching resolver in front of meshdns, with a
 * stub-zone for the mesh domain, configured as the README's Clients section
 * recommends: `stub-no-cache: yes` in Unbound and `--answer-limit 1` in
 * meshdns, so each answer is one weighted pick that neither a cache nor
 * Unbound's rrset-roundrobin can undo.
 */
const N = 2000;

function unboundConf(dir: string, noCache: boolean): string {
  return `server:
  interface: 127.0.0.54
  port: 53
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "${dir}"
  pidfile: ""
  use-syslog: no
  logfile: "${dir}/unbound.log"
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "iterator"
  domain-insecure: "linkerd.local"
stub-zone:
  name: "linkerd.local"
  stub-addr: 127.0.0.153@53
  stub-no-cache: ${noCache ? 'yes' : 'no'}
`;
}

async function throughUnbound(meshdnsArgs: string, noCache: boolean, queries: string): Promise<string> {
  const tmp = mkdtempSync(join(tmpdir(), 'meshdns-unbound-'));
  const big = Array.from({ length: 60 }, (_, i) => `big.default IN A 10.9.0.${i + 1}`).join('\n');
  writeFileSync(join(tmp, 'linkerd.local.zone'), `${shippedZone}\n${big}\n`);
  writeFileSync(join(tmp, 'unbound.conf'), unboundConf(tmp, noCache));
  const r = await runInNamespace(
    `
cd ${repoRoot}
node dist/cli.js serve --shutdown-lameduck 0s --dns 127.0.0.153:53 --http 127.0.0.1:8053 --upstream none --zones ${tmp} --data-dir ${tmp}/data ${meshdnsArgs} > ${tmp}/server.log 2>&1 &
pid=$!
${waitForDns(53, '127.0.0.153')}
unbound -c ${tmp}/unbound.conf > ${tmp}/unbound.out 2>&1 &
upid=$!
for i in $(seq 100); do dig @127.0.0.54 +time=1 +tries=1 +short linkerd.local SOA >/dev/null 2>&1 && break; sleep 0.1; done
${queries}
kill -TERM $upid $pid; wait $pid
`,
    120_000,
  );
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

const dig = (args: string): string => `echo "--- ${args}"; dig @127.0.0.54 +time=2 +tries=1 ${args} | grep -E "status:|IN\\s+(A|SRV|SOA)\\s" || true`;

test('through Unbound: A, SRV, NXDOMAIN, NODATA, and a 60-instance service complete (Unbound retries over TCP)', async () => {
  const out = await throughUnbound('', false, [dig('web.default.linkerd.local'), dig('_http._tcp.web.default.linkerd.local SRV'), dig('missing.default.linkerd.local'), dig('web.default.linkerd.local MX'), dig('big.default.linkerd.local')].join('\n'));
  const section = (name: string): string => out.split(`--- ${name}\n`)[1]!.split('---')[0]!;
  assert.match(section('web.default.linkerd.local'), /status: NOERROR/);
  assert.equal(section('web.default.linkerd.local').match(/\sA\s+10\.0\.0\.1[12]/g)?.length, 2);
  assert.equal(section('_http._tcp.web.default.linkerd.local SRV').match(/SRV\s+0 (70|30) 8080 web-[12]/g)?.length, 2);
  assert.match(section('missing.default.linkerd.local'), /status: NXDOMAIN/);
  assert.match(section('web.default.linkerd.local MX'), /status: NOERROR/);
  assert.match(section('web.default.linkerd.local MX'), /SOA/);
  assert.equal(section('big.default.linkerd.local').match(/\sA\s+10\.9\.0\./g)?.length, 60);
});

test(`through Unbound as recommended (stub-no-cache, --answer-limit 1): first answers follow 70/30 within 5 points over ${N} queries`, async () => {
  const out = await throughUnbound('--answer-limit 1', true, `node --import tsx test/clients/first-answers.ts 127.0.0.54 53 web.default.linkerd.local ${N}`);
  const counts = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
  const share = (counts['10.0.0.11'] ?? 0) / N;
  assert.ok(Math.abs(share - 0.7) <= 0.05, `web-1 got ${(share * 100).toFixed(1)}% of first answers: ${JSON.stringify(counts)}`);
});
