import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../support/meshdns-process.js';
import { runInNamespace, waitForDns } from '../support/netns.js';

/** The resolv.conf the kubelet writes for deploy/pod-dnsconfig.yaml, with meshdns at 127.0.0.153. */
function podResolvConf(): string {
  const pod = parse(readFileSync(join(repoRoot, 'deploy', 'pod-dnsconfig.yaml'), 'utf8')) as {
    spec: { dnsConfig: { searches: string[]; options: { name: string; value: string }[] } };
  };
  const { searches, options } = pod.spec.dnsConfig;
  return `nameserver 127.0.0.153\nsearch ${searches.join(' ')}\noptions ${options.map((o) => `${o.name}:${o.value}`).join(' ')} timeout:1 attempts:2\n`;
}

test("glibc's resolver with the pod dnsConfig example resolves mesh short names, and cluster names through meshdns's upstream", async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'meshdns-glibc-'));
  writeFileSync(join(tmp, 'resolv.conf'), podResolvConf());
  // The cluster DNS stand-in: another meshdns authoritative for cluster.local.
  mkdirSync(join(tmp, 'cluster-zones'));
  writeFileSync(join(tmp, 'cluster-zones', 'cluster.local.zone'), '$ORIGIN cluster.local.\n$TTL 5\n@ SOA ns hostmaster 1 7200 1800 86400 5\n@ NS ns\nns A 127.0.0.154\nkubernetes.default.svc A 10.96.0.1\n');
  const r = await runInNamespace(`
mount --bind ${tmp}/resolv.conf /etc/resolv.conf
cd ${repoRoot}
node dist/cli.js serve --shutdown-lameduck 0s --domain cluster.local --zones ${tmp}/cluster-zones --dns 127.0.0.154:53 --http 127.0.0.1:8054 --upstream none --data-dir ${tmp}/data2 > ${tmp}/cluster.log 2>&1 &
cpid=$!
node dist/cli.js serve --shutdown-lameduck 0s --dns 127.0.0.153:53 --http 127.0.0.1:8053 --upstream 127.0.0.154:53 --data-dir ${tmp}/data > ${tmp}/server.log 2>&1 &
pid=$!
${waitForDns(53, '127.0.0.153')}
echo "--- web"; getent hosts web | sort
echo "--- web-1.web"; getent hosts web-1.web
echo "--- api aaaa"; getent ahosts api | grep STREAM | sort
echo "--- kubernetes.default"; getent hosts kubernetes.default
echo "--- missing"; getent hosts missing || echo "not found: $?"
kill -TERM $pid $cpid; wait $pid
`);
  assert.equal(r.code, 0, r.stderr);
  const section = (name: string): string => r.stdout.split(`--- ${name}\n`)[1]!.split('---')[0]!;
  assert.match(section('web'), /^10\.0\.0\.1[12]\s+web\.default\.linkerd\.local$/m);
  assert.match(section('web-1.web'), /^10\.0\.0\.11\s+web-1\.web\.default\.linkerd\.local$/m);
  assert.match(section('api aaaa'), /^fd00::1:21\s+STREAM api\.default\.linkerd\.local$/m);
  assert.match(section('api aaaa'), /^10\.0\.1\.21\s+STREAM/m);
  assert.match(section('kubernetes.default'), /^10\.96\.0\.1\s+kubernetes\.default\.svc\.cluster\.local$/m);
  assert.match(section('missing'), /not found: 2/);
});
