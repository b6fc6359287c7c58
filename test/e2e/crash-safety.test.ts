import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMeshdns } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';

test('kill -9 during a write storm loses no acknowledged registration', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshdns-crash-'));
  const s = await startMeshdns(['--upstream', 'none', '--data-dir', dataDir]);
  const acked: string[][] = Array.from({ length: 8 }, () => []);
  let stop = false;
  const workers = acked.map(async (list, w) => {
    for (let i = 0; !stop; i++) {
      try {
        const r = await api(s.httpPort, 'PUT', instancePath('storm', `s${w}`, `i${i}`), { address: `10.${w}.${i >> 8 & 255}.${i & 255}`, ports: [] });
        if (r.status === 200) list.push(`i${i}`);
      } catch {
        return; // the server is gone
      }
    }
  });
  await new Promise((r) => setTimeout(r, 1500));
  s.proc.kill('SIGKILL');
  await Promise.all(workers);
  stop = true;
  await s.stop();
  const total = acked.reduce((n, l) => n + l.length, 0);
  assert.ok(total > 50, `only ${total} writes acknowledged before the kill`);

  const again = await startMeshdns(['--upstream', 'none', '--data-dir', dataDir]);
  try {
    for (let w = 0; w < acked.length; w++) {
      const r = await api(again.httpPort, 'GET', `/v1/services/storm/s${w}`);
      const present = new Set((r.body.instances as { id: string }[]).map((i) => i.id));
      const missing = acked[w]!.filter((id) => !present.has(id));
      assert.deepEqual(missing, [], `service s${w} lost acknowledged writes`);
    }
  } finally {
    await again.stop();
  }
});
