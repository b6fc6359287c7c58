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

/** Opens a raw connection, sends `head`, then streams `bodyBytes` of body; resolves with the reply, how much was written before the server closed, and when. */
function upload(head: string, bodyBytes: number): Promise<{ reply: string; written: number; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const s = connect({ host: '127.0.0.1', port: server.httpPort }, () => {
      s.write(head);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = (): void => {
        while (written < bodyBytes && s.writable) {
          written += chunk.length;
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
      };
      pump();
    });
    let written = 0;
    let reply = '';
    s.on('data', (d: Buffer) => (reply += d.toString()));
    s.on('error', () => undefined);
    s.on('close', () => resolve({ reply, written, ms: Date.now() - started }));
  });
}

test('issue 23, low: a 100 MB text/plain body gets 415 from its headers and the connection closes; it is not read whole', async () => {
  const size = 100 * 1024 * 1024;
  const r = await upload(`PUT /v1/services/shop/big/instances/a HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${size}\r\n\r\n`, size);
  // The 415 goes out at once; a client still sending when the connection closes may see a reset instead of it
  // (TCP discards what it had not read yet), but never a server that read the whole body.
  assert.ok(r.reply === '' || /^HTTP\/1.1 (413|415)/.test(r.reply), r.reply);
  assert.ok(r.written < size, `the whole ${size} bytes were taken (${r.written})`);
});

test('issue 23, low: Expect: 100-continue with a body over the limit gets 413 at once, never "100 Continue"', async () => {
  const reply = await new Promise<string>((resolve) => {
    const s = connect({ host: '127.0.0.1', port: server.httpPort }, () =>
      s.write('PUT /v1/services/shop/big/instances/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\nExpect: 100-continue\r\n\r\n'),
    );
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('error', () => undefined);
    s.on('close', () => resolve(text));
  });
  assert.match(reply, /^HTTP\/1.1 413/);
  assert.doesNotMatch(reply, /100 Continue/);
});
