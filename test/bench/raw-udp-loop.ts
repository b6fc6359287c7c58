/**
 * The ceiling of the runtime for the benchmark: a Node UDP socket that answers
 * every query with one pre-encoded response (the query's ID copied in), doing
 * no parsing and no lookup. Usage: node --import tsx test/bench/raw-udp-loop.ts PORT [dgram|recvmmsg] [SPIN_NS]
 * (recvmmsg: through meshdns's native addon, dist/native/udp_batch.node, as --udp-io recvmmsg reads and writes;
 * SPIN_NS: JavaScript busy for that long on each query, the CPU of an answer path that costs as much as meshdns's).
 * Prints "listening PORT" once bound.
 */
import { createSocket } from 'node:dgram';
import { loadUdpBatch } from '../../src/dns/udp-batch.js';

const port = Number(process.argv[2] ?? 0);
const io = process.argv[3] ?? 'dgram';
const spinNs = BigInt(process.argv[4] ?? 0);
/** Busy for spinNs on the answering thread (nothing when 0). */
const spin = (): void => {
  if (spinNs === 0n) return;
  const until = process.hrtime.bigint() + spinNs;
  while (process.hrtime.bigint() < until);
};
// A response the size of a typical meshdns A answer: header, question svc-1.bench.linkerd.local A, three A records.
const name = Buffer.from('\x05svc-1\x05bench\x07linkerd\x05local\x00', 'latin1');
const header = Buffer.from([0, 0, 0x84, 0, 0, 1, 0, 3, 0, 0, 0, 0]);
const question = Buffer.concat([name, Buffer.from([0, 1, 0, 1])]);
const records = [1, 2, 3].map((i) => Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 100, 1, i]));
const response = Buffer.concat([header, question, ...records]);

if (io === 'recvmmsg') {
  const loaded = loadUdpBatch();
  if (!('addon' in loaded)) throw new Error(loaded.error);
  const addon = loaded.addon;
  const rx = Buffer.allocUnsafeSlow(addon.BATCH * addon.SLOT);
  const tx = Buffer.allocUnsafeSlow(addon.BATCH * addon.SLOT);
  const meta = new Int32Array(addon.BATCH * 3);
  const handle = addon.open(4, '127.0.0.1', port, false, rx, tx, meta, new Uint8Array(addon.BATCH * 16), (count, first) => {
    for (let i = first; i < first + count; i++) {
      if (meta[i * 3]! < 2) continue;
      spin();
      response[0] = rx[i * addon.SLOT]!;
      response[1] = rx[i * addon.SLOT + 1]!;
      meta[i * 3 + 2] = response.copy(tx, i * addon.SLOT);
    }
    return false;
  });
  console.log(`listening ${addon.localPort(handle)}`);
} else {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    if (msg.length < 2) return;
    spin();
    response[0] = msg[0]!;
    response[1] = msg[1]!;
    socket.send(response, rinfo.port, rinfo.address);
  });
  socket.bind(port, '127.0.0.1', () => console.log(`listening ${socket.address().port}`));
}
