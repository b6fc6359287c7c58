import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedStrings } from '../../src/catalog/shared-strings.js';
import { instanceKey } from '../../src/catalog/types.js';

test('a string spelled again is the one kept; past the bound strings come back as they are', () => {
  const shared = new SharedStrings(2);
  const a = shared.of(['rest', 'i0'].join('/'));
  assert.equal(shared.of(['rest', 'i0'].join('/')), a);
  shared.of('b');
  const c = ['c', 'x'].join('');
  assert.equal(shared.of(c), c, 'full: handed back');
  assert.equal(shared.of('cx'), 'cx');
});

test('instance keys are the same whether shared or not', () => {
  assert.equal(instanceKey('rest', 'i0'), 'rest/i0');
  assert.equal(instanceKey('kubernetes', '10.0.0.1', 'west'), 'kubernetes@west/10.0.0.1');
  assert.equal(instanceKey('rest', 'i0', 'west'), 'rest/i0');
  assert.equal(instanceKey('kubernetes', '10-0-0-1'), '10-0-0-1', 'the local cluster\'s: the id itself (no id has a /)');
  assert.equal(instanceKey('zonefile', '10-0-0-1'), 'zonefile/10-0-0-1');
});
