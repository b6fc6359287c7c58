import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressRecord, RecordBlock, srvRecord, tailOf, writeTail, type EncodedRecord } from '../../src/wire/rdata.js';
import { childKey } from '../../src/wire/name.js';

const target = (i: number): string => childKey([`i${i}`, 'web', 'default', 'linkerd', 'local'], '');

/** The bytes a record writes, as the answer writer writes them. */
function written(r: EncodedRecord): Buffer {
  const out = Buffer.alloc(r.length + 4, 0xee);
  writeTail(r, out, 2);
  assert.equal(out[0], 0xee);
  assert.equal(out[r.length + 2], 0xee, 'nothing written past the tail');
  return out.subarray(2, 2 + r.length);
}

test('a block writes the same records as records of their own, and shares one buffer among them', () => {
  const block = new RecordBlock();
  const a = block.address('10.0.0.7', 5);
  const aaaa = block.address('fd00::7', 5);
  const srv = block.srv(5, 0, 30, 8080, target(7), a);
  block.seal();
  assert.deepEqual(tailOf(a), tailOf(addressRecord('10.0.0.7', 5)));
  assert.deepEqual(tailOf(aaaa), tailOf(addressRecord('fd00::7', 5)));
  const own = srvRecord(5, 0, 30, 8080, target(7), a);
  assert.deepEqual(tailOf(srv), tailOf(own));
  assert.equal(srv.targetOffset, own.targetOffset);
  assert.equal(srv.glue, a);
  assert.equal(a.data, srv.data, 'one buffer for the block');
  assert.ok(aaaa.at === a.at + a.length && srv.at === aaaa.at + aaaa.length, 'the records side by side, exactly their size');
  // A second block is cut from the same slab, after the first: no buffer (or view) a block.
  const next = new RecordBlock();
  const b = next.address('10.0.0.8', 5);
  next.seal();
  assert.equal(b.data, a.data, 'the records point into the slab itself');
  assert.ok(b.at >= srv.at + srv.length, 'after the first block\'s bytes');
  assert.deepEqual(tailOf(a), tailOf(addressRecord('10.0.0.7', 5)), 'the first block unchanged by the second');
  for (const r of [a, aaaa, srv]) assert.deepEqual(written(r), tailOf(r));
  assert.deepEqual(written(own), tailOf(own), 'a record of its own writes the same way');
});

test('a block larger than the scratch grows it and keeps every record\'s bytes', () => {
  const block = new RecordBlock();
  const records: EncodedRecord[] = [];
  // 2,000 SRV records of ~50 octets: several times the 16 KiB the scratch starts with.
  for (let i = 0; i < 2000; i++) records.push(block.srv(5, 0, i % 100, 8000 + i, target(i), block.address(`10.0.${i >> 8}.${i & 255}`, 5)));
  block.seal();
  for (let i = 0; i < 2000; i++) {
    const r = records[i]!;
    assert.deepEqual(tailOf(r), tailOf(srvRecord(5, 0, i % 100, 8000 + i, target(i), r.glue!)));
    assert.deepEqual(tailOf(r.glue as EncodedRecord), tailOf(addressRecord(`10.0.${i >> 8}.${i & 255}`, 5)));
  }
});

test('a block left open (a build that threw) is sealed by the next one: its records never see reused bytes', () => {
  const first = new RecordBlock();
  const kept = first.address('192.0.2.1', 60);
  const second = new RecordBlock();
  const other = second.address('198.51.100.2', 60);
  second.seal();
  assert.deepEqual(tailOf(kept), tailOf(addressRecord('192.0.2.1', 60)));
  assert.deepEqual(tailOf(other), tailOf(addressRecord('198.51.100.2', 60)));
  assert.throws(() => first.address('192.0.2.2', 60), /after it was sealed/);
});

test('small blocks are cut from a shared slab without touching each other; a large one has its own buffer', () => {
  const made: { r: EncodedRecord; address: string }[] = [];
  for (let s = 0; s < 3000; s++) {
    // 3,000 blocks of one record each: several 64 KiB slabs.
    const block = new RecordBlock();
    const address = `10.9.${s >> 8}.${s & 255}`;
    made.push({ r: block.address(address, 30), address });
    block.seal();
  }
  assert.equal(made[0]!.r.data.buffer, made[1]!.r.data.buffer, 'two blocks, one slab');
  for (const { r, address } of made) assert.deepEqual(tailOf(r), tailOf(addressRecord(address, 30)));
  const big = new RecordBlock();
  const srvs = Array.from({ length: 400 }, (_, i) => big.srv(5, 0, 1, 9000, target(i), made[i]!.r));
  big.seal();
  assert.ok(srvs[0]!.data.length > 8 * 1024 && srvs[0]!.data.byteOffset === 0, 'a large block is a buffer of its own');
  srvs.forEach((r, i) => assert.deepEqual(tailOf(r), tailOf(srvRecord(5, 0, 1, 9000, target(i), made[i]!.r))));
});
