import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { fuzzRuns, fuzzSeed } from '../support/fuzz-settings.js';
import { startMeshdns } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';
import { ipv4Rdata, ipv6Rdata } from '../../src/wire/rdata.js';

/**
 * The robustness property: a write is either a 4xx with nothing stored, or
 * stored and answered, and still answered after kill -9 and a restart. The
 * zone name is long (65 octets) so that long names reach the 255-octet limit.
 */
const DOMAIN = `${'z'.repeat(50)}.mesh.example`;

const label = (max: number): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom('a', 'web', 'x-1', 'a'.repeat(max)),
    fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/).filter((s) => s.length <= max),
  );
const address = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('0.0.0.0', '::', '::ffff:10.1.1.1', 'fe80::1%eth0', '224.1.1.1', '10.0.0.1', 'fd00::1'));
const portName = fc.oneof(fc.constantFrom('http', 'grpc', 'h2c', '8080', 'a--b', 'p'.repeat(15), 'p'.repeat(16), 'p'.repeat(63)), label(20));
const write = fc.record({
  ns: label(63),
  svc: label(63),
  id: label(63),
  body: fc.record(
    {
      address,
      ports: fc.uniqueArray(fc.record({ name: portName, port: fc.integer({ min: 1, max: 65535 }), protocol: fc.constantFrom('tcp', 'udp') }), { maxLength: 3, selector: (p) => `${p.name}/${p.protocol}` }),
      weight: fc.integer({ min: 0, max: 65535 }),
      zone: fc.constantFrom('eu-west-1a', 'z'),
    },
    { requiredKeys: ['address', 'ports'] },
  ),
});

/** One spelling per address (fd00:0::1 and fd00::1 are one address). */
function canonical(address: string): string {
  return (address.includes(':') ? ipv6Rdata(address) : ipv4Rdata(address)).toString('hex');
}

interface Accepted {
  address: string;
  ports: { name: string; protocol: string }[];
  weight: number;
}

async function query(port: number, name: string, type: number): Promise<ReturnType<typeof decode>> {
  const reply = await udpExchange(port, buildQuery(name, { type, edns: { udpSize: 4096 } }), 2000);
  assert.ok(reply !== null, `no answer for ${name}`);
  return decode(reply);
}

test(`${fuzzRuns(300)} fuzzed writes: every accepted one is answered, and still after kill -9 and a restart`, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshdns-accepted-'));
  const args = ['--upstream', 'none', '--domain', DOMAIN, '--data-dir', dataDir, '--zones', mkdtempSync(join(tmpdir(), 'meshdns-nozones-'))];
  const first = await startMeshdns(args);
  const accepted = new Map<string, Accepted>();
  let rejected = 0;
  try {
    await fc.assert(
      fc.asyncProperty(write, async ({ ns, svc, id, body }) => {
        const r = await api(first.httpPort, 'PUT', instancePath(ns, svc, id), body);
        assert.ok(r.status === 200 || r.status === 400, `status ${r.status}: ${JSON.stringify(r.body)}`);
        if (r.status === 400) {
          rejected++;
          return;
        }
        accepted.set(`${ns}/${svc}/${id}`, { address: r.body.address, ports: body.ports, weight: body.weight ?? 100 });
      }),
      { numRuns: fuzzRuns(300), seed: fuzzSeed() },
    );
  } finally {
    first.proc.kill('SIGKILL');
    await first.stop();
  }
  assert.ok(accepted.size > 20 && rejected > 20, `accepted ${accepted.size}, rejected ${rejected}: the generator misses one side`);

  const again = await startMeshdns(args);
  try {
    assert.equal((await api(again.httpPort, 'GET', '/readyz')).body.notes, undefined);
    for (const [key, a] of accepted) {
      const [ns, svc, id] = key.split('/') as [string, string, string];
      const type = a.address.includes(':') ? 28 : 1;
      const own = await query(again.dnsPort, `${id}.${svc}.${ns}.${DOMAIN}`, type);
      assert.equal(own.header.rcode, 0, key);
      assert.deepEqual(own.answers.map((r) => canonical(r.address!)), [canonical(a.address)], `${key}: its own name`);
      const service = await query(again.dnsPort, `${svc}.${ns}.${DOMAIN}`, type);
      assert.equal(service.header.rcode, 0, key);
      if (a.weight > 0) assert.ok(service.answers.some((r) => canonical(r.address!) === canonical(a.address)), `${key}: in its service's answer`);
      for (const p of a.ports) {
        const srv = await query(again.dnsPort, `_${p.name}._${p.protocol}.${svc}.${ns}.${DOMAIN}`, 33);
        assert.equal(srv.header.rcode, 0, `${key}: SRV ${p.name}`);
        if (a.weight > 0) assert.ok(srv.answers.some((r) => r.target === `${id}.${svc}.${ns}.${DOMAIN}`), `${key}: SRV ${p.name} names it`);
      }
    }
  } finally {
    await again.stop();
  }
});
