import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startMeshdns } from '../../support/meshdns-process.js';
import { api, instancePath } from '../../support/rest-client.js';
import { within } from '../../support/poll.js';

/** Issue 22, cases 1, 2 and 6–9 and the low ones about access: every configuration fails closed, no secret in a log. */
const dir = mkdtempSync(join(tmpdir(), 'meshdns-closed-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const body = { address: '10.61.0.1', ports: [] };
const SECRET = 'Sup3rSecretTokenValue-7f3a9c';

async function refusedAtStart(args: string[]): Promise<{ code: number | null; out: string }> {
  const r = await runCli(['serve', '--dns', '127.0.0.1:0', '--http', '127.0.0.1:0', '--upstream', 'none', '--data-dir', mkdtempSync(join(tmpdir(), 'meshdns-data-')), ...args]);
  return { code: r.code, out: r.stdout + r.stderr };
}

test('1: a tokens file that lists nobody, or read auth without tokens, refuses to start with one line', async () => {
  const empty = file('empty.yaml', '[]\n');
  for (const args of [['--api-tokens', empty], ['--api-tokens', empty, '--api-read-auth', 'on'], ['--api-read-auth', 'on']]) {
    const r = await refusedAtStart(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}`);
    const lines = r.out.trim().split('\n');
    assert.equal(lines.length, 1, r.out);
    assert.match(lines[0]!, /open to anyone/);
  }
});

test('1: SIGHUP with the tokens file emptied is refused: the old tokens stay, reads and writes stay closed, an error and a metric say so', async () => {
  const tokens = file('hup.yaml', `- {name: ci, token: "${SECRET}", write: ["*"]}\n`);
  const s = await startMeshdns(['--upstream', 'none', '--api-tokens', tokens, '--api-read-auth', 'on']);
  try {
    for (const emptied of ['[]\n', '']) {
      writeFileSync(tokens, emptied);
      s.proc.kill('SIGHUP');
      await within(3000, async () => /meshdns_access_reloads_total\{result="error"\} [1-9]/.test((await api(s.httpPort, 'GET', '/metrics')).body as string));
      assert.equal((await api(s.httpPort, 'GET', '/v1/services')).status, 401);
      assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'x', 'a'), body)).status, 401);
      assert.equal((await api(s.httpPort, 'GET', '/ui/api/services')).status, 401);
      assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'x', 'a'), body, { authorization: `Bearer ${SECRET}` })).status, 200);
    }
    await s.waitForLog(/"level":"error".*could not re-read the API tokens/);
  } finally {
    await s.stop();
  }
});

test('2: a YAML syntax error in the tokens file says where, never what: at start on stderr, on SIGHUP in the log', async () => {
  const broken = `- {name: ci, token: "${SECRET}", write: ["*"]}\n- {name: x, token: "${SECRET}2\n`;
  const r = await refusedAtStart(['--api-tokens', file('broken.yaml', broken)]);
  assert.equal(r.code, 2);
  assert.match(r.out, /line \d+, column \d+/);
  assert.ok(!r.out.includes('Sup3rSecret'), r.out);
  const tokens = file('broken-hup.yaml', `- {name: ci, token: "${SECRET}", write: ["*"]}\n`);
  const s = await startMeshdns(['--upstream', 'none', '--api-tokens', tokens]);
  try {
    writeFileSync(tokens, broken);
    s.proc.kill('SIGHUP');
    await s.waitForLog(/could not re-read the API tokens/);
    assert.ok(!s.logs.join('\n').includes('Sup3rSecret'));
  } finally {
    await s.stop();
  }
});

test('every flag and file that can hold a secret, given a broken value: no line of output quotes it', async () => {
  const secretish = 'LEAKME-0123456789abcdef-LEAKME';
  const keyLike = `-----BEGIN PRIVATE KEY-----\n${secretish}\n-----END PRIVATE KEY-----\n`;
  const certLike = `-----BEGIN CERTIFICATE-----\n${secretish}\n-----END CERTIFICATE-----\n`;
  const cases: string[][] = [
    ['--api-tokens', file('s1.yaml', `- {name: ci, token: "${secretish}", write: [\n`)],
    ['--api-tokens', file('s2.yaml', `- {name: ci, token: "${secretish}", write: "*"}\n`)],
    ['--api-tokens', file('s3.yaml', `- {name: ci, token: "${secretish} x", write: ["*"]}\n`)],
    ['--api-tokens', file('s4.yaml', `${secretish}: [\n`)],
    ['--api-tokens', file('s5.yaml', `- {name: ci, token: "${secretish}", write: ["*"], extra: "${secretish}"}\n`)],
    ['--api-token-file', file('s6.txt', `${secretish} with spaces\n`)],
    ['--api-token-file', file('s7.txt', 'ЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖ')],
    ['--http-tls-cert', file('c1.crt', certLike), '--http-tls-key', file('k1.key', keyLike)],
    ['--store', 'etcd', '--etcd', 'https://127.0.0.1:1', '--etcd-ca', file('ca1.crt', certLike), '--etcd-cert', file('c2.crt', certLike), '--etcd-key', file('k2.key', keyLike)],
    ['--store', 'etcd', '--etcd', 'http://127.0.0.1:1', '--etcd-username', 'u', '--etcd-password-file', file('pw.txt', '')],
    ['--kubernetes', 'on', '--kubeconfig', file('kc.yaml', `apiVersion: v1\nusers:\n- name: u\n  user: {token: ${secretish}\nclusters: [\n`)],
    ['--config', file('cfg.yaml', `api-token-file: ${secretish}\n  bad: [\n`)],
  ];
  for (const args of cases) {
    const r = await refusedAtStart(args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.ok(!r.out.includes(secretish) && !r.out.includes('LEAKME'), `${args.join(' ')} leaked:\n${r.out}`);
    assert.ok(!/\n\s+at /.test(r.out), `${args.join(' ')}: a stack trace instead of one line:\n${r.out}`);
  }
});

test('6: a console stream opened with a token ends when SIGHUP revokes that token', async () => {
  const tokens = file('sse.yaml', `- {name: ops, token: "${SECRET}", write: []}\n- {name: other, token: "other-token-0000000000", write: []}\n`);
  const s = await startMeshdns(['--upstream', 'none', '--api-tokens', tokens, '--api-read-auth', 'on']);
  try {
    const ended = new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: s.httpPort, path: '/ui/events', headers: { authorization: `Bearer ${SECRET}` } }, (res) => {
        assert.equal(res.statusCode, 200);
        res.resume();
        res.on('end', resolve);
        res.on('close', resolve);
        writeFileSync(tokens, `- {name: other, token: "other-token-0000000000", write: []}\n`);
        s.proc.kill('SIGHUP');
      });
      req.on('error', reject);
      req.end();
    });
    await Promise.race([ended, new Promise((_, reject) => setTimeout(() => reject(new Error('the stream outlived its token')), 3000))]);
    const head = await fetch(`http://127.0.0.1:${s.httpPort}/ui/events`, { method: 'HEAD', headers: { authorization: 'Bearer other-token-0000000000' }, signal: AbortSignal.timeout(2000) });
    assert.equal(head.status, 200, 'HEAD /ui/events answers a status line');
  } finally {
    await s.stop();
  }
});

test('7: one secret in --api-token-file and --api-tokens, or a file token named api-token-file, is refused', async () => {
  const tokenFile = file('single.txt', `${SECRET}\n`);
  const twin = await refusedAtStart(['--api-token-file', tokenFile, '--api-tokens', file('twin.yaml', `- {name: ci, token: "${SECRET}", write: ["shop/*"]}\n`)]);
  assert.equal(twin.code, 2);
  assert.match(twin.out, /same secret is token "ci"/);
  const named = await refusedAtStart(['--api-tokens', file('named.yaml', `- {name: api-token-file, token: "another-token-00000000", write: ["*"]}\n`)]);
  assert.equal(named.code, 2);
  assert.match(named.out, /"api-token-file" is the --api-token-file token's/);
  // Low: tokens no header can carry, or too short to resist guessing.
  for (const [name, text] of [['short.txt', 'abc'], ['cyr.txt', 'ЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖ'], ['sp.txt', 'aaaaaaaa bbbbbbbbbbbb']] as const) {
    const r = await refusedAtStart(['--api-token-file', file(name, text)]);
    assert.equal(r.code, 2, name);
  }
  const cyr = await refusedAtStart(['--api-tokens', file('cyr.yaml', '- {name: ci, token: "ЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖ", write: ["*"]}\n')]);
  assert.match(cyr.out, /visible ASCII/);
});

function rawHttp(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(text));
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
}

test('8: refusals before routing have the API error shape and an audit line; compressed bodies are 415; OPTIONS says what a path takes', async () => {
  const s = await startMeshdns(['--upstream', 'none']);
  try {
    const long = await api(s.httpPort, 'PUT', instancePath('shop', 'x'.repeat(120), 'a'), body);
    assert.equal(long.status, 400);
    assert.equal(long.body.error, 'invalid_name');
    assert.deepEqual(Object.keys(long.body).sort(), ['error', 'message']);
    const bad = await rawHttp(s.httpPort, `PUT /v1/services/shop/%zz/instances/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
    assert.match(bad, /^HTTP\/1.1 400/);
    assert.match(bad, /\{"error":"bad_url","message":"[^"]+"\}$/);
    const big = await rawHttp(s.httpPort, `PUT /v1/services/shop/big/instances/a HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\nContent-Length: 0\r\n\r\n`);
    assert.match(big, /^HTTP\/1.1 431/);
    assert.match(big, /\{"error":"headers_too_large","message":"[^"]+"\}$/);
    const gz = await fetch(`http://127.0.0.1:${s.httpPort}${instancePath('shop', 'gz', 'a')}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x00]),
    });
    assert.equal(gz.status, 415);
    const gzBody = (await gz.json()) as Record<string, string>;
    assert.equal(gzBody.error, 'unsupported_media_type');
    const options = await fetch(`http://127.0.0.1:${s.httpPort}/v1/services/shop/x/policy`, { method: 'OPTIONS' });
    assert.equal(options.status, 204);
    assert.equal(options.headers.get('allow'), 'GET, PUT, DELETE, HEAD, OPTIONS');
    const audits = async (): Promise<string[]> => s.logs.filter((l) => l.includes('"audit":"write"'));
    await within(2000, async () => (await audits()).length >= 4);
    const lines = (await audits()).map((l) => JSON.parse(l) as { status: number; path: string });
    for (const status of [400, 431, 415]) assert.ok(lines.some((l) => l.status === status), `an audit line for ${status}: ${JSON.stringify(lines)}`);
    assert.ok(lines.some((l) => l.path === '/v1/services/shop/big/instances/a' && l.status === 431));
  } finally {
    await s.stop();
  }
});

test('9: a key that does not match the certificate, or the two swapped, is one line naming the flags; an expired certificate is warned about', async () => {
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'a.key', '-out', 'a.crt', '-days', '1', '-subj', '/CN=a');
  ssl('req', '-x509', ...ec, '-keyout', 'b.key', '-out', 'b.crt', '-days', '1', '-subj', '/CN=b');
  for (const [cert, key] of [['a.crt', 'b.key'], ['a.key', 'a.crt']]) {
    const r = await refusedAtStart(['--http-tls-cert', join(dir, cert!), '--http-tls-key', join(dir, key!)]);
    assert.equal(r.code, 2);
    const lines = r.out.trim().split('\n');
    assert.equal(lines.length, 1, r.out);
    assert.match(lines[0]!, /--http-tls-cert/);
  }
  // A certificate that expired yesterday: loaded (mid-rotation), with a warning.
  ssl('req', ...ec, '-keyout', 'old.key', '-out', 'old.csr', '-subj', '/CN=old');
  ssl('x509', '-req', '-in', 'old.csr', '-signkey', 'old.key', '-days', '-1', '-out', 'old.crt');
  const s = await startMeshdns(['--upstream', 'none', '--http-tls-cert', join(dir, 'old.crt'), '--http-tls-key', join(dir, 'old.key')]);
  try {
    await s.waitForLog(/"level":"warn".*the certificate expired/);
  } finally {
    await s.stop();
  }
});

test('low: the same CIDR given to two client zones is refused', async () => {
  const r = await refusedAtStart(['--client-zone', '10.1.0.0/16=a', '--client-zone', '10.1.0.0/16=b']);
  assert.equal(r.code, 2);
  assert.match(r.out, /same range is given to zones "a" and "b"/);
});

