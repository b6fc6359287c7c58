import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FLAGS } from '../src/config/flags.js';
import { repoRoot } from './support/meshdns-process.js';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');

test('the README documents every flag', () => {
  for (const f of FLAGS) assert.ok(readme.includes(`| \`--${f.name} `), `--${f.name} missing from the README flag table`);
});

test('the README opens with the two commands', () => {
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)![1]!;
  assert.match(firstBlock, /npm ci && npm run build && npm start/);
  assert.match(firstBlock, /npm ci && npm test/);
});
