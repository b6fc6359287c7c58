import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseZone, ZoneSyntaxError } from '../../src/sources/zonefile/parser.js';
import { buildZoneData } from '../../src/sources/zonefile/zone-data.js';
import { core } from '../support/in-process.js';
import { buildQuery } from '../support/dns-client.js';
import { repoRoot } from '../support/meshdns-process.js';
import { strictParseResponse } from '../support/strict-dns.js';
import { fuzzRuns, fuzzSeed } from '../support/fuzz-settings.js';

/**
 * The zone-file parser, fed mutations of the shipped zone (cut mid-write,
 * characters and tokens inserted, lines duplicated or dropped): it either
 * accepts the file, and then every name in it is answered with well-formed
 * messages, or rejects it with a ZoneSyntaxError naming a line of the file.
 * Nothing else may be thrown, and nothing may hang.
 */

const shipped = readFileSync(join(repoRoot, 'zones', 'linkerd.local.zone'), 'utf8');

const PIECES = ['(', ')', '"', ';', '\\', '\\0', '\\255', '\\999', '\n', ' ', '\t', '$ORIGIN ', '$TTL ', '$INCLUDE x', '@', '.', '..', '*', 'IN ', 'CH ', '0', '65536', '4294967296', '1w2d', 'A ', 'AAAA ', 'SRV ', 'CNAME ', 'TXT ', 'MX ', 'SOA ', 'NS ', 'PTR ', 'CAA ', 'TYPE65535 ', '10.0.0.1', '::1', 'fd00::1:21', 'x'.repeat(64), 'é', '\u0000', '\r\n'];

const zoneText: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), piece: fc.oneof(fc.constantFrom(...PIECES), fc.string({ maxLength: 8 })) }),
        fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.nat(40) }),
        fc.record({ kind: fc.constant('line' as const), at: fc.nat(), copy: fc.boolean() }),
      ),
      { maxLength: 6 },
    ),
    fc.option(fc.nat(), { nil: undefined }),
  )
  .map(([edits, cutAt]) => {
    let text = shipped;
    for (const e of edits) {
      const at = e.at % (text.length + 1);
      if (e.kind === 'insert') text = text.slice(0, at) + e.piece + text.slice(at);
      else if (e.kind === 'delete') text = text.slice(0, at) + text.slice(at + e.length);
      else {
        const lines = text.split('\n');
        const i = e.at % lines.length;
        lines.splice(i, e.copy ? 0 : 1, ...(e.copy ? [lines[i]!] : []));
        text = lines.join('\n');
      }
    }
    // A file caught mid-write ends anywhere.
    return cutAt === undefined ? text : text.slice(0, cutAt % (text.length + 1));
  });

test(`${fuzzRuns(20_000)} mutated zone files: accepted and answered well-formed, or rejected naming a line`, () => {
  let accepted = 0;
  fc.assert(
    fc.property(zoneText, (text) => {
      let parsed;
      try {
        parsed = parseZone(text, 'linkerd.local.');
        buildZoneData(parsed, true, 5);
      } catch (err) {
        assert.ok(err instanceof ZoneSyntaxError, `not a ZoneSyntaxError: ${(err as Error).stack}`);
        assert.ok(err.line >= 1 && err.line <= text.split('\n').length + 1, `line ${err.line} is not in the file`);
        return;
      }
      accepted++;
      const c = core({ zone: text });
      for (const owner of new Set(parsed.records.map((r) => r.owner))) {
        for (const type of [...new Set(parsed.records.filter((r) => r.owner === owner).map((r) => r.type)), 255, 33]) {
          const reply = c.raw(wireQuery(owner, type), false);
          assert.ok(reply !== null, `no reply for ${JSON.stringify(owner)}`);
          strictParseResponse(reply);
        }
      }
    }),
    { numRuns: fuzzRuns(20_000), seed: fuzzSeed() },
  );
  assert.ok(accepted > 0, 'no mutated zone was accepted: the generator is too destructive');
});

/** A query whose question name is the lookup key itself (wire format, so odd labels survive). */
function wireQuery(key: string, type: number): Buffer {
  const question = Buffer.alloc(4);
  question.writeUInt16BE(type, 0);
  question.writeUInt16BE(1, 2);
  const header = buildQuery('', { id: 7 }).subarray(0, 12);
  return Buffer.concat([header, Buffer.from(key, 'latin1'), question]);
}
