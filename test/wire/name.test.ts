import { test } from 'node:test';
import assert from 'node:assert/strict';
import { childKey, isAtOrBelow, keyOf, keyToText, labelCount, nameToWire, parentKey, splitPresentationName } from '../../src/wire/name.js';

test('presentation names become wire names, escapes honoured', () => {
  assert.deepEqual(nameToWire('web.default.linkerd.local.'), Buffer.from('\x03web\x07default\x07linkerd\x05local\x00', 'latin1'));
  assert.deepEqual(nameToWire('a\\.b.c'), Buffer.from('\x03a.b\x01c\x00', 'latin1'));
  assert.deepEqual(nameToWire('\\065x.'), Buffer.from('\x02Ax\x00', 'latin1'));
  assert.deepEqual(nameToWire('.'), Buffer.from([0]));
});

test('bad names are rejected with a reason', () => {
  assert.throws(() => nameToWire('a..b'), /empty label/);
  assert.throws(() => nameToWire('x'.repeat(64) + '.com'), /longer than 63/);
  assert.throws(() => nameToWire(Array(130).fill('ab').join('.')), /longer than 255/);
  assert.throws(() => splitPresentationName('a\\'), /dangling/);
});

test('keys are lowercase and compare across letter case', () => {
  assert.equal(keyOf('WeB.Default.LINKERD.local'), keyOf('web.default.linkerd.local.'));
  assert.equal(keyToText(keyOf('Web.Default.linkerd.local')), 'web.default.linkerd.local.');
});

test('zone membership checks label boundaries', () => {
  const zone = keyOf('linkerd.local');
  assert.ok(isAtOrBelow(keyOf('web.default.linkerd.local'), zone));
  assert.ok(isAtOrBelow(zone, zone));
  assert.ok(!isAtOrBelow(keyOf('notlinkerd.local'), zone));
  assert.ok(!isAtOrBelow(keyOf('local'), zone));
  // A label whose bytes happen to end like the zone's wire form.
  // One label "ab\x07linkerd\x05local": its wire form ends with the zone's bytes, but not at a label start.
  const tricky = '\x11ab\x07linkerd\x05local\x00';
  assert.ok(tricky.endsWith(zone));
  assert.ok(!isAtOrBelow(tricky, zone));
});

test('parent, child and label count', () => {
  const zone = keyOf('linkerd.local');
  const svc = childKey(['web', 'default'], zone);
  assert.equal(svc, keyOf('web.default.linkerd.local'));
  assert.equal(parentKey(svc), keyOf('default.linkerd.local'));
  assert.equal(labelCount(svc), 4);
  assert.equal(parentKey(keyOf('.')), undefined);
});
