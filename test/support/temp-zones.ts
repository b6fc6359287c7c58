import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './meshdns-process.js';

export const shippedZone = readFileSync(join(repoRoot, 'zones', 'linkerd.local.zone'), 'utf8');

/** A fresh zones directory holding the given files (name → text). */
export function tempZones(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshdns-zones-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
