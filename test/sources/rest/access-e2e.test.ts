import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMeshdns } from '../../support/meshdns-process.js';
import { api, instancePath } from '../../support/rest-client.js';
import { within } from '../../support/poll.js';

const dir = mkdtempSync(join(tmpdir(), 'meshdns-access-'));
const tokensFile = join(dir, 'tokens.yaml');
const TOKENS = {
  writer: 'writer-token-000000000',
  scoped: 'scoped-token-000000000',
  reader: 'reader-token-000000000',
  blind: 'blind-token-0000000000',
};
writeFileSync(
  tokensFile,
  `- {name: writer, token: "${TOKENS.writer}", write: ["*"]}
- {name: scoped, token: "${TOKENS.scoped}", write: ["shop/*"]}
- {name: reader, token: "${TOKENS.reader}", write: []}
- {name: blind, token: "${TOKENS.blind}", write: ["shop/*"], read: false}
`,
);

type Who = keyof typeof TOKENS | 'none' | 'bogus';
const auth = (who: Who): Record<string, string> => (who === 'none' ? {} : { authorization: `Bearer ${who === 'bogus' ? 'bogus-token-000000000' : TOKENS[who]}` });
const body = { address: '10.60.0.1', ports: [] };

test('every route × every kind of token, with --api-read-auth on; one audit line per write, accepted or refused', async () => {
  const s = await startMeshdns(['--upstream', 'none', '--api-tokens', tokensFile, '--api-read-auth', 'on']);
  try {
    // [method, path, body, expected status per token: writer, scoped, reader, blind, none, bogus]
    const routes: [string, string, unknown, number[]][] = [
      ['PUT', instancePath('shop', 'cart', 'a'), body, [200, 200, 403, 200, 401, 401]],
      ['PUT', instancePath('pay', 'api', 'a'), body, [200, 403, 403, 403, 401, 401]],
      ['PUT', `${instancePath('shop', 'cart', 'a')}/heartbeat`, undefined, [204, 204, 403, 204, 401, 401]],
      ['PUT', '/v1/services/shop/cart/policy', { answerLimit: 1 }, [200, 200, 403, 200, 401, 401]],
      ['GET', '/v1/services/shop/cart/policy', undefined, [200, 200, 200, 403, 401, 401]],
      ['GET', '/v1/services', undefined, [200, 200, 200, 403, 401, 401]],
      ['GET', '/v1/services/shop/cart', undefined, [200, 200, 200, 403, 401, 401]],
      ['DELETE', '/v1/services/shop/cart/policy', undefined, [204, 204, 403, 204, 401, 401]],
      ['DELETE', instancePath('pay', 'api', 'a'), undefined, [204, 403, 403, 403, 401, 401]],
      ['GET', '/metrics', undefined, [200, 200, 200, 200, 200, 200]],
      ['GET', '/readyz', undefined, [200, 200, 200, 200, 200, 200]],
    ];
    const who: Who[] = ['writer', 'scoped', 'reader', 'blind', 'none', 'bogus'];
    for (const [method, path, b, expected] of routes) {
      for (let i = 0; i < who.length; i++) {
        // A DELETE removes what it names: the tokens that must be refused try it; of those allowed, only
        // "writer" (first in the list) runs it, so later tokens are not judged on an already-empty thing.
        const w = who[i]!;
        if (method === 'DELETE' && expected[i] !== 204 && w !== 'writer') {
          const r = await api(s.httpPort, method, path, b, auth(w));
          assert.equal(r.status, expected[i], `${method} ${path} as ${w}`);
          continue;
        }
        if (method === 'DELETE' && w !== 'writer') continue;
        const r = await api(s.httpPort, method, path, b, auth(w));
        assert.equal(r.status, expected[i], `${method} ${path} as ${w}: ${JSON.stringify(r.body)}`);
        if (r.status === 401) assert.equal(r.body.error, 'unauthorized');
        if (r.status === 403) assert.equal(r.body.error, 'forbidden');
      }
    }
    // Log lines reach stdout in batches (at most 50 ms late): one last refused write, and once its audit line is
    // here every earlier one is too (lines keep their order).
    const marker = instancePath('audit', 'marker', 'last');
    assert.equal((await api(s.httpPort, 'DELETE', marker)).status, 401);
    await s.waitForLog(new RegExp(`"path":"${marker}"`));
    const audits = s.logs.filter((l) => l.includes('"audit":"write"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(audits.length >= 25, `${audits.length} audit lines`);
    assert.ok(audits.some((a) => a.token === 'scoped' && a.status === 403 && a.method === 'PUT' && a.path === instancePath('pay', 'api', 'a')));
    assert.ok(audits.some((a) => a.token === null && a.status === 401));
    assert.ok(audits.every((a) => typeof a.client === 'string'));
    for (const secret of Object.values(TOKENS)) assert.ok(!s.logs.some((l) => l.includes(secret)), 'no secret in the log');
  } finally {
    await s.stop();
  }
});

test('SIGHUP re-reads the tokens file: a new token works, a removed one stops; a broken file keeps the ones in force', async () => {
  const file = join(dir, 'reload.yaml');
  writeFileSync(file, `- {name: old, token: "old-token-00000000000", write: ["*"]}\n`);
  const s = await startMeshdns(['--upstream', 'none', '--api-tokens', file]);
  try {
    const put = (token: string): Promise<number> => api(s.httpPort, 'PUT', instancePath('hup', 'svc', 'a'), body, { authorization: `Bearer ${token}` }).then((r) => r.status);
    assert.equal(await put('old-token-00000000000'), 200);
    writeFileSync(file, `- {name: new, token: "new-token-00000000000", write: ["*"]}\n`);
    s.proc.kill('SIGHUP');
    await within(3000, async () => (await put('new-token-00000000000')) === 200);
    assert.equal(await put('old-token-00000000000'), 401);
    writeFileSync(file, 'not: a list');
    s.proc.kill('SIGHUP');
    await s.waitForLog(/could not re-read the API tokens/);
    assert.equal(await put('new-token-00000000000'), 200);
  } finally {
    await s.stop();
  }
});

function httpsGet(port: number, path: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, servername: 'localhost' }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('--http-tls-cert/--http-tls-key: HTTPS only, with a certificate from a test CA; plain HTTP is refused', async () => {
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=test-ca');
  ssl('req', ...ec, '-keyout', 'tls.key', '-out', 'tls.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'tls.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'tls.crt', '-days', '1', '-extfile', 'tls.ext');
  const s = await startMeshdns(['--upstream', 'none', '--http-tls-cert', join(dir, 'tls.crt'), '--http-tls-key', join(dir, 'tls.key')]);
  try {
    const ca = readFileSync(join(dir, 'ca.crt'));
    const ready = await httpsGet(s.httpPort, '/readyz', ca);
    assert.equal(ready.status, 200);
    assert.equal((await httpsGet(s.httpPort, '/v1/services', ca)).status, 200);
    await assert.rejects(fetch(`http://127.0.0.1:${s.httpPort}/readyz`));
    // SIGHUP re-reads the certificate (a cert-manager renewal): still served, same CA.
    s.proc.kill('SIGHUP');
    await s.waitForLog(/API tokens and TLS certificate re-read/);
    assert.equal((await httpsGet(s.httpPort, '/healthz', ca)).status, 200);
  } finally {
    await s.stop();
  }
});
