import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addressOfReverseKey, addressText, ReverseNames, reverseName } from '../../src/answers/reverse-names.js';
import { recordObjects } from '../../src/answers/name-table.js';
import { RRType } from '../../src/wire/constants.js';
import { keyOf, keyToText } from '../../src/wire/name.js';
import { ipv6Text } from '../../src/wire/address-text.js';

const ptrs = (names: ReverseNames, address: string): string[] => {
  const reverse = address.includes(':') ? '' : `${address.split('.').reverse().join('.')}.in-addr.arpa.`;
  const node = names.lookup(keyOf(reverse));
  return node === undefined ? [] : recordObjects(node.rrsets.get(RRType.PTR)!).map((r) => keyToText(r.targetKey!));
};
/** A target as the projection gives it: the instance's label and its service's key. */
const target = (name: string): { label: string; parent: string } => {
  const [first, ...rest] = name.split('.');
  return { label: first!, parent: keyOf(rest.join('.')) };
};

test('a change that keeps every address and name keeps the PTRs; a moved address or renamed instance is redone', () => {
  const names = new ReverseNames(5, [keyOf('10.in-addr.arpa.')]);
  const web = [
    { address: '10.0.0.1', ...target('a.web.default.linkerd.local.') },
    { address: '10.0.0.2', ...target('b.web.default.linkerd.local.') },
  ];
  names.setService('default/web', web);
  // The same targets again (a weight or probe change rebuilt the service): nothing moves.
  names.setService('default/web', web.map((t) => ({ ...t })));
  assert.deepEqual(ptrs(names, '10.0.0.1'), ['a.web.default.linkerd.local.']);
  assert.deepEqual(ptrs(names, '10.0.0.2'), ['b.web.default.linkerd.local.']);
  assert.equal(names.size, 2);

  // b moved to 10.0.0.3: its old reverse name goes, its new one answers.
  names.setService('default/web', [web[0]!, { ...web[1]!, address: '10.0.0.3' }]);
  assert.deepEqual(ptrs(names, '10.0.0.2'), []);
  assert.deepEqual(ptrs(names, '10.0.0.3'), ['b.web.default.linkerd.local.']);

  // Another service shares 10.0.0.1; renaming web's instance there keeps the other's PTR.
  names.setService('default/api', [{ address: '10.0.0.1', ...target('x.api.default.linkerd.local.') }]);
  names.setService('default/web', [{ address: '10.0.0.1', ...target('c.web.default.linkerd.local.') }, { ...web[1]!, address: '10.0.0.3' }]);
  assert.deepEqual(ptrs(names, '10.0.0.1').sort(), ['c.web.default.linkerd.local.', 'x.api.default.linkerd.local.']);

  names.setService('default/web', []);
  assert.deepEqual(ptrs(names, '10.0.0.1'), ['x.api.default.linkerd.local.']);
  assert.deepEqual(ptrs(names, '10.0.0.3'), []);
  assert.equal(names.size, 1);
});

test('a reverse name is read back into the address text the table keeps; any other name is no address', () => {
  assert.equal(addressOfReverseKey(keyOf('7.0.0.10.in-addr.arpa.')), '10.0.0.7');
  assert.equal(addressOfReverseKey(keyOf('7.0.0.10.IN-ADDR.ARPA.')), '10.0.0.7');
  // Not a whole address, an octet with a leading zero or too large, an extra label, a label with a dot in it.
  for (const name of ['0.0.10.in-addr.arpa.', '07.0.0.10.in-addr.arpa.', '256.0.0.10.in-addr.arpa.', '1.7.0.0.10.in-addr.arpa.', '7\\.0.0.10.in-addr.arpa.', 'in-addr.arpa.', 'web.default.linkerd.local.']) {
    assert.equal(addressOfReverseKey(keyOf(name)), undefined, name);
  }
  const v6 = (address: string): string => keyOf(reverseName(address));
  assert.equal(addressOfReverseKey(v6('fd00::7')), 'fd00::7');
  assert.equal(addressOfReverseKey(v6('2001:db8:0:0:1:0:0:1')), '2001:db8::1:0:0:1');
  assert.equal(addressOfReverseKey(v6('::ffff:a00:7')), '::ffff:10.0.0.7');
  assert.equal(addressOfReverseKey(keyOf(`x.${reverseName('fd00::7').slice(2)}`)), undefined);
  // One text however the address was written, the same string when it already is that text.
  assert.equal(addressText('FD00:0:0::0007'), 'fd00::7');
  assert.equal(addressText('2001:db8:1:0:0:0:0:0'), '2001:db8:1::');
  assert.equal(addressText('1:0:0:2:0:0:0:3'), '1:0:0:2::3');
  assert.equal(addressText('1:0:0:2:0:0:3:4'), '1::2:0:0:3:4');
  const text = 'fd00::7';
  assert.equal(addressText(text), text);
});

test('an IPv6 instance written in any form answers its PTR, and a change to how it is written moves nothing', () => {
  const names = new ReverseNames(5, [keyOf('d.f.ip6.arpa.')]);
  names.setService('default/web', [{ address: 'FD00:0::7', ...target('a.web.default.linkerd.local.') }]);
  const node = names.lookup(keyOf(reverseName('fd00::7')));
  assert.deepEqual(recordObjects(node!.rrsets.get(RRType.PTR)!).map((r) => keyToText(r.targetKey!)), ['a.web.default.linkerd.local.']);
  names.setService('default/web', [{ address: 'fd00::7', ...target('a.web.default.linkerd.local.') }]);
  assert.equal(names.size, 1);
  // The names between the PTR name and the owned zone's apex exist (empty); the parent of the zone is not ours.
  assert.notEqual(names.lookup(keyOf(reverseName('fd00::7').split('.').slice(1).join('.'))), undefined);
  names.setService('default/web', []);
  assert.equal(names.lookup(keyOf(reverseName('fd00::7'))), undefined);
  assert.equal(names.lookup(keyOf(reverseName('fd00::7').split('.').slice(1).join('.'))), undefined);
});

test('two instances of one service at one address answer a PTR each, and go together', () => {
  const names = new ReverseNames(5, []);
  names.setService('default/web', [
    { address: '10.0.0.9', ...target('a.web.default.linkerd.local.') },
    { address: '10.0.0.9', ...target('b.web.default.linkerd.local.') },
  ]);
  names.setService('default/api', [{ address: '10.0.0.9', ...target('x.api.default.linkerd.local.') }]);
  assert.deepEqual(ptrs(names, '10.0.0.9').sort(), ['a.web.default.linkerd.local.', 'b.web.default.linkerd.local.', 'x.api.default.linkerd.local.']);
  names.setService('default/web', [{ address: '10.0.0.9', ...target('b.web.default.linkerd.local.') }]);
  assert.deepEqual(ptrs(names, '10.0.0.9').sort(), ['b.web.default.linkerd.local.', 'x.api.default.linkerd.local.']);
  names.setService('default/web', []);
  names.setService('default/api', []);
  assert.deepEqual(ptrs(names, '10.0.0.9'), []);
  assert.equal(names.size, 0);
});

test('every address reads back from its reverse name, and no query name makes the reading throw', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), (octets) => {
      const address = octets.join('.');
      assert.equal(addressOfReverseKey(keyOf(reverseName(address))), address);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (octets) => {
      const address = ipv6Text(octets);
      assert.equal(addressText(address), address);
      assert.equal(addressOfReverseKey(keyOf(reverseName(address))), address);
    }),
    { numRuns: 2000 },
  );
  // Any labels under either reverse tree: an address or nothing, never an exception.
  const label = fc.oneof(fc.stringMatching(/^[0-9a-f]{1,4}$/), fc.string({ minLength: 1, maxLength: 5 }).filter((l) => !l.includes('.') && !l.includes('\\')));
  fc.assert(
    fc.property(fc.array(label, { minLength: 0, maxLength: 34 }), fc.constantFrom('in-addr.arpa.', 'ip6.arpa.'), (labels, tree) => {
      const read = addressOfReverseKey(keyOf([...labels, tree].join('.')));
      if (read !== undefined) assert.equal(addressOfReverseKey(keyOf(reverseName(read))), read);
    }),
    { numRuns: 3000 },
  );
});
