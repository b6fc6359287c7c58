import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readWord, writeWord } from '../../src/wire/words.js';

test('words are read and written as Buffer reads and writes them, big-endian, at any offset', () => {
  const ours = Buffer.alloc(5);
  const theirs = Buffer.alloc(5);
  for (let value = 0; value <= 0xffff; value++) {
    const at = value % 4;
    writeWord(ours, at, value);
    theirs.writeUInt16BE(value, at);
    assert.deepEqual(ours, theirs);
    assert.equal(readWord(ours, at), value);
    assert.equal(readWord(ours, at), theirs.readUInt16BE(at));
  }
});
