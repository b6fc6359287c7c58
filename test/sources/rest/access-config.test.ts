import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadConfig } from '../../../src/config/config.js';
import { Access } from '../../../src/sources/rest/access.js';
import { readAccessTokens } from '../../../src/sources/rest/access-config.js';
import { fuzzRuns, fuzzSeed } from '../../support/fuzz-settings.js';

const dir = mkdtempSync(join(tmpdir(), 'meshdns-access-prop-'));
let n = 0;
const writeFile = (text: string): string => {
  const path = join(dir, `f${n++}`);
  writeFileSync(path, text);
  return path;
};

// Mostly what users write, sometimes what they get wrong: enough of both to accept many and refuse many.
const secret = fc.oneof(
  { arbitrary: fc.stringMatching(/^[A-Za-z0-9._~+/-]{16,40}$/), weight: 6 },
  { arbitrary: fc.string({ minLength: 0, maxLength: 24 }), weight: 1 },
  { arbitrary: fc.constantFrom('ЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖ', 'aaaaaaaa bbbbbbbbbbb', '', 'api-token-file'), weight: 1 },
);
const pattern = fc.constantFrom('*', '*/*', 'shop/*', 'shop/cart', '*/cart', 'pay/api', 'bad pattern');
const entry = fc.record(
  {
    name: fc.oneof({ arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), weight: 8 }, { arbitrary: fc.constantFrom('api-token-file', 'x y', ''), weight: 1 }),
    token: secret,
    write: fc.array(pattern, { maxLength: 3 }),
    read: fc.oneof({ arbitrary: fc.boolean(), weight: 8 }, { arbitrary: fc.constant('yes'), weight: 1 }),
  },
  { requiredKeys: ['name', 'token'] },
);
/** A tokens file as users write it, or break it: a list of entries, nothing, other YAML, garbage. */
const tokensText = fc.oneof(
  { arbitrary: fc.array(entry, { maxLength: 4 }).map((list) => JSON.stringify(list)), weight: 6 },
  { arbitrary: fc.constantFrom('[]', '', 'null', '{}', '- a', '[{name: ci', 'tokens: []', '~'), weight: 1 },
  { arbitrary: fc.string({ maxLength: 60 }), weight: 1 },
);

test('property: no configuration that is accepted leaves reads or writes open that the README says are closed', () => {
  let accepted = 0;
  fc.assert(
    fc.property(fc.option(tokensText, { nil: undefined }), fc.option(secret, { nil: undefined }), fc.boolean(), fc.constantFrom('10.9.9.9', '127.0.0.1'), (tokensFile, tokenFile, readAuth, client) => {
      const argv = [
        ...(tokensFile === undefined ? [] : ['--api-tokens', writeFile(tokensFile)]),
        ...(tokenFile === undefined ? [] : ['--api-token-file', writeFile(tokenFile)]),
        ...(readAuth ? ['--api-read-auth', 'on'] : []),
      ];
      let tokens;
      try {
        tokens = readAccessTokens(loadConfig(argv, {}));
      } catch {
        return; // refused: nothing opened
      }
      accepted++;
      const access = new Access(tokens, readAuth);
      const configured = tokensFile !== undefined || tokenFile !== undefined;
      // A configured token source always holds a token: accepted files are never empty.
      if (configured) assert.ok(tokens.length > 0);
      // Writes without a token: only from loopback, and only when no token is configured at all.
      assert.equal(access.write(undefined, client, 'shop', 'cart').ok, !configured && client === '127.0.0.1');
      // A made-up token never writes or reads where tokens are required.
      assert.equal(access.write('Bearer made-up-token-0000000000', client, 'shop', 'cart').ok, !configured && client === '127.0.0.1');
      // Reads with read auth on need a token, always.
      if (readAuth) {
        assert.equal(access.read(undefined).ok, false);
        assert.equal(access.read('Bearer made-up-token-0000000000').ok, false);
      }
    }),
    { numRuns: fuzzRuns(400), seed: fuzzSeed() },
  );
  // Not vacuous: a good share of the generated configurations is accepted and checked.
  assert.ok(accepted > fuzzRuns(400) / 10, `only ${accepted} accepted configurations`);
});
