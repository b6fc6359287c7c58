import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { findTsig, signAnswer, signRequest, TsigError, verifyRequest, type TsigKey } from '../../src/wire/tsig.js';
import { parseTsigKeyFile } from '../../src/config/tsig-key-file.js';
import { dig } from '../support/dig.js';
import { freePort } from '../support/free-port.js';
import { KnotServer } from '../support/knot.js';
import { runCli, startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';
import { within } from '../support/poll.js';
import { buildQuery, frame, tcpExchange, udpExchange } from '../support/dns-client.js';

/**
 * Issue 27: TSIG (RFC 8945) on transfers and NOTIFY, with the key file `tsig-keygen` writes, against real
 * secondaries that sign with it: Knot DNS and BIND 9; dig -y as a client; wrong, missing and stale signatures
 * refused with the RFC's errors.
 */
const dir = mkdtempSync(join(tmpdir(), 'meshdns-tsig-'));
const keyText = execFileSync('tsig-keygen', ['-a', 'hmac-sha256', 'transfer'], { encoding: 'utf8' });
const keyFile = join(dir, 'transfer.key');
writeFileSync(keyFile, keyText);
const key = parseTsigKeyFile(keyText, 'test');
const secret = key.secret.toString('base64');

let s: MeshdnsProcess;
let knot: KnotServer;
let named: ChildProcess;
let knotPort: number;
let namedPort: number;

before(async () => {
  knotPort = await freePort();
  namedPort = await freePort();
  s = await startMeshdns(['--upstream', 'none', '--transfer-allow', '127.0.0.0/8', '--tsig-key-file', keyFile, '--notify', `127.0.0.1:${knotPort}`, '--notify', `127.0.0.1:${namedPort}`]);
  assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'cart', 'a'), { address: '10.98.0.1', ports: [{ name: 'http', port: 8080 }] })).status, 200);
  knot = await KnotServer.secondary('linkerd.local', `127.0.0.1@${s.dnsPort}`, knotPort, 'cart.shop.linkerd.local', { name: 'transfer', algorithm: 'hmac-sha256', secret });
  // BIND 9 as a secondary, signing its requests with the key (the `server` statement) and taking signed NOTIFYs.
  writeFileSync(
    join(dir, 'named.conf'),
    `options { directory "${dir}"; pid-file "${dir}/named.pid"; listen-on port ${namedPort} { 127.0.0.1; }; listen-on-v6 { none; }; recursion no; notify no; dnssec-validation no; };
${keyText}
server 127.0.0.1 { keys { transfer; }; };
zone "linkerd.local" { type secondary; primaries port ${s.dnsPort} { 127.0.0.1 key transfer; }; file "${dir}/linkerd.local.db"; allow-notify { key transfer; }; };
`,
  );
  named = spawn('named', ['-g', '-4', '-c', join(dir, 'named.conf')], { stdio: 'ignore' });
  await within(15_000, async () => (await dig(namedPort, ['+short', 'cart.shop.linkerd.local'])).raw.trim() === '10.98.0.1', 200);
});
after(async () => {
  named?.kill('SIGTERM');
  await knot?.stop();
  await s.stop();
});

test('a secret holding "//" (base64 may) is read whole; comments outside quotes are skipped', () => {
  const secret = 'ab//cdef+gh/ij//kl0123456789ABCD';
  const k = parseTsigKeyFile(`# made by hand\nkey "t" { // the transfer key\n algorithm hmac-sha256; /* a comment */ secret "${secret}"; };\n`, 'f');
  assert.deepEqual(k.secret, Buffer.from(secret, 'base64'));
  // What tsig-keygen writes, many times over: every secret it makes is read back as it is.
  for (let i = 0; i < 200; i++) {
    const text = execFileSync('tsig-keygen', ['-a', 'hmac-sha256', 'k'], { encoding: 'utf8' });
    assert.equal(parseTsigKeyFile(text, 'f').secret.toString('base64'), /secret "([^"]+)"/.exec(text)![1]);
  }
});

test('the key file as tsig-keygen writes it; errors never show the secret', () => {
  assert.equal(key.name, 'transfer.');
  assert.equal(key.algorithm, 'hmac-sha256');
  assert.equal(key.secret.length, 32);
  for (const bad of ['key "k" { algorithm hmac-md5; secret "c2VjcmV0c2VjcmV0c2VjcmV0"; };', 'key "k" { algorithm hmac-sha256; };', 'nothing here', `key "k" { algorithm hmac-sha256; secret "${secret.slice(0, 8)}!!"; };`]) {
    assert.throws(() => parseTsigKeyFile(bad, 'f'), (err: Error) => !err.message.includes(secret.slice(0, 8)));
  }
});

test('sign and verify in-process: a good MAC passes; another key, a changed byte, a stale time fail with the RFC errors', () => {
  const now = Math.floor(Date.now() / 1000);
  const request = signRequest(buildQuery('linkerd.local', { type: 252 }), key, now);
  assert.equal(verifyRequest(request, key, now).ok, true);
  const other: TsigKey = { ...key, secret: createHmac('sha256', 'x').digest() };
  assert.deepEqual(pick(verifyRequest(request, other, now)), { ok: false, error: TsigError.BADSIG });
  assert.deepEqual(pick(verifyRequest(request, { ...key, name: 'other.' }, now)), { ok: false, error: TsigError.BADKEY });
  assert.deepEqual(pick(verifyRequest(request, key, now + 1000)), { ok: false, error: TsigError.BADTIME });
  const tampered = Buffer.from(request);
  tampered[13] = tampered[13]! ^ 0x20;
  assert.equal(verifyRequest(tampered, key, now).ok, false);
  // An answer's messages chain: each is signed over the previous MAC.
  const [first, second] = signAnswer([buildQuery('a.linkerd.local'), buildQuery('b.linkerd.local')], key, findTsig(request)!.mac, now);
  assert.notDeepEqual(findTsig(first!)!.mac, findTsig(second!)!.mac);
});

test('a request signed ten minutes off (a secondary with a wrong clock), over TCP and UDP: NOTAUTH/BADTIME, signed, with the server time', async () => {
  const now = Math.floor(Date.now() / 1000);
  for (const skew of [-600, 600]) {
    const axfr = signRequest(buildQuery('linkerd.local', { type: 252 }), key, now + skew);
    const [overTcp] = await tcpExchange(s.dnsPort, [frame(axfr)], 1);
    const soa = signRequest(buildQuery('linkerd.local', { type: 6 }), key, now + skew);
    const overUdp = (await udpExchange(s.dnsPort, soa, 2000))!;
    for (const reply of [overTcp!, overUdp]) {
      assert.equal(reply[3]! & 0xf, 9, 'NOTAUTH');
      assert.equal(reply.readUInt16BE(6), 0, 'no answer records');
      const tsig = findTsig(reply)!;
      assert.equal(tsig.error, TsigError.BADTIME);
      // RFC 8945 §5.2.3: signed (a MAC of the algorithm's size), the server's time in Other Data for the client to see.
      assert.equal(tsig.mac.length, 32);
      assert.equal(tsig.otherData.length, 6);
      assert.ok(Math.abs(tsig.otherData.readUIntBE(0, 6) - now) <= 5);
    }
  }
});

function pick(v: ReturnType<typeof verifyRequest>): { ok: boolean; error?: number } {
  return v.ok ? { ok: true } : { ok: false, error: v.error };
}

function digRaw(args: string[]): Promise<string> {
  return new Promise((resolve) => execFile('dig', ['@127.0.0.1', '-p', String(s.dnsPort), '+time=2', '+tries=1', ...args], (_err, stdout) => resolve(stdout)));
}

test('Knot and BIND transfer with the key and follow a registration, a drain and a deregistration within 2 s by signed NOTIFY; dig -y transfers; unsigned or wrongly signed requests are refused', async () => {
  assert.equal((await dig(knot.port, ['+short', 'cart.shop.linkerd.local'])).raw.trim(), '10.98.0.1');
  assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'cart', 'b'), { address: '10.98.0.2', ports: [{ name: 'http', port: 8080 }] })).status, 200);
  const both = async (port: number): Promise<boolean> => (await dig(port, ['+short', 'cart.shop.linkerd.local'])).raw.trim().split('\n').sort().join(',') === '10.98.0.1,10.98.0.2';
  await within(2_000, async () => (await both(knot.port)) && (await both(namedPort)), 50);
  // A drain and a deregistration reach both within 2 s too.
  assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'cart', 'b'), { address: '10.98.0.2', weight: 0, ports: [{ name: 'http', port: 8080 }] })).status, 200);
  const only = async (port: number): Promise<boolean> => (await dig(port, ['+short', 'cart.shop.linkerd.local'])).raw.trim() === '10.98.0.1';
  await within(2_000, async () => (await only(knot.port)) && (await only(namedPort)), 50);
  assert.equal((await api(s.httpPort, 'DELETE', instancePath('shop', 'cart', 'b'))).status, 204);
  const gone = async (port: number): Promise<boolean> => (await dig(port, ['b.cart.shop.linkerd.local'])).status === 'NXDOMAIN';
  await within(2_000, async () => (await gone(knot.port)) && (await gone(namedPort)), 50);
  const signed = await digRaw(['-y', `hmac-sha256:transfer:${secret}`, 'linkerd.local', 'AXFR']);
  assert.match(signed, /cart\.shop\.linkerd\.local\.\s+\d+\s+IN\s+A\s+10\.98\.0\.1/);
  assert.doesNotMatch(signed, /failed|tsig verify failure/i);
  assert.match(await digRaw(['linkerd.local', 'AXFR']), /Transfer failed/);
  // Any signed request is answered signed (a secondary's SOA check is one); dig verifies the answer's MAC.
  const soa = await digRaw(['-y', `hmac-sha256:transfer:${secret}`, 'linkerd.local', 'SOA']);
  assert.match(soa, /status: NOERROR/);
  assert.match(soa, /TSIG\s+hmac-sha256\.\s+\d+\s+300\s+32\s+\S+\s+\d+\s+NOERROR/);
  assert.doesNotMatch(soa, /failure|expected a TSIG/i);
  const wrong = createHmac('sha256', 'wrong').digest().toString('base64');
  assert.match(await digRaw(['-y', `hmac-sha256:transfer:${wrong}`, 'linkerd.local', 'AXFR']), /Transfer failed|BADSIG|tsig/i);
});

test('a probe failure leaves both secondaries within 2 s (signed NOTIFY, signed IXFR)', async () => {
  const { createServer } = await import('node:http');
  let healthy = true;
  const health = createServer((_req, res) => {
    res.statusCode = healthy ? 200 : 503;
    res.end();
  });
  await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
  const port = (health.address() as { port: number }).port;
  try {
    const check = { http: `http://127.0.0.1:${port}/healthz`, interval: '200ms', timeout: '150ms', healthyThreshold: 1, unhealthyThreshold: 1 };
    assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'probed', 'p1'), { address: '10.98.1.1', ports: [], check })).status, 200);
    assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'probed', 'p2'), { address: '10.98.1.2', ports: [] })).status, 200);
    const answers = async (port: number): Promise<string> => (await dig(port, ['+short', 'probed.shop.linkerd.local'])).raw.trim().split('\n').sort().join(',');
    await within(10_000, async () => (await answers(knot.port)) === '10.98.1.1,10.98.1.2' && (await answers(namedPort)) === '10.98.1.1,10.98.1.2', 100);
    healthy = false;
    const failed = Date.now();
    await within(2_000, async () => (await answers(knot.port)) === '10.98.1.2' && (await answers(namedPort)) === '10.98.1.2', 50);
    assert.ok(Date.now() - failed <= 2_000);
  } finally {
    health.close();
  }
});

test('a key file that is broken stops the start with one line that names the flag', async () => {
  const broken = join(dir, 'broken.key');
  writeFileSync(broken, `key "transfer" { algorithm hmac-md5; secret "${secret}"; };`);
  const r = await runCli(['serve', '--dns', '127.0.0.1:0', '--http', '127.0.0.1:0', '--upstream', 'none', '--data-dir', mkdtempSync(join(tmpdir(), 'd-')), '--tsig-key-file', broken]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--tsig-key-file .*hmac-sha256, hmac-sha384 or hmac-sha512/);
  assert.ok(!r.stderr.includes(secret));
});
