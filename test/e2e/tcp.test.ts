import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { buildQuery, decode, frame, tcpExchange } from '../support/dns-client.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';

let server: MeshdnsProcess;
before(async () => {
  server = await startMeshdns(['--upstream', 'none', '--tcp-idle-timeout', '400ms', '--tcp-max-connections', '10', '--tcp-max-connections-per-client', '2']);
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

/** A connection from a loopback source address of our choosing (each counts as another client). */
function openFrom(localAddress: string, port = server.dnsPort): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
    s.on('error', reject);
  });
}

function ask(s: Socket, id: number): Promise<number> {
  return new Promise((resolve, reject) => {
    if (s.destroyed) return reject(new Error(`closed before query ${id}`));
    const timer = setTimeout(() => reject(new Error(`no answer to query ${id} within 3 s`)), 3000);
    s.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve(decode(d.subarray(2)).header.id);
    });
    s.once('close', () => {
      clearTimeout(timer);
      reject(new Error('closed instead of answering'));
    });
    s.write(frame(buildQuery(names[0]!, { id })));
  });
}

function closedWithin(s: Socket, ms: number): Promise<boolean> {
  if (s.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    s.on('close', () => resolve(true));
    s.on('error', () => undefined);
    setTimeout(() => resolve(false), ms);
  });
}

test('at --tcp-max-connections a new client takes the place of a connection that never sent a query', async () => {
  // Its own server: idle connections must outlive the steps of this test, however slow the machine.
  const capped = await startMeshdns(['--upstream', 'none', '--tcp-idle-timeout', '10s', '--tcp-max-connections', '3']);
  try {
    const active = [await openFrom('127.0.0.11', capped.dnsPort), await openFrom('127.0.0.12', capped.dnsPort)];
    const silent = await openFrom('127.0.0.13', capped.dnsPort);
    for (const [i, s] of active.entries()) assert.equal(await ask(s, 20 + i), 20 + i);
    const newcomer = await openFrom('127.0.0.14', capped.dnsPort);
    assert.equal(await ask(newcomer, 30), 30);
    assert.ok(await closedWithin(silent, 1000), 'the silent connection was not closed to make room');
    assert.equal(await ask(active[0]!, 31), 31);
    assert.equal(await ask(active[1]!, 32), 32);
    for (const s of [...active, newcomer]) s.destroy();
  } finally {
    await capped.stop();
  }
});

test('slowloris: bytes trickled without completing a message do not hold a connection past --tcp-idle-timeout', async () => {
  const s = await openFrom('127.0.0.21');
  const started = Date.now();
  const trickle = setInterval(() => s.writable && s.write(Buffer.from([0])), 100);
  s.write(Buffer.from([0x01])); // a length prefix of 256+ bytes that never arrive in full
  const closed = await closedWithin(s, 3000);
  clearInterval(trickle);
  assert.ok(closed, 'a trickling connection was kept open');
  assert.ok(Date.now() - started >= 350, `closed after ${Date.now() - started} ms`);
});

test('one client cannot hold more than --tcp-max-connections-per-client; other clients are still answered', async () => {
  const mine = [await openFrom('127.0.0.31'), await openFrom('127.0.0.31')];
  const third = await openFrom('127.0.0.31').catch(() => undefined);
  assert.ok(third === undefined || (await closedWithin(third, 1000)), 'a third connection from one client was kept');
  const other = await openFrom('127.0.0.32');
  assert.equal(await ask(other, 40), 40);
  assert.equal(await ask(mine[0]!, 41), 41);
  for (const s of [...mine, other]) s.destroy();
});
