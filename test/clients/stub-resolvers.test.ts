import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/meshdns-process.js';
import { runCommand } from '../support/run-command.js';
import { runInNamespace, waitForDns } from '../support/netns.js';
import { shippedZone } from '../support/temp-zones.js';

/**
 * Real stub resolvers as pods have them: a static getaddrinfo program built
 * with musl (Alpine's libc: no EDNS, never retries over TCP before 1.2.4) and
 * one built with glibc (retries over TCP on TC), each run in a mount
 * namespace whose /etc/resolv.conf is a pod's, pointing at meshdns.
 */
const BIG = 60;
let tmp: string;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'meshdns-stubs-'));
  const source = join(repoRoot, 'test', 'clients', 'getaddrinfo.c');
  for (const [cc, out, flags] of [['musl-gcc', 'gai-musl', ['-static']], ['gcc', 'gai-glibc', []]] as const) {
    const r = await runCommand(cc, [...flags, '-O2', '-o', join(tmp, out), source], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${cc}: ${r.stderr}`);
  }
  const big = Array.from({ length: BIG }, (_, i) => `big.default IN A 10.9.${i >> 8}.${(i & 255) + 1}`).join('\n');
  writeFileSync(join(tmp, 'linkerd.local.zone'), `${shippedZone}\n${big}\n`);
  // A pod's resolv.conf: the namespace's search domains first, ndots:5 as Kubernetes sets it.
  writeFileSync(join(tmp, 'resolv.conf'), 'nameserver 127.0.0.153\nsearch default.linkerd.local linkerd.local\noptions ndots:5 timeout:1 attempts:2\n');
});

async function resolveAll(names: readonly string[]): Promise<Map<string, string[]>> {
  const script = `
mount --bind ${tmp}/resolv.conf /etc/resolv.conf
cd ${repoRoot}
node dist/cli.js serve --shutdown-lameduck 0s --dns 127.0.0.153:53 --http 127.0.0.1:8053 --upstream none --zones ${tmp} --data-dir ${tmp}/data > ${tmp}/server.log 2>&1 &
pid=$!
${waitForDns(53, '127.0.0.153')}
${names.flatMap((n) => ['musl', 'glibc'].map((libc) => `echo "--- ${libc} ${n}"; ${tmp}/gai-${libc} ${n} || true`)).join('\n')}
kill -TERM $pid; wait $pid
`;
  const r = await runInNamespace(script, 60_000);
  assert.equal(r.code, 0, r.stderr);
  const out = new Map<string, string[]>();
  for (const block of r.stdout.split('--- ').slice(1)) {
    const [head, ...lines] = block.trim().split('\n');
    out.set(head!, lines);
  }
  return out;
}

test(`musl and glibc resolve short and full names of a 2-instance and a ${BIG}-instance service`, async () => {
  const got = await resolveAll(['web', 'web.default.linkerd.local', 'big', 'big.default.linkerd.local', 'api']);
  for (const libc of ['musl', 'glibc']) {
    for (const name of ['web', 'web.default.linkerd.local']) assert.deepEqual(got.get(`${libc} ${name}`)!.sort(), ['10.0.0.11', '10.0.0.12'], `${libc} ${name}`);
    assert.ok(got.get(`${libc} api`)!.includes('fd00::1:21'), `${libc} api: ${got.get(`${libc} api`)}`);
  }
  // glibc retries the truncated UDP answer over TCP: every instance.
  for (const name of ['big', 'big.default.linkerd.local']) assert.equal(new Set(got.get(`glibc ${name}`)).size, BIG, `glibc ${name}`);
  // musl never does: it gets the records that fit in 512 octets, a usable share in weighted order, not an error.
  for (const name of ['big', 'big.default.linkerd.local']) {
    const addresses = got.get(`musl ${name}`)!;
    assert.ok(!addresses[0]!.startsWith('error'), `musl ${name}: ${addresses.join(' ')}`);
    assert.ok(addresses.length >= 10 && addresses.length < BIG, `musl ${name}: ${addresses.length} addresses`);
    assert.ok(addresses.every((a) => a.startsWith('10.9.')));
  }
});
