import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dig } from '../support/dig.js';
import { EtcdServer } from '../support/etcd.js';
import { startMeshdns } from '../support/meshdns-process.js';
import { within } from '../support/poll.js';
import { api, instancePath } from '../support/rest-client.js';

/** A CA, an etcd server certificate for 127.0.0.1 and a client certificate, made with openssl. */
function certificates(): { dir: string; ca: string; server: { cert: string; key: string }; client: { cert: string; key: string } } {
  const dir = mkdtempSync(join(tmpdir(), 'meshdns-etcd-tls-'));
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=meshdns-test-ca');
  for (const [name, usage, san] of [['server', 'serverAuth,clientAuth', 'IP:127.0.0.1'], ['client', 'clientAuth', 'DNS:meshdns']] as const) {
    ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${usage}\n`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`);
  }
  return { dir, ca: join(dir, 'ca.crt'), server: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') }, client: { cert: join(dir, 'client.crt'), key: join(dir, 'client.key') } };
}

const ready = async (port: number): Promise<boolean> => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;

test('--etcd-ca/--etcd-cert/--etcd-key: registrations in an etcd that requires TLS client certificates', async () => {
  const c = certificates();
  const etcd = await EtcdServer.start({ ca: c.ca, cert: c.server.cert, key: c.server.key });
  const tls = ['--store', 'etcd', '--etcd', etcd.url, '--etcd-ca', c.ca];
  const s = await startMeshdns(['--upstream', 'none', ...tls, '--etcd-cert', c.client.cert, '--etcd-key', c.client.key]);
  const noCert = await startMeshdns(['--upstream', 'none', ...tls]);
  try {
    await within(10_000, () => ready(s.httpPort));
    assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'tls', 'a'), { address: '10.7.7.7', ports: [] })).status, 200);
    assert.match((await dig(s.dnsPort, ['+short', 'tls.shop.linkerd.local'])).raw, /10\.7\.7\.7/);
    // Without a client certificate etcd refuses: not ready, writes 503, and the log says why.
    assert.equal(await ready(noCert.httpPort), false);
    assert.equal((await api(noCert.httpPort, 'PUT', instancePath('shop', 'tls', 'b'), { address: '10.7.7.8', ports: [] })).status, 503);
  } finally {
    await s.stop();
    await noCert.stop();
    await etcd.dispose();
  }
  assert.throws(() => execFileSync(process.execPath, ['dist/cli.js', 'serve', '--store', 'etcd', '--etcd', 'http://127.0.0.1:1', '--etcd-ca', c.ca], { stdio: 'pipe' }), /with --etcd-ca, give https:\/\/ endpoints/);
});

test('--etcd-username/--etcd-password-file: registrations in an etcd with auth enabled; a wrong password is not ready', async () => {
  const etcd = await EtcdServer.start();
  // Enable auth through etcd's JSON gateway, as etcdctl would: a root role and user, then auth on.
  for (const [path, body] of [
    ['role/add', { name: 'root' }],
    ['user/add', { name: 'root', password: 'pw-root' }],
    ['user/grant', { user: 'root', role: 'root' }],
    ['enable', {}],
  ] as const) {
    const res = await fetch(`${etcd.url}/v3/auth/${path}`, { method: 'POST', body: JSON.stringify(body) });
    assert.equal(res.status, 200, `${path}: ${await res.text()}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'meshdns-etcd-auth-'));
  writeFileSync(join(dir, 'good'), 'pw-root\n');
  writeFileSync(join(dir, 'bad'), 'nope\n');
  const base = ['--upstream', 'none', '--store', 'etcd', '--etcd', etcd.url, '--etcd-username', 'root'];
  const s = await startMeshdns([...base, '--etcd-password-file', join(dir, 'good')]);
  const wrong = await startMeshdns([...base, '--etcd-password-file', join(dir, 'bad')]);
  try {
    await within(10_000, () => ready(s.httpPort));
    assert.equal((await api(s.httpPort, 'PUT', instancePath('shop', 'auth', 'a'), { address: '10.7.7.9', ports: [] })).status, 200);
    assert.match((await dig(s.dnsPort, ['+short', 'auth.shop.linkerd.local'])).raw, /10\.7\.7\.9/);
    await wrong.waitForLog(/etcd not reachable|cannot read registrations/, 10_000);
    assert.equal(await ready(wrong.httpPort), false);
  } finally {
    await s.stop();
    await wrong.stop();
    await etcd.dispose();
  }
});
