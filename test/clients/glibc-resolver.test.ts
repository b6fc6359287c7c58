import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/meshdns-process.js';
import { runInNamespace, waitForDns } from '../support/netns.js';

test("glibc's resolver, configured as a pod's resolv.conf, resolves short names through the search list", async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'meshdns-glibc-'));
  // What deploy/pod-dnsconfig.yaml gives a pod: meshdns on port 53, the mesh namespaces to search.
  writeFileSync(join(tmp, 'resolv.conf'), 'nameserver 127.0.0.153\nsearch default.linkerd.local linkerd.local\noptions ndots:2 timeout:1 attempts:2\n');
  const r = await runInNamespace(`
mount --bind ${tmp}/resolv.conf /etc/resolv.conf
cd ${repoRoot}
node dist/cli.js serve --shutdown-lameduck 0s --dns 127.0.0.153:53 --http 127.0.0.1:8053 --upstream none --data-dir ${tmp}/data > ${tmp}/server.log 2>&1 &
pid=$!
${waitForDns(53, '127.0.0.153')}
echo "--- web"; getent hosts web | sort
echo "--- web-1.web"; getent hosts web-1.web
echo "--- api aaaa"; getent ahosts api | grep STREAM | sort
echo "--- missing"; getent hosts missing || echo "not found: $?"
kill -TERM $pid; wait $pid
`);
  assert.equal(r.code, 0, r.stderr);
  const section = (name: string): string => r.stdout.split(`--- ${name}\n`)[1]!.split('---')[0]!;
  assert.match(section('web'), /^10\.0\.0\.1[12]\s+web\.default\.linkerd\.local$/m);
  assert.match(section('web-1.web'), /^10\.0\.0\.11\s+web-1\.web\.default\.linkerd\.local$/m);
  assert.match(section('api aaaa'), /^fd00::1:21\s+STREAM api\.default\.linkerd\.local$/m);
  assert.match(section('api aaaa'), /^10\.0\.1\.21\s+STREAM/m);
  assert.match(section('missing'), /not found: 2/);
});
