import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { udpExchange } from '../support/dns-client.js';
import { AddressText, ipv6Text, loadUdpBatch } from '../../src/dns/udp-batch.js';

/** WHATWG's IPv6 serializer: the same compression rule, without the embedded dotted quads. */
const whatwg = (bytes: Uint8Array): string => {
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!).toString(16)).join(':');
  return new URL(`http://[${groups}]/`).hostname.slice(1, -1);
};
const embedsIpv4 = (b: Uint8Array): boolean => {
  const g = (i: number): number => (b[i * 2]! << 8) | b[i * 2 + 1]!;
  const zeros = (n: number): boolean => Array.from({ length: n }, (_, i) => g(i)).every((x) => x === 0);
  return (zeros(5) && g(5) === 0xffff) || (zeros(6) && (g(6) !== 0 || (g(7) !== 0 && g(7) !== 1)));
};

test('the addon is built here (npm run build with a C compiler): the suite runs the recvmmsg path, not only dgram', () => {
  const loaded = loadUdpBatch();
  assert.ok('addon' in loaded, 'error' in loaded ? loaded.error : '');
});

test('IPv6 sender text is what node:dgram reports (libuv inet_ntop): compression as WHATWG, dotted quads as ISC', () => {
  const cases: [string, number[]][] = [
    ['::1', [...Array(15).fill(0), 1]],
    ['::', Array(16).fill(0)],
    ['::ffff:10.1.2.3', [...Array(10).fill(0), 0xff, 0xff, 10, 1, 2, 3]],
    ['::10.1.2.3', [...Array(12).fill(0), 10, 1, 2, 3]],
    ['::0.0.0.2', [...Array(15).fill(0), 2]],
    ['fd00::1:0:0:1', [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]],
    ['2001:db8:0:1:1:1:1:1', [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]],
  ];
  for (const [text, bytes] of cases) assert.equal(ipv6Text(Uint8Array.from(bytes)), text);
  // Addresses with runs of zeros, every shape: compressed like WHATWG's serializer when no quad is embedded.
  const byte = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 255 }));
  fc.assert(
    fc.property(fc.array(byte, { minLength: 16, maxLength: 16 }), (array) => {
      const bytes = Uint8Array.from(array);
      if (!embedsIpv4(bytes)) assert.equal(ipv6Text(bytes), whatwg(bytes));
    }),
    { numRuns: 5000 },
  );
});

test('sender text is cached per address and bounded', () => {
  const text = new AddressText();
  const bytes = new Uint8Array(32);
  bytes.set([10, 0, 0, 1], 0);
  bytes.set([10, 0, 0, 2], 16);
  assert.equal(text.ipv4(bytes, 0), '10.0.0.1');
  assert.equal(text.ipv4(bytes, 16), '10.0.0.2');
  assert.equal(text.ipv4(bytes, 0), '10.0.0.1');
  for (let i = 0; i < 5000; i++) {
    bytes.set([192, 168, i >> 8, i & 255], 0);
    assert.equal(text.ipv4(bytes, 0), `192.168.${i >> 8}.${i & 255}`);
  }
});

test('an open addon socket lives until closed, even with no JavaScript reference to its handle (as a dgram socket does)', async () => {
  const loaded = loadUdpBatch();
  assert.ok('addon' in loaded);
  const addon = loaded.addon;
  const rx = Buffer.alloc(addon.BATCH * addon.SLOT);
  const tx = Buffer.alloc(addon.BATCH * addon.SLOT);
  const meta = new Int32Array(addon.BATCH * 3);
  let port = 0;
  const weak = ((): WeakRef<object> => {
    const handle = addon.open(4, '127.0.0.1', 0, false, rx, tx, meta, new Uint8Array(addon.BATCH * 16), (count, first) => {
      // Echo: the answer to datagram i is the datagram itself.
      for (let i = first; i < first + count; i++) meta[i * 3 + 2] = rx.copy(tx, i * addon.SLOT, i * addon.SLOT, i * addon.SLOT + meta[i * 3]!);
      return false;
    });
    port = addon.localPort(handle);
    return new WeakRef(handle);
  })();
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  const reply = await udpExchange(port, Buffer.from('still here'), 1000);
  assert.equal(reply?.toString(), 'still here');
  const handle = weak.deref();
  assert.ok(handle !== undefined);
  addon.close(handle as Parameters<typeof addon.close>[0]);
  assert.equal(await udpExchange(port, Buffer.from('gone'), 300), null);
});
