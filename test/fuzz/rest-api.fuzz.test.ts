import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import fc from 'fast-check';
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { fuzzRuns, fuzzSeed } from '../support/fuzz-settings.js';

/**
 * The REST API of a real server fed fuzzed bodies, paths and raw header
 * blocks: every answer is a clean 2xx/4xx with a JSON error body (never a
 * 5xx), every accepted registration is kept and answered in DNS, and the
 * server is up at the end.
 */

let server: MeshdnsProcess;
before(async () => {
  server = await startMeshdns(['--upstream', 'none']);
});
after(() => server.stop());

const CLIENT_ERRORS = new Set([400, 404, 413, 415, 405, 409]);

async function put(path: string, body: string, contentType: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`http://127.0.0.1:${server.httpPort}${path}`, { method: 'PUT', headers: contentType === '' ? {} : { 'content-type': contentType }, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

function assertCleanError(status: number, json: unknown): void {
  assert.ok(CLIENT_ERRORS.has(status), `status ${status}: ${JSON.stringify(json)}`);
  const e = json as { error?: unknown; message?: unknown };
  assert.ok(typeof e.error === 'string' && typeof e.message === 'string', `error body ${JSON.stringify(json)}`);
}

const interesting = fc.constantFrom<unknown>(null, true, 0, -1, 1.5, 65536, 2 ** 53, '', ' ', '10.0.0.1', '::1', '1s', '0s', '-1s', '1e9h', 'x'.repeat(5000), [], {}, [{}], { http: 'http://x' }, { name: 'http', port: 80 });
const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), interesting);
const FIELDS = ['address', 'ports', 'weight', 'zone', 'ttl', 'check', 'metadata', 'extra'] as const;

const bodyText: fc.Arbitrary<string> = fc.oneof(
  // A valid body with fields replaced, added or removed.
  fc.array(fc.record({ field: fc.constantFrom(...FIELDS), value, drop: fc.boolean() }), { minLength: 1, maxLength: 3 }).map((edits) => {
    const body: Record<string, unknown> = { address: '10.1.2.3', ports: [{ name: 'http', port: 8080 }], weight: 10 };
    for (const e of edits) {
      if (e.drop) delete body[e.field];
      else body[e.field] = e.value;
    }
    return JSON.stringify(body);
  }),
  // Bodies of the right shape with values from the edges of each field.
  fc
    .record({
      address: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 50 })),
      ports: fc.array(fc.record({ name: fc.oneof(fc.constantFrom('http', 'grpc', 'a-b'), fc.string({ maxLength: 70 })), port: fc.integer({ min: -1, max: 70000 }), protocol: fc.constantFrom('tcp', 'udp', 'sctp') }), { maxLength: 4 }),
      weight: fc.integer({ min: -1, max: 70000 }),
      ttl: fc.constantFrom('1s', '30s', '10m', '0.5s', 'soon', '999999h'),
      check: fc.oneof(fc.record({ http: fc.webUrl(), interval: fc.constantFrom('1s', '10s'), timeout: fc.constantFrom('500ms', '20s') }), fc.record({ tcp: fc.constantFrom('127.0.0.1:1', 'nohost', '[::1]:80') })),
      metadata: fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
    }, { requiredKeys: ['address', 'ports'] })
    .map((b) => JSON.stringify(b)),
  // Not JSON at all, or JSON cut short.
  fc.string({ maxLength: 200 }),
  fc.nat(60).map((cut) => JSON.stringify({ address: '10.1.2.3', ports: [{ name: 'http', port: 8080 }] }).slice(0, cut)),
);

const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', '', 'application/json; charset=latin1', 'application/jsonx');

test(`${fuzzRuns(3000)} fuzzed registration bodies: clean 4xx or accepted, and what is accepted is served`, async () => {
  const accepted = new Map<string, string>();
  let n = 0;
  await fc.assert(
    fc.asyncProperty(bodyText, contentType, fc.nat(20), async (body, type, slot) => {
      const id = `i${slot}`;
      const { status, json } = await put(`/v1/services/fuzz/svc${n++ % 7}/instances/${id}`, body, type);
      if (status === 200) {
        const view = json as { namespace: string; service: string; id: string; address: string };
        accepted.set(`${view.service}/${view.id}`, view.address);
        return;
      }
      assertCleanError(status, json);
    }),
    { numRuns: fuzzRuns(3000), seed: fuzzSeed() },
  );
  assert.ok(accepted.size > 10, `only ${accepted.size} bodies accepted: the generator misses the valid space`);
  // Nothing accepted was lost or changed by the rejected bodies that followed it.
  for (const [key, address] of accepted) {
    const [svc, id] = key.split('/');
    const res = await fetch(`http://127.0.0.1:${server.httpPort}/v1/services/fuzz/${svc}`);
    const detail = (await res.json()) as { instances: { id: string; address: string }[] };
    assert.equal(detail.instances.find((i) => i.id === id)?.address, address, `${key} as last accepted`);
  }
  const someV4 = [...accepted].find(([, a]) => a.includes('.'));
  if (someV4 !== undefined) {
    const reply = decode((await udpExchange(server.dnsPort, buildQuery(`${someV4[0].split('/')[0]}.fuzz.linkerd.local`)))!);
    assert.ok(reply.answers.length > 0, 'an accepted registration is answered in DNS');
  }
});

test(`${fuzzRuns(1000)} fuzzed paths: 200, 400 or 404, never a server error`, async () => {
  const segment = fc.oneof(fc.string({ maxLength: 70 }), fc.constantFrom('', '.', '..', '%', '%00', 'A', 'a'.repeat(64), 'é', '😀', 'a b', 'a/b'));
  await fc.assert(
    fc.asyncProperty(segment, segment, segment, async (ns, svc, id) => {
      const path = `/v1/services/${encodeURIComponent(ns)}/${encodeURIComponent(svc)}/instances/${encodeURIComponent(id)}`;
      const { status, json } = await put(path, JSON.stringify({ address: '10.0.0.1', ports: [] }), 'application/json');
      if (status !== 200) assertCleanError(status, json);
    }),
    { numRuns: fuzzRuns(1000), seed: fuzzSeed() },
  );
});

/** Sends one raw request; resolves with the status line's code, or null when the server closed without one. */
function raw(request: string | Buffer): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: server.httpPort }, () => s.end(request));
    let head = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer and no close within 5 s to ${JSON.stringify(request.toString().slice(0, 300))}`));
    }, 5000);
    s.on('data', (d: Buffer) => (head += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      resolve(m ? Number(m[1]) : null);
    });
  });
}

test(`${fuzzRuns(1000)} fuzzed header blocks: an HTTP answer or a closed connection, never a hang or a server error`, async () => {
  const headerLine = fc.oneof(
    fc.constantFrom('Content-Length: -1', 'Content-Length: abc', 'Content-Length: 99999999', 'Content-Length: 5\r\nContent-Length: 6', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip, chunked', 'Expect: 100-continue', 'Expect: nothing', 'Authorization: Bearer ' + 'x'.repeat(100), 'Authorization: Basic', 'Content-Type: application/json', 'Content-Type: ;;;', `X-Big: ${'y'.repeat(20000)}`, 'Bad Header: x', ': novalue', 'Host:', 'Connection: close, upgrade', 'Upgrade: h2c'),
    fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 60 })).map(([k, v]) => `${k}: ${v}`),
  );
  const body = fc.oneof(fc.constant('{"address":"10.0.0.1","ports":[]}'), fc.string({ maxLength: 80 }), fc.constant('5\r\n{"add\r\n0\r\n\r\n'), fc.constant('zz\r\n'));
  const method = fc.constantFrom('PUT', 'GET', 'DELETE', 'POST', 'PATCH', 'OPTIONS', 'BREW', 'put');
  const target = fc.constantFrom('/v1/services/a/b/instances/c', '/v1/services', '/readyz', '*', '/../../etc/passwd', '/v1/services/a/b/instances/c/heartbeat', 'http://x/v1/services');
  await fc.assert(
    fc.asyncProperty(method, target, fc.array(headerLine, { maxLength: 5 }), body, fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x'), async (m, t, headers, b, version) => {
      const status = await raw(`${m} ${t} ${version}\r\nHost: 127.0.0.1\r\n${headers.map((h) => h + '\r\n').join('')}\r\n${b}`);
      assert.ok(status === null || status < 500 || status === 501 || status === 505, `status ${status}`);
    }),
    { numRuns: fuzzRuns(1000), seed: fuzzSeed() },
  );
  assert.equal((await fetch(`http://127.0.0.1:${server.httpPort}/healthz`)).status, 200);
  assert.equal(server.proc.exitCode, null);
});
