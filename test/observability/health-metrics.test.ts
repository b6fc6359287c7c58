import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Catalog } from '../../src/catalog/catalog.js';
import { serviceInstancesChunks } from '../../src/observability/health-metrics.js';

const serviceInstancesText = (c: Catalog): string => Buffer.concat([...serviceInstancesChunks(c)]).toString();
import { instance } from '../support/instances.js';

test('meshdns_service_instances: one series per service and state present, in text promtool accepts', () => {
  const c = new Catalog();
  c.upsert('shop', 'web', instance('a', '10.0.0.1'));
  c.upsert('shop', 'web', instance('b', '10.0.0.2'));
  c.upsert('shop', 'web', instance('c', '10.0.0.3', { weight: 0 }));
  c.upsert('shop', 'db', instance('a', '10.0.1.1'));
  c.setHealth('shop', 'db', 'rest', 'a', 'unhealthy');
  const text = serviceInstancesText(c);
  const series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).sort();
  assert.deepEqual(series, [
    'meshdns_service_instances{namespace="shop",service="db",state="unhealthy"} 1',
    'meshdns_service_instances{namespace="shop",service="web",state="draining"} 1',
    'meshdns_service_instances{namespace="shop",service="web",state="healthy"} 2',
  ]);
  // The exposition format as Prometheus reads it (promtool, Debian's prometheus package).
  execFileSync('promtool', ['check', 'metrics'], { input: text });
});

test('meshdns_service_instances at 30,000 services: every service written, each with its count', () => {
  const c = new Catalog();
  for (let s = 0; s < 30_000; s++) for (let i = 0; i < 3; i++) c.upsert(`ns-${s % 100}`, `svc-${s}`, instance(`i${i}`, `10.${s >> 8 & 255}.${s & 255}.${i + 1}`));
  const chunks = [...serviceInstancesChunks(c)];
  // Written in chunks of at most 64 KiB, each ending at a line's end (a scrape holds one at a time).
  assert.ok(chunks.length > 1);
  for (const chunk of chunks) {
    assert.ok(chunk.length <= 64 * 1024);
    assert.equal(chunk[chunk.length - 1], 0x0a);
  }
  const text = Buffer.concat(chunks).toString();
  assert.equal(text.split('\n').filter((l) => l.startsWith('meshdns_service_instances{')).length, 30_000);
  assert.match(text, /^meshdns_service_instances\{namespace="ns-7",service="svc-29907",state="healthy"\} 3$/m);
});
