import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReverseNames } from '../../src/answers/reverse-names.js';
import { RRType } from '../../src/wire/constants.js';
import { keyOf, keyToText } from '../../src/wire/name.js';

const ptrs = (names: ReverseNames, address: string): string[] => {
  const reverse = address.includes(':') ? '' : `${address.split('.').reverse().join('.')}.in-addr.arpa.`;
  const node = names.lookup(keyOf(reverse));
  return node === undefined ? [] : node.rrsets.get(RRType.PTR)!.records.map((r) => keyToText(r.targetKey!));
};
const target = (name: string): string => keyOf(name);

test('a change that keeps every address and name keeps the PTRs; a moved address or renamed instance is redone', () => {
  const names = new ReverseNames(5, [keyOf('10.in-addr.arpa.')]);
  const web = [
    { address: '10.0.0.1', targetKey: target('a.web.default.linkerd.local.') },
    { address: '10.0.0.2', targetKey: target('b.web.default.linkerd.local.') },
  ];
  names.setService('default/web', web);
  // The same targets again (a weight or probe change rebuilt the service): nothing moves.
  names.setService('default/web', web.map((t) => ({ ...t })));
  assert.deepEqual(ptrs(names, '10.0.0.1'), ['a.web.default.linkerd.local.']);
  assert.deepEqual(ptrs(names, '10.0.0.2'), ['b.web.default.linkerd.local.']);
  assert.equal(names.size, 2);

  // b moved to 10.0.0.3: its old reverse name goes, its new one answers.
  names.setService('default/web', [web[0]!, { address: '10.0.0.3', targetKey: web[1]!.targetKey }]);
  assert.deepEqual(ptrs(names, '10.0.0.2'), []);
  assert.deepEqual(ptrs(names, '10.0.0.3'), ['b.web.default.linkerd.local.']);

  // Another service shares 10.0.0.1; renaming web's instance there keeps the other's PTR.
  names.setService('default/api', [{ address: '10.0.0.1', targetKey: target('x.api.default.linkerd.local.') }]);
  names.setService('default/web', [{ address: '10.0.0.1', targetKey: target('c.web.default.linkerd.local.') }, { address: '10.0.0.3', targetKey: web[1]!.targetKey }]);
  assert.deepEqual(ptrs(names, '10.0.0.1').sort(), ['c.web.default.linkerd.local.', 'x.api.default.linkerd.local.']);

  names.setService('default/web', []);
  assert.deepEqual(ptrs(names, '10.0.0.1'), ['x.api.default.linkerd.local.']);
  assert.deepEqual(ptrs(names, '10.0.0.3'), []);
  assert.equal(names.size, 1);
});
