import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientPrefix } from '../../../src/dns/rate-limit/client-prefix.js';

test('IPv4 clients are grouped by prefix; IPv4-mapped IPv6 counts as IPv4', () => {
  assert.equal(clientPrefix('192.0.2.17', 24, 56), clientPrefix('192.0.2.200', 24, 56));
  assert.notEqual(clientPrefix('192.0.2.17', 24, 56), clientPrefix('192.0.3.17', 24, 56));
  assert.equal(clientPrefix('::ffff:192.0.2.17', 24, 56), clientPrefix('192.0.2.1', 24, 56));
  assert.notEqual(clientPrefix('192.0.2.17', 32, 56), clientPrefix('192.0.2.18', 32, 56));
  assert.equal(clientPrefix('10.1.2.3', 0, 56), clientPrefix('192.168.0.1', 0, 56));
});

test('IPv6 clients are grouped by prefix, whatever the spelling of the address', () => {
  assert.equal(clientPrefix('2001:db8:0:ab::1', 56, 56), clientPrefix('2001:db8:0:aa:ffff::9', 56, 56));
  assert.notEqual(clientPrefix('2001:db8:0:100::1', 56, 56), clientPrefix('2001:db8:0:200::1', 56, 56));
  assert.equal(clientPrefix('2001:0db8:0000:0000:0000:0000:0000:0001', 128, 128), clientPrefix('2001:db8::1', 128, 128));
  assert.equal(clientPrefix('fe80::1%eth0', 64, 64), clientPrefix('fe80::2', 64, 64));
  assert.notEqual(clientPrefix('::1', 128, 128), clientPrefix('::2', 128, 128));
});
