import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Access, parseTokensFile } from '../../../src/sources/rest/access.js';
import { fuzzRuns, fuzzSeed } from '../../support/fuzz-settings.js';

const FILE = `
- {name: ci, token: "ci-token-0123456789", write: ["shop/*", "payments/api"], read: true}
- {name: ops, token: "ops-token-0123456789", write: ["*"]}
- {name: viewer, token: "viewer-token-0123456", write: []}
- {name: blind, token: "blind-token-01234567", write: ["*/web"], read: false}
`;
const bearer = (t: string): string => `Bearer ${t}`;

test('without tokens only loopback writes, and reads are open', () => {
  const a = new Access([], false);
  for (const addr of ['127.0.0.1', '127.4.5.6', '::1', '::ffff:127.0.0.1']) assert.equal(a.write(undefined, addr, 'a', 'b').ok, true, addr);
  for (const addr of ['10.0.0.1', 'fd00::1', undefined]) assert.deepEqual(a.write(undefined, addr, 'a', 'b').ok, false, String(addr));
  assert.equal(a.read(undefined).ok, true);
});

test('the --api-token-file token writes everything from anywhere; nobody else does, loopback included', () => {
  const a = new Access([Access.singleToken('t0k-secret')], false);
  assert.deepEqual(a.write(bearer('t0k-secret'), '10.0.0.1', 'x', 'y'), { ok: true, token: 'api-token-file' });
  assert.equal(a.write('bearer  t0k-secret ', '10.0.0.1', 'x', 'y').ok, true);
  const wrong = a.write(bearer('t0k-secreT'), '127.0.0.1', 'x', 'y');
  assert.ok(!wrong.ok && wrong.status === 401);
  const none = a.write(undefined, '127.0.0.1', 'x', 'y');
  assert.ok(!none.ok && none.status === 401);
  assert.equal(a.write('Basic dDBr', '127.0.0.1', 'x', 'y').ok, false);
});

test('scoped tokens: patterns over <ns>/<svc>, 403 outside them; read: false cannot read; --api-read-auth', () => {
  const tokens = parseTokensFile(FILE);
  const open = new Access(tokens, false);
  const cases: [string, string, string, boolean][] = [
    ['ci-token-0123456789', 'shop', 'cart', true],
    ['ci-token-0123456789', 'payments', 'api', true],
    ['ci-token-0123456789', 'payments', 'web', false],
    ['ops-token-0123456789', 'any', 'thing', true],
    ['viewer-token-0123456', 'shop', 'cart', false],
    ['blind-token-01234567', 'shop', 'web', true],
    ['blind-token-01234567', 'shop', 'api', false],
  ];
  for (const [token, ns, svc, allowed] of cases) {
    const v = open.write(bearer(token), '10.0.0.9', ns, svc);
    assert.equal(v.ok, allowed, `${token} ${ns}/${svc}`);
    if (!v.ok) assert.equal(v.status, 403);
  }
  assert.equal(open.read(undefined).ok, true);
  assert.equal(open.read(bearer('blind-token-01234567')).ok, false);
  const closed = new Access(tokens, true);
  const anonymous = closed.read(undefined);
  assert.ok(!anonymous.ok && anonymous.status === 401);
  assert.deepEqual(closed.read(bearer('viewer-token-0123456')), { ok: true, token: 'viewer' });
  const blind = closed.read(bearer('blind-token-01234567'));
  assert.ok(!blind.ok && blind.status === 403);
});

test('a broken tokens file is refused whole, naming the entry', () => {
  for (const [text, message] of [
    ['name: x', /a YAML list/],
    ['- {name: a, token: short}', /at least 16/],
    ['- {name: a, token: "0123456789abcdef", write: ["shop"]}', /patterns/],
    ['- {name: a, token: "0123456789abcdef", write: ["Shop/x"]}', /patterns/],
    ['- {name: a, token: "0123456789abcdef", read: "yes"}', /read must be true or false/],
    ['- {name: a, token: "0123456789abcdef", extra: 1}', /unknown field "extra"/],
    ['- {name: a, token: "0123456789abcdef"}\n- {name: a, token: "fedcba9876543210"}', /given twice/],
    ['- {name: "", token: "0123456789abcdef"}', /name must be/],
  ] as const) {
    assert.throws(() => parseTokensFile(text), message, text);
  }
});

test(`${fuzzRuns(2000)} fuzzed tokens files: parsed whole or refused with an Error, never anything else`, () => {
  const entry = fc.record(
    {
      name: fc.oneof(fc.string({ maxLength: 70 }), fc.constantFrom('ci', 'a.b-c_d')),
      token: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('0123456789abcdef', 'x'.repeat(64))),
      write: fc.oneof(fc.array(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('*', '*/*', 'shop/*', 'a/b'))), fc.jsonValue()),
      read: fc.oneof(fc.boolean(), fc.jsonValue()),
      extra: fc.jsonValue(),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.oneof(fc.array(entry, { maxLength: 4 }).map((e) => JSON.stringify(e)), fc.string({ maxLength: 200 })), (text) => {
      try {
        const tokens = parseTokensFile(text);
        for (const t of tokens) assert.equal(t.digest.length, 32);
      } catch (err) {
        assert.ok(err instanceof Error, String(err));
      }
    }),
    { numRuns: fuzzRuns(2000), seed: fuzzSeed() },
  );
});
