import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { probeHttp, probeTcp } from '../../src/health/probes.js';
import { freePort } from '../support/free-port.js';

let server: Server;
let port: number;
before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/ok') res.writeHead(200).end('ok');
    else if (req.url === '/redirect') res.writeHead(302, { location: '/elsewhere' }).end();
    else if (req.url === '/slow') setTimeout(() => res.writeHead(200).end(), 500);
    else res.writeHead(500).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

test('HTTP: 2xx and 3xx pass; 5xx, timeouts and refused connections fail', async () => {
  assert.deepEqual([(await probeHttp(`http://127.0.0.1:${port}/ok`, 500)).ok, (await probeHttp(`http://127.0.0.1:${port}/ok`, 500)).detail], [true, '200']);
  assert.equal((await probeHttp(`http://127.0.0.1:${port}/redirect`, 500)).ok, true);
  const failed = await probeHttp(`http://127.0.0.1:${port}/fail`, 500);
  assert.deepEqual([failed.ok, failed.detail], [false, '500']);
  const slow = await probeHttp(`http://127.0.0.1:${port}/slow`, 100);
  assert.deepEqual([slow.ok, slow.detail], [false, 'timeout']);
  assert.ok(slow.durationMs >= 90 && slow.durationMs < 400);
  const refused = await probeHttp(`http://127.0.0.1:${await freePort()}/`, 500);
  assert.deepEqual([refused.ok, refused.detail], [false, 'ECONNREFUSED']);
});

test('TCP: a listener passes, a closed port fails', async () => {
  const listener = createTcpServer((s) => s.destroy());
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
  const p = (listener.address() as { port: number }).port;
  assert.deepEqual([(await probeTcp(`127.0.0.1:${p}`, 500)).ok, (await probeTcp(`127.0.0.1:${p}`, 500)).detail], [true, 'connected']);
  listener.close();
  assert.equal((await probeTcp(`127.0.0.1:${await freePort()}`, 500)).ok, false);
  assert.equal((await probeTcp(`[::1]:${await freePort()}`, 500)).ok, false);
});
