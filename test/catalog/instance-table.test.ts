import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InstanceTable } from '../../src/catalog/instance-table.js';

/** A small deterministic generator, so a failure replays. */
function random(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

test('reads as a Map does through any sequence of writes, below and past the size where it keeps a Map', () => {
  for (const keys of [4, 20, 60]) {
    const next = random(keys);
    const table = new InstanceTable<number>();
    const model = new Map<string, number>();
    for (let step = 0; step < 2000; step++) {
      const key = `i${Math.floor(next() * keys)}`;
      const op = next();
      if (op < 0.5) assert.equal(table.set(key, step), table);
      else if (op < 0.9) assert.equal(table.delete(key), model.delete(key));
      else if (op < 0.92) {
        table.clear();
        model.clear();
      }
      if (op < 0.5) model.set(key, step);
      assert.equal(table.size, model.size);
      assert.equal(table.get(key), model.get(key));
      assert.equal(table.has(key), model.has(key));
      assert.deepEqual([...table], [...model], `after step ${step} with ${keys} keys`);
    }
    assert.deepEqual([...table.keys()], [...model.keys()]);
    assert.deepEqual([...table.values()], [...model.values()]);
    const seen: [string, number][] = [];
    table.forEach((v, k, m) => {
      assert.equal(m, table);
      seen.push([k, v]);
    });
    assert.deepEqual(seen, [...model.entries()]);
  }
});

test('deleting and adding while iterating, as the catalog does when a source replaces a service', () => {
  for (const size of [5, 40]) {
    const table = new InstanceTable(Array.from({ length: size }, (_, i) => [`i${i}`, i] as const));
    const model = new Map(table);
    const visited: string[] = [];
    const modelVisited: string[] = [];
    for (const [key, value] of table) {
      visited.push(key);
      if (value % 2 === 0) table.delete(key);
    }
    for (const [key, value] of model) {
      modelVisited.push(key);
      if (value % 2 === 0) model.delete(key);
    }
    assert.deepEqual(visited, modelVisited);
    assert.deepEqual([...table], [...model]);
  }
});
