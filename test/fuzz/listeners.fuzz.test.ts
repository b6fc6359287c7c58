import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import fc from 'fast-check';
import { buildQuery, decode, frame, udpExchange } from '../support/dns-client.js';
import { fuzzMessage } from '../support/fuzz-messages.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { strictParseResponse } from '../support/strict-dns.js';
import { fuzzRuns, fuzzSeed } from '../support/fuzz-settings.js';

/**
 * The real server process and its real sockets under fuzzed traffic: every
 * datagram or frame that comes back must be a well-formed DNS message, the
 * TCP listener must answer every message that has a header, and the server
 * must be up and answering correctly afterwards.
 */

let server: MeshdnsProcess;
/** The same server with UDP through node:dgram: the fuzzer reads both UDP paths (recvmmsg is the default). */
let dgramServer: MeshdnsProcess;
before(async () => {
  server = await startMeshdns(['--upstream', 'none', '--udp-io', 'recvmmsg']);
  dgramServer = await startMeshdns(['--upstream', 'none', '--udp-io', 'dgram']);
});
after(async () => {
  await server.stop();
  await dgramServer.stop();
});

const answerable = (m: Buffer): boolean => m.length >= 12 && (m[2]! & 0x80) === 0;

async function stillAnswering(target = server): Promise<void> {
  const reply = await udpExchange(target.dnsPort, buildQuery('web.default.linkerd.local'));
  assert.equal(decode(reply!).answers.length, 2);
  assert.equal(target.proc.exitCode, null);
}

/** Fuzzed messages in chunks, so a million of them never sit in memory at once. */
function* fuzzedChunks(total: number, seed: number, size = 50_000): Generator<Buffer[]> {
  for (let done = 0, i = 0; done < total; done += size, i++) {
    yield fc.sample(fuzzMessage, { numRuns: Math.min(size, total - done), seed: seed + i });
  }
}

for (const io of ['recvmmsg', 'dgram'] as const) {
test(`UDP listener (--udp-io ${io}): ${fuzzRuns(1_000_000)} fuzzed datagrams, every reply well-formed`, async () => {
  const target = io === 'recvmmsg' ? server : dgramServer;
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  let replies = 0;
  const bad: string[] = [];
  socket.on('message', (m) => {
    replies++;
    try {
      strictParseResponse(m);
    } catch (err) {
      bad.push((err as Error).message);
    }
  });
  let expected = 0;
  let lost = 0;
  for (const inputs of fuzzedChunks(fuzzRuns(1_000_000), fuzzSeed())) {
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i]!;
      if (answerable(input)) expected++;
      socket.send(input, target.dnsPort, '127.0.0.1');
      // Keep a bounded window in flight so the kernel's buffers, not the server, set the pace.
      // (A datagram the kernel dropped never comes back: wait at most 50 ms for the window.)
      if (i % 256 === 255) {
        const deadline = Date.now() + 50;
        while (expected - replies - lost > 512 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
        lost = Math.max(lost, expected - replies - 512);
      }
    }
  }
  await new Promise((r) => setTimeout(r, 300));
  socket.close();
  assert.deepEqual(bad.slice(0, 3), []);
  assert.ok(replies >= expected * 0.95, `${replies} replies to ${expected} answerable datagrams`);
  await stillAnswering(target);
});
}

test(`TCP listener: ${fuzzRuns(250_000)} fuzzed frames over pipelining connections, each answerable one answered well-formed`, async () => {
  for (const inputs of fuzzedChunks(fuzzRuns(250_000), fuzzSeed() + 1000)) await tcpBatches(inputs);
  await stillAnswering();
});

async function tcpBatches(inputs: Buffer[]): Promise<void> {
  const batch = 500;
  for (let start = 0; start < inputs.length; start += batch) {
    const chunk = inputs.slice(start, start + batch);
    const expected = chunk.filter(answerable).length;
    const got = await new Promise<number>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: server.dnsPort }, () => s.end(Buffer.concat(chunk.map(frame))));
      let buffered = Buffer.alloc(0);
      let count = 0;
      s.on('data', (d: Buffer) => {
        buffered = Buffer.concat([buffered, d]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          const len = buffered.readUInt16BE(0);
          try {
            strictParseResponse(buffered.subarray(2, 2 + len));
          } catch (err) {
            reject(err);
          }
          buffered = buffered.subarray(2 + len);
          count++;
        }
      });
      s.on('error', reject);
      s.on('close', () => resolve(count));
    });
    assert.equal(got, expected, `batch at ${start}: ${got} answers to ${expected} answerable frames`);
  }
}
