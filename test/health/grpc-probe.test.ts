import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeHealthCheckResponse, encodeHealthCheckRequest } from '../../src/health/grpc-probe.js';
import { GrpcHealthServer } from '../support/grpc-health-server.js';
import { freePort } from '../support/free-port.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';
import { within } from '../support/poll.js';

/** Issue 28: gRPC health checks against a real gRPC server (@grpc/grpc-js), through the REST API of a real meshdns. */
const dir = mkdtempSync(join(tmpdir(), 'meshdns-grpc-'));
const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
function certFor(name: string, san: string): { cert: Buffer; key: Buffer } {
  ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
  ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`);
  return { cert: readFileSync(join(dir, `${name}.crt`)), key: readFileSync(join(dir, `${name}.key`)) };
}

let plain: GrpcHealthServer;
let tlsRight: GrpcHealthServer;
let tlsWrong: GrpcHealthServer;
let s: MeshdnsProcess;
before(async () => {
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=test-ca');
  plain = await GrpcHealthServer.start({ '': 'SERVING', 'pay.v1.Payments': 'SERVING', 'pay.v1.Down': 'NOT_SERVING', 'pay.v1.Gone': 'SERVICE_UNKNOWN', 'pay.v1.Slow': { slowMs: 3000 } });
  tlsRight = await GrpcHealthServer.start({ '': 'SERVING' }, certFor('right', 'IP:127.0.0.1'));
  tlsWrong = await GrpcHealthServer.start({ '': 'SERVING' }, certFor('wrong', 'DNS:wrong.example'));
  // The CA that signed the servers' certificates, as an operator adds a private CA for grpc-js.
  s = await startMeshdns(['--upstream', 'none'], { env: { GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: join(dir, 'ca.crt') } });
});
after(async () => {
  await s.stop();
  await Promise.all([plain.stop(), tlsRight.stop(), tlsWrong.stop()]);
});

test('the two messages encode and decode as protobuf does', () => {
  assert.deepEqual(encodeHealthCheckRequest(''), Buffer.alloc(0));
  assert.deepEqual(encodeHealthCheckRequest('a.B'), Buffer.from([0x0a, 3, 0x61, 0x2e, 0x42]));
  assert.equal(encodeHealthCheckRequest('x'.repeat(300)).subarray(0, 3).toString('hex'), '0aac02');
  assert.equal(decodeHealthCheckResponse(Buffer.from([0x08, 0x01])), 1);
  assert.equal(decodeHealthCheckResponse(Buffer.alloc(0)), 0);
  // Unknown fields are skipped.
  assert.equal(decodeHealthCheckResponse(Buffer.from([0x12, 0x02, 0x61, 0x62, 0x08, 0x02])), 2);
});

async function register(id: string, check: Record<string, unknown>): Promise<void> {
  const r = await api(s.httpPort, 'PUT', instancePath('grpc', 'pay', id), { address: '10.90.0.1', ports: [{ name: 'grpc', port: 9090 }], check: { interval: '200ms', timeout: '150ms', healthyThreshold: 1, unhealthyThreshold: 1, ...check } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function lastProbe(id: string): Promise<{ state: string; lastProbe: { ok: boolean; result: string } | null }> {
  const detail = await api(s.httpPort, 'GET', '/v1/services/grpc/pay');
  return detail.body.instances.find((i: { id: string }) => i.id === id);
}

test('SERVING passes; NOT_SERVING, SERVICE_UNKNOWN, an unknown service (NOT_FOUND), a deadline, a refused connection and a TLS name mismatch fail', async () => {
  const refused = await freePort();
  const cases: [string, Record<string, unknown>, boolean, RegExp][] = [
    ['serving', { grpc: `127.0.0.1:${plain.port}` }, true, /^SERVING$/],
    ['named', { grpc: `127.0.0.1:${plain.port}`, grpcService: 'pay.v1.Payments' }, true, /^SERVING$/],
    ['down', { grpc: `127.0.0.1:${plain.port}`, grpcService: 'pay.v1.Down' }, false, /^NOT_SERVING$/],
    ['gone', { grpc: `127.0.0.1:${plain.port}`, grpcService: 'pay.v1.Gone' }, false, /^SERVICE_UNKNOWN$/],
    ['unknown', { grpc: `127.0.0.1:${plain.port}`, grpcService: 'pay.v1.Nobody' }, false, /^NOT_FOUND/],
    ['slow', { grpc: `127.0.0.1:${plain.port}`, grpcService: 'pay.v1.Slow' }, false, /^timeout$/],
    ['refused', { grpc: `127.0.0.1:${refused}` }, false, /^(UNAVAILABLE|timeout)/],
    ['tls', { grpc: `127.0.0.1:${tlsRight.port}`, grpcTls: true }, true, /^SERVING$/],
    ['tls-wrong-name', { grpc: `127.0.0.1:${tlsWrong.port}`, grpcTls: true }, false, /^(UNAVAILABLE|timeout)/],
    ['tls-to-plain', { grpc: `127.0.0.1:${plain.port}`, grpcTls: true }, false, /^(UNAVAILABLE|timeout)/],
  ];
  for (const [id, check] of cases) await register(id, check);
  for (const [id, , ok, detail] of cases) {
    await within(5000, async () => (await lastProbe(id))?.lastProbe !== null && (await lastProbe(id))?.lastProbe !== undefined, 100);
    const p = await lastProbe(id);
    assert.equal(p.lastProbe!.ok, ok, `${id}: ${JSON.stringify(p)}`);
    assert.match(p.lastProbe!.result, detail, id);
    assert.equal(p.state, ok ? 'healthy' : 'unhealthy', id);
  }
  // The service name reaches the server.
  assert.ok(plain.asked.includes('pay.v1.Payments') && plain.asked.includes(''));
  const metrics = (await api(s.httpPort, 'GET', '/metrics')).body as string;
  assert.match(metrics, /meshdns_probes_total\{kind="grpc",result="pass"\} [1-9]/);
  assert.match(metrics, /meshdns_probes_total\{kind="grpc",result="fail"\} [1-9]/);
  assert.match(metrics, /meshdns_probe_duration_seconds_count\{kind="grpc"\} [1-9]/);
});

test('a server that goes NOT_SERVING is dropped from answers and back when it serves again; bad check bodies are 400', async () => {
  plain.set('pay.v1.Flip', 'SERVING');
  const r = await api(s.httpPort, 'PUT', instancePath('grpc', 'flip', 'a'), { address: '10.90.1.1', ports: [], check: { grpc: `127.0.0.1:${plain.port}`, grpcService: 'pay.v1.Flip', interval: '200ms', timeout: '150ms', healthyThreshold: 1, unhealthyThreshold: 1 } });
  assert.equal(r.status, 200);
  const state = async (): Promise<string> => (await api(s.httpPort, 'GET', '/v1/services/grpc/flip')).body.instances[0].state;
  await within(3000, async () => (await state()) === 'healthy');
  plain.set('pay.v1.Flip', 'NOT_SERVING');
  await within(3000, async () => (await state()) === 'unhealthy');
  plain.set('pay.v1.Flip', 'SERVING');
  await within(3000, async () => (await state()) === 'healthy');
  for (const check of [{ grpc: 'no-port' }, { grpc: '127.0.0.1:1', tcp: '127.0.0.1:1' }, { tcp: '127.0.0.1:1', grpcService: 'x' }, { grpc: '127.0.0.1:99999' }]) {
    const bad = await api(s.httpPort, 'PUT', instancePath('grpc', 'bad', 'a'), { address: '10.90.2.1', ports: [], check });
    assert.equal(bad.status, 400, JSON.stringify(check));
  }
});
