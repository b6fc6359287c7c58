import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressRecord, blockRecord, blockTail, RecordBlock, SRV_TARGET_AT, srvRecord, tailLengthAt, tailOf, writeTail, type BlockBytes, type EncodedRecord } from '../../src/wire/rdata.js';
import { RRType } from '../../src/wire/constants.js';
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

/** The glue positions an SRV record of a block lists after its tail. */
function gluePositions(bytes: BlockBytes, ref: number): number[] {
  const data = bytes.data;
  const end = bytes.base + ref + tailLengthAt(data, bytes.base + ref);
  return Array.from({ length: data[end]! }, (_, i) => data.readUInt32BE(end + 1 + 4 * i));
}

test('a block writes the same records as records of their own, side by side in one buffer, SRV glue listed after', () => {
  const block = new RecordBlock();
  const a = block.address('10.0.0.7', 5);
  const aaaa = block.address('fd00::7', 5);
  assert.equal(block.typeOf(a), RRType.A);
  assert.equal(block.typeOf(aaaa), RRType.AAAA);
  const srv = block.srv(5, 0, 30, 8080, target(7), [a, aaaa]);
  block.seal();
  const { bytes } = block;
  assert.deepEqual(blockTail(bytes, a), tailOf(addressRecord('10.0.0.7', 5)));
  assert.deepEqual(blockTail(bytes, aaaa), tailOf(addressRecord('fd00::7', 5)));
  const own = srvRecord(5, 0, 30, 8080, target(7), addressRecord('10.0.0.7', 5));
  assert.deepEqual(blockTail(bytes, srv), tailOf(own));
  assert.equal(own.targetOffset, SRV_TARGET_AT);
  assert.deepEqual(gluePositions(bytes, srv), [bytes.base + a, bytes.base + aaaa], 'the glue as positions in the data');
  assert.ok(aaaa === a + 14 && srv === aaaa + 26, 'the records side by side, exactly their size');
  // A second block is cut from the same slab, after the first: no buffer (or view) a block.
  const next = new RecordBlock();
  const b = next.address('10.0.0.8', 5);
  next.seal();
  assert.equal(next.bytes.data, bytes.data, 'the records point into the slab itself');
  assert.ok(next.bytes.base + b >= bytes.base + srv + tailLengthAt(bytes.data, bytes.base + srv) + 1 + 8, 'after the first block\'s bytes and glue');
  assert.deepEqual(blockTail(bytes, a), tailOf(addressRecord('10.0.0.7', 5)), 'the first block unchanged by the second');
  for (const ref of [a, aaaa, srv]) assert.deepEqual(written(blockRecord(bytes, ref)), blockTail(bytes, ref));
  assert.deepEqual(written(own), tailOf(own), 'a record of its own writes the same way');
});

test('a block larger than the scratch grows it and keeps every record\'s bytes and glue', () => {
  const block = new RecordBlock();
  const made: { srv: number; a: number }[] = [];
  // 2,000 SRV records of ~50 octets: several times the 16 KiB the scratch starts with.
  for (let i = 0; i < 2000; i++) {
    const a = block.address(`10.0.${i >> 8}.${i & 255}`, 5);
    made.push({ a, srv: block.srv(5, 0, i % 100, 8000 + i, target(i), a) });
  }
  block.seal();
  const { bytes } = block;
  for (let i = 0; i < 2000; i++) {
    const { a, srv } = made[i]!;
    assert.deepEqual(blockTail(bytes, srv), tailOf(srvRecord(5, 0, i % 100, 8000 + i, target(i), addressRecord('10.0.0.1', 5))));
    assert.deepEqual(blockTail(bytes, a), tailOf(addressRecord(`10.0.${i >> 8}.${i & 255}`, 5)));
    assert.deepEqual(gluePositions(bytes, srv), [bytes.base + a]);
  }
});

test('a block left open (a build that threw) is sealed by the next one: its records never see reused bytes', () => {
  const first = new RecordBlock();
  const kept = first.address('192.0.2.1', 60);
  const second = new RecordBlock();
  const other = second.address('198.51.100.2', 60);
  second.seal();
  assert.deepEqual(blockTail(first.bytes, kept), tailOf(addressRecord('192.0.2.1', 60)));
  assert.deepEqual(blockTail(second.bytes, other), tailOf(addressRecord('198.51.100.2', 60)));
  assert.throws(() => first.address('192.0.2.2', 60), /after it was sealed/);
});

test('small blocks are cut from a shared slab without touching each other; a large one has its own buffer', () => {
  const made: { bytes: BlockBytes; ref: number; address: string }[] = [];
  for (let s = 0; s < 3000; s++) {
    // 3,000 blocks of one record each: several 64 KiB slabs.
    const block = new RecordBlock();
    const address = `10.9.${s >> 8}.${s & 255}`;
    made.push({ bytes: block.bytes, ref: block.address(address, 30), address });
    block.seal();
  }
  assert.equal(made[0]!.bytes.data.buffer, made[1]!.bytes.data.buffer, 'two blocks, one slab');
  for (const { bytes, ref, address } of made) assert.deepEqual(blockTail(bytes, ref), tailOf(addressRecord(address, 30)));
  const big = new RecordBlock();
  const srvs = Array.from({ length: 400 }, (_, i) => big.srv(5, 0, 1, 9000, target(i), big.address(made[i]!.address, 30)));
  big.seal();
  assert.ok(big.bytes.data.length > 8 * 1024 && big.bytes.base === 0 && big.bytes.data.byteOffset === 0, 'a large block is a buffer of its own');
  srvs.forEach((ref, i) => assert.deepEqual(blockTail(big.bytes, ref), tailOf(srvRecord(5, 0, 1, 9000, target(i), addressRecord(made[i]!.address, 30)))));
});

test('an SRV target with more addresses than a count octet holds lists the first 255 as glue, and the record is whole', () => {
  const block = new RecordBlock();
  const addresses = Array.from({ length: 300 }, (_, i) => block.address(`10.1.${i >> 8}.${i & 255}`, 5));
  const srv = block.srv(5, 0, 1, 80, target(1), addresses);
  block.seal();
  assert.deepEqual(gluePositions(block.bytes, srv), addresses.slice(0, 255).map((ref) => block.bytes.base + ref));
  assert.deepEqual(blockTail(block.bytes, srv), tailOf(srvRecord(5, 0, 1, 80, target(1), addressRecord('10.0.0.1', 5))));
});
