import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { udpExchange } from '../support/dns-client.js';
import { AddressText, loadUdpBatch } from '../../src/dns/udp-batch.js';

test('the addon is built here (npm run build with a C compiler): the suite runs the recvmmsg path, not only dgram', () => {
  const loaded = loadUdpBatch();
  assert.ok('addon' in loaded, 'error' in loaded ? loaded.error : '');
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
