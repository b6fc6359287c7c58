import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTtl, parseZone, ZoneSyntaxError } from '../../../src/sources/zonefile/parser.js';
import { keyOf } from '../../../src/wire/name.js';
import { RRType } from '../../../src/wire/constants.js';

const ZONE = `
$ORIGIN example.test.
$TTL 1h
@   IN  SOA ns1 hostmaster (
        2024010101 ; serial
        3600 900 604800
        60 )
    IN  NS  ns1
    IN  NS  ns2.other.test.
ns1     300 IN A 192.0.2.1
www IN 600 AAAA 2001:db8::1
        CNAME-less   ; comment after a blank-owner line? no: this is a name
`;

test('RFC 1035 syntax: $ORIGIN, $TTL, @, parentheses, comments, blank owners, TTL/class in either order', () => {
  const zone = parseZone(ZONE.replace(/.*CNAME-less.*\n/, ''), 'example.test.');
  assert.equal(zone.originKey, keyOf('example.test'));
  const types = zone.records.map((r) => [r.owner, r.type, r.ttl]);
  assert.deepEqual(types, [
    [keyOf('example.test'), RRType.SOA, 3600],
    [keyOf('example.test'), RRType.NS, 3600],
    [keyOf('example.test'), RRType.NS, 3600],
    [keyOf('ns1.example.test'), RRType.A, 300],
    [keyOf('www.example.test'), RRType.AAAA, 600],
  ]);
  const soa = zone.records[0]!.rdata;
  assert.equal(soa.readUInt32BE(soa.length - 4), 60); // minimum
  assert.equal(soa.readUInt32BE(soa.length - 20), 2024010101); // serial
  assert.equal(zone.records[2]!.targetKey, keyOf('ns2.other.test'));
});

test('every supported type encodes', () => {
  const zone = parseZone(
    [
      '$TTL 60',
      'a A 10.0.0.1',
      'b AAAA ::ffff:1.2.3.4',
      'c CNAME a',
      'd MX 10 mail.example.test.',
      '_sip._udp SRV 1 2 5060 a',
      'p PTR a',
      't TXT "hello world" "x\\"y" plain',
      'e CAA 0 issue "letsencrypt.org"',
      'n NS a',
      'u TYPE99 x', // rejected below
    ]
      .slice(0, -1)
      .join('\n'),
    'example.test.',
  );
  const byType = new Map(zone.records.map((r) => [r.type, r]));
  assert.deepEqual([...byType.get(RRType.A)!.rdata], [10, 0, 0, 1]);
  assert.equal(byType.get(RRType.AAAA)!.rdata.toString('hex'), '00000000000000000000ffff01020304');
  assert.equal(byType.get(RRType.CNAME)!.targetKey, keyOf('a.example.test'));
  assert.equal(byType.get(RRType.MX)!.rdata.readUInt16BE(0), 10);
  const srv = byType.get(RRType.SRV)!;
  assert.deepEqual([srv.rdata.readUInt16BE(0), srv.rdata.readUInt16BE(2), srv.rdata.readUInt16BE(4)], [1, 2, 5060]);
  assert.equal(srv.owner, keyOf('_sip._udp.example.test'));
  assert.equal(byType.get(RRType.TXT)!.rdata.toString('latin1'), '\x0bhello world\x03x"y\x05plain');
  assert.equal(byType.get(RRType.CAA)!.rdata.toString('latin1'), '\x00\x05issueletsencrypt.org');
});

test('TTL units', () => {
  assert.equal(parseTtl('300'), 300);
  assert.equal(parseTtl('1h30m'), 5400);
  assert.equal(parseTtl('1w'), 604800);
  assert.equal(parseTtl('abc'), undefined);
});

const broken: [string, string, number, RegExp][] = [
  ['unknown type', '$TTL 5\nok A 10.0.0.1\nbad FOO 1', 3, /unknown record type "FOO"/],
  ['bad address', '$TTL 5\n\nx A 300.1.1.1', 3, /not an IPv4 address/],
  ['missing paren', '$TTL 5\n@ SOA a b ( 1 2 3 4 5\nx A 1.2.3.4', 2, /unbalanced "\("/],
  ['stray paren', '$TTL 5\nx A 1.2.3.4 )', 2, /unbalanced "\)"/],
  ['no TTL', 'x A 1.2.3.4', 1, /no TTL/],
  ['out of zone', '$TTL 5\nx.other. A 1.2.3.4', 2, /outside the zone/],
  ['CNAME and other data', '$TTL 5\nx CNAME y\nx A 1.2.3.4', 3, /CNAME cannot share/],
  ['two SOAs', '$TTL 5\n@ SOA a b 1 2 3 4 5\n@ SOA a b 1 2 3 4 5', 3, /second SOA/],
  ['unterminated string', '$TTL 5\nx TXT "abc', 2, /unterminated/],
  ['label too long', `$TTL 5\n${'x'.repeat(64)} A 1.2.3.4`, 2, /longer than 63/],
  ['$ORIGIN label too long (found by fuzzing)', `$TTL 5\n$ORIGIN ${'x'.repeat(64)}.linkerd.local.\n@ A 1.2.3.4`, 2, /bad \$ORIGIN: label .* longer than 63/],
  ['unsupported directive', '$INCLUDE other.zone', 1, /not supported/],
  ['SRV port out of range', '$TTL 5\n_a._tcp SRV 0 0 70000 x', 2, /SRV port/],
  ['non-IN class', '$TTL 5\nx CH A 1.2.3.4', 2, /class CH/],
];

for (const [name, text, line, message] of broken) {
  test(`a broken zone names its line: ${name}`, () => {
    assert.throws(
      () => parseZone(text, 'example.test.'),
      (err: unknown) => err instanceof ZoneSyntaxError && err.line === line && message.test(err.message),
    );
  });
}

test('issue 23, low: a TXT record over 65,535 octets of data is a syntax error with its line, not a range error', () => {
  const strings = Array.from({ length: 300 }, () => `"${'x'.repeat(250)}"`).join(' ');
  const text = `$ORIGIN big.test.\n$TTL 60\n@ SOA ns hostmaster 1 60 60 60 60\n@ NS ns\nhuge TXT ${strings}\n`;
  assert.throws(
    () => parseZone(text, 'big.test.'),
    (err: unknown) => err instanceof ZoneSyntaxError && err.line === 5 && /at most 65,535/.test(err.message),
  );
});
