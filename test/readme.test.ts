import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { FLAGS } from '../src/config/flags.js';
import { repoRoot } from './support/meshdns-process.js';

/** The README is the front page, docs/ holds a page per capability: both kept true by these checks. */
const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const pages = [join(repoRoot, 'README.md'), ...readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(repoRoot, 'docs', f))];

test('the README opens with the two commands, and stays a front page', () => {
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)![1]!;
  assert.match(firstBlock, /npm ci && npm run build && npm start/);
  assert.match(firstBlock, /npm ci && npm test/);
  assert.ok(Buffer.byteLength(readme) < 25 * 1024, `README.md is ${Buffer.byteLength(readme)} bytes`);
});

test('docs/flags.md documents every flag, and no flag that does not exist', () => {
  const flags = readFileSync(join(repoRoot, 'docs', 'flags.md'), 'utf8');
  for (const f of FLAGS) assert.ok(flags.includes(`| \`--${f.name} `) || flags.includes(`| \`--${f.name}\``), `--${f.name} missing from docs/flags.md`);
  const documented = [...flags.matchAll(/^\| `--([a-z0-9-]+)/gm)].map((m) => m[1]!);
  const known = new Set(FLAGS.map((f) => f.name));
  for (const name of documented) assert.ok(known.has(name), `docs/flags.md documents --${name}, which is not a flag`);
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

test('every relative link of the README and docs/ resolves, anchors included', () => {
  for (const page of pages) {
    const text = readFileSync(page, 'utf8');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const href = m[1]!;
      if (/^[a-z]+:/.test(href)) continue;
      const [path, anchor] = href.split('#') as [string, string | undefined];
      const target = path === '' ? page : join(dirname(page), path);
      assert.ok(existsSync(target), `${relative(repoRoot, page)}: ${href} does not exist`);
      if (anchor !== undefined && target.endsWith('.md')) {
        const anchors = new Set([...readFileSync(target, 'utf8').matchAll(/^#+ (.*)$/gm)].map((h) => anchorOf(h[1]!)));
        assert.ok(anchors.has(anchor), `${relative(repoRoot, page)}: ${href}: no such heading`);
      }
    }
  }
});

test('every source file a page names exists', () => {
  for (const page of pages) {
    const text = readFileSync(page, 'utf8');
    for (const m of text.matchAll(/`((?:src|test|deploy)\/[A-Za-z0-9_./-]+\.(?:ts|mjs|yaml|json))`/g)) {
      assert.ok(existsSync(join(repoRoot, m[1]!)), `${relative(repoRoot, page)} names ${m[1]}, which does not exist`);
    }
  }
});
