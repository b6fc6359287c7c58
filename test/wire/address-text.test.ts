import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ipv6Text } from '../../src/wire/address-text.js';

/** WHATWG's IPv6 serializer: the same compression rule, without the embedded dotted quads. */
const whatwg = (bytes: Uint8Array): string => {
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!).toString(16)).join(':');
  return new URL(`http://[${groups}]/`).hostname.slice(1, -1);
};
const embedsIpv4 = (b: Uint8Array): boolean => {
  const g = (i: number): number => (b[i * 2]! << 8) | b[i * 2 + 1]!;
  const zeros = (n: number): boolean => Array.from({ length: n }, (_, i) => g(i)).every((x) => x === 0);
  return (zeros(5) && g(5) === 0xffff) || (zeros(6) && (g(6) !== 0 || (g(7) !== 0 && g(7) !== 1)));
};

test('IPv6 sender text is what node:dgram reports (libuv inet_ntop): compression as WHATWG, dotted quads as ISC', () => {
  const cases: [string, number[]][] = [
    ['::1', [...Array(15).fill(0), 1]],
    ['::', Array(16).fill(0)],
    ['::ffff:10.1.2.3', [...Array(10).fill(0), 0xff, 0xff, 10, 1, 2, 3]],
    ['::10.1.2.3', [...Array(12).fill(0), 10, 1, 2, 3]],
    ['::0.0.0.2', [...Array(15).fill(0), 2]],
    ['fd00::1:0:0:1', [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]],
    ['2001:db8:0:1:1:1:1:1', [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]],
  ];
  for (const [text, bytes] of cases) assert.equal(ipv6Text(Uint8Array.from(bytes)), text);
  // Addresses with runs of zeros, every shape: compressed like WHATWG's serializer when no quad is embedded.
  const byte = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 255 }));
  fc.assert(
    fc.property(fc.array(byte, { minLength: 16, maxLength: 16 }), (array) => {
      const bytes = Uint8Array.from(array);
      if (!embedsIpv4(bytes)) assert.equal(ipv6Text(bytes), whatwg(bytes));
    }),
    { numRuns: 5000 },
  );
});
