import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { buildQuery, decode, frame, tcpExchange } from '../support/dns-client.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';

let server: MeshdnsProcess;
before(async () => {
  server = await startMeshdns(['--upstream', 'none', '--tcp-idle-timeout', '400ms', '--tcp-max-connections', '3']);
});
after(() => server.stop());

const names = ['web.default.linkerd.local', '_http._tcp.web.default.linkerd.local', 'nope.linkerd.local', 'linkerd.local'];
const types = [1, 33, 1, 6];

test('several queries in one write get one answer each, IDs paired', async () => {
  const joined = Buffer.concat(names.map((n, i) => frame(buildQuery(n, { id: 100 + i, type: types[i] }))));
  const replies = (await tcpExchange(server.dnsPort, [joined], names.length)).map(decode);
  assert.deepEqual(replies.map((r) => r.header.id).sort(), [100, 101, 102, 103]);
  const byId = new Map(replies.map((r) => [r.header.id, r]));
  assert.equal(byId.get(100)!.answers.length, 2);
  assert.equal(byId.get(101)!.answers[0]!.type, 33);
  assert.equal(byId.get(102)!.header.rcode, 3);
  assert.equal(byId.get(103)!.answers[0]!.type, 6);
});

test('a query split across reads, down to single bytes, is reassembled', async () => {
  const bytes = Buffer.concat([frame(buildQuery(names[0]!, { id: 7 })), frame(buildQuery(names[3]!, { id: 8, type: 6 }))]);
  const chunks = [...bytes].map((b) => Buffer.from([b]));
  const replies = (await tcpExchange(server.dnsPort, chunks, 2, 5000)).map(decode);
  assert.deepEqual(replies.map((r) => r.header.id), [7, 8]);
});

test('a malformed message on TCP gets FORMERR and the connection keeps working', async () => {
  const bad = buildQuery(names[0]!, { id: 9 });
  bad.writeUInt16BE(0, 4);
  const replies = (await tcpExchange(server.dnsPort, [Buffer.concat([frame(bad), frame(buildQuery(names[0]!, { id: 10 }))])], 2)).map(decode);
  assert.equal(replies[0]!.header.rcode, 1);
  assert.equal(replies[1]!.answers.length, 2);
});

test('an idle connection is closed after --tcp-idle-timeout', async () => {
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: server.dnsPort });
    s.on('error', reject);
    s.on('close', () => resolve());
    s.resume();
  });
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 350 && elapsed < 3000, `closed after ${elapsed} ms`);
});

test('connections past --tcp-max-connections are closed; the others keep being answered', async () => {
  const open = await Promise.all(
    [0, 1, 2].map(
      () =>
        new Promise<import('node:net').Socket>((resolve) => {
          const s = connect({ host: '127.0.0.1', port: server.dnsPort }, () => resolve(s));
        }),
    ),
  );
  await new Promise((r) => setTimeout(r, 50));
  const extraClosed = await new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port: server.dnsPort });
    s.on('close', () => resolve(true));
    s.on('error', () => undefined);
    setTimeout(() => resolve(false), 300);
  });
  assert.ok(extraClosed, 'the fourth connection was not closed');
  const reply = await new Promise<Buffer>((resolve) => {
    open[0]!.once('data', (d: Buffer) => resolve(d.subarray(2)));
    open[0]!.write(frame(buildQuery(names[0]!, { id: 11 })));
  });
  assert.equal(decode(reply).header.id, 11);
  for (const s of open) s.destroy();
});
