import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';

let server: MeshdnsProcess;
before(async () => {
  server = await startMeshdns(['--upstream', 'none', '--http-request-timeout', '600ms']);
});
after(() => server.stop());

/** Sends `head` at once, then trickles `request` a byte every 100 ms; resolves with the reply and when the connection closed. */
function trickle(request: string, head = ''): Promise<{ reply: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const s = connect({ host: '127.0.0.1', port: server.httpPort }, () => s.write(head));
    let reply = '';
    let i = 0;
    const timer = setInterval(() => {
      if (i < request.length && s.writable) s.write(request[i++]!);
    }, 100);
    s.on('data', (d: Buffer) => (reply += d.toString()));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearInterval(timer);
      resolve({ reply, ms: Date.now() - started });
    });
  });
}

test('--http-request-timeout: headers trickled in (slowloris) get 408 and the connection is cut; others are served meanwhile', async () => {
  const slow = trickle('GET /v1/services HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'z'.repeat(100) + '\r\n\r\n');
  assert.equal((await fetch(`http://127.0.0.1:${server.httpPort}/healthz`)).status, 200);
  const { reply, ms } = await slow;
  assert.match(reply, /^HTTP\/1\.1 408/);
  assert.ok(ms >= 500 && ms < 4000, `cut after ${ms} ms`);
});

test('--http-request-timeout: a body trickled in gets 408 and registers nothing', async () => {
  const body = JSON.stringify({ address: '10.3.3.3', ports: [] });
  const { reply } = await trickle(body, `PUT /v1/services/slow/svc/instances/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
  assert.match(reply, /^HTTP\/1\.1 408/);
  assert.equal((await fetch(`http://127.0.0.1:${server.httpPort}/v1/services/slow/svc`)).status, 404);
});
