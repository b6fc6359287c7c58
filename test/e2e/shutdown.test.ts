import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { buildQuery, frame } from '../support/dns-client.js';
import { startMeshdns } from '../support/meshdns-process.js';

test('SIGTERM under TCP load: every query sent before the signal is answered, exit 0 within 5 s', async () => {
  const s = await startMeshdns(['--upstream', 'none']);
  interface Client {
    socket: Socket;
    writtenAt: Map<number, number>;
    answered: Set<number>;
    closed: Promise<void>;
  }
  const clients: Client[] = [];
  let writing = true;
  for (let c = 0; c < 10; c++) {
    const socket = connect({ host: '127.0.0.1', port: s.dnsPort });
    await new Promise((r) => socket.once('connect', r));
    const client: Client = { socket, writtenAt: new Map(), answered: new Set(), closed: new Promise((r) => socket.on('close', () => r())) };
    let buffered = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buffered = Buffer.concat([buffered, d]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        client.answered.add(buffered.readUInt16BE(2));
        buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
      }
    });
    socket.on('error', () => undefined);
    clients.push(client);
    let id = 0;
    const pump = (): void => {
      if (!writing || socket.destroyed) return;
      const ids = Array.from({ length: 20 }, () => id++ & 0xffff);
      socket.write(Buffer.concat(ids.map((i) => frame(buildQuery('web.default.linkerd.local', { id: i })))), () => {
        const at = Date.now();
        for (const i of ids) client.writtenAt.set(i, at);
      });
      setTimeout(pump, 2);
    };
    pump();
  }
  await new Promise((r) => setTimeout(r, 500));
  const signalledAt = Date.now();
  s.proc.kill('SIGTERM');
  const code = await s.stop();
  const exitMs = Date.now() - signalledAt;
  writing = false;
  await Promise.race([Promise.all(clients.map((c) => c.closed)), new Promise((r) => setTimeout(r, 2000))]);
  assert.equal(code, 0);
  assert.ok(exitMs < 5000, `exit took ${exitMs} ms`);
  let before = 0;
  for (const c of clients) {
    for (const [id, at] of c.writtenAt) {
      if (at >= signalledAt) continue;
      before++;
      assert.ok(c.answered.has(id), `query ${id} sent before SIGTERM got no answer`);
    }
    c.socket.destroy();
  }
  assert.ok(before > 200, `only ${before} queries were sent before the signal`);
});
