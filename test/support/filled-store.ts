import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SCHEMA } from '../../src/store/sqlite-protocol.js';
import { serialize, type Registration } from '../../src/store/registration.js';

/** The `n`th registration of a filled store: 3 instances a service (weights 50/30/20), services in 100 namespaces. */
export function filledRegistration(i: number, perService = 3, now = Date.now()): Registration {
  return {
    namespace: `ns-${Math.floor(i / perService) % 100}`,
    service: `svc-${Math.floor(i / perService)}`,
    id: `i${i % perService}`,
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    ports: [{ name: 'http', port: 8080, protocol: 'tcp' }],
    weight: [50, 30, 20][i % 3]!,
    metadata: {},
    // As PUT writes a new registration: both from one clock reading.
    registeredAt: now,
    heartbeatAt: now,
  };
}

/**
 * A --data-dir whose SQLite store already holds `instances` REST registrations, written in one transaction the
 * way the store writes them (the setup of large-catalog tests and benches, not what they measure).
 */
export function filledDataDir(instances: number, perService = 3): string {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshdns-filled-'));
  const db = new DatabaseSync(join(dataDir, 'registrations.db'));
  db.exec(SCHEMA);
  const insert = db.prepare('INSERT INTO registrations (key, body) VALUES (?, ?)');
  db.exec('BEGIN');
  for (let i = 0; i < instances; i++) {
    const r = filledRegistration(i, perService);
    insert.run(`${r.namespace}/${r.service}/${r.id}`, serialize(r));
  }
  db.exec('COMMIT');
  db.close();
  return dataDir;
}

/** The DNS name of the `s`th service of a filled store. */
export const filledServiceName = (s: number): string => `svc-${s}.ns-${s % 100}.linkerd.local`;
