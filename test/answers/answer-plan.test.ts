import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstAnswerShares, planAnswers } from '../../src/answers/answer-plan.js';
import { serviceView } from '../../src/console/console-view.js';
import type { TrafficPolicy } from '../../src/catalog/policy.js';
import { DEFAULT_SOFT_WEIGHT } from '../../src/answers/soft-weight.js';
import { core } from '../support/in-process.js';
import { instance } from '../support/instances.js';

/**
 * Issue 25: one answer plan. What the console (and GET /v1/services) shows as each instance's share of first
 * answers is what DNS gives, within a few points over 2,000 queries, in every state a service can be in. The
 * console once showed 0 % for instances DNS answered in panic.
 */
const N = 2000;
const policy = (p: Partial<TrafficPolicy>): TrafficPolicy => ({ loadBalancer: 'weighted', failover: [], locality: 'off', answerLimit: 0, ...p });

function dnsShares(c: ReturnType<typeof core>, name: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < N; i++) {
    const first = c.query(name, { id: i & 0xffff }).answers[0]?.address ?? 'none';
    counts.set(first, (counts.get(first) ?? 0) + 1 / N);
  }
  return counts;
}

/** The console's shares by address: the service's own rows, or its split's backends spread over their instances. */
function consoleShares(c: ReturnType<typeof core>, key: string): Map<string, number> {
  const plan = planAnswers({ catalog: c.catalog, soft: DEFAULT_SOFT_WEIGHT }, key);
  const out = new Map<string, number>();
  for (const [i, share] of firstAnswerShares(plan)) out.set(i.address, (out.get(i.address) ?? 0) + share);
  // The console's own rows must say the same for the service's own instances.
  const view = serviceView(c.catalog, key, DEFAULT_SOFT_WEIGHT)!;
  for (const row of view.instances) assert.ok(Math.abs(row.share - (out.get(row.address) ?? 0)) < 1e-9, `${key} ${row.address}: console row ${row.share}, plan ${out.get(row.address)}`);
  return out;
}

function assertSame(state: string, dns: Map<string, number>, shown: Map<string, number>): void {
  const addresses = new Set([...dns.keys(), ...shown.keys()].filter((a) => a !== 'none'));
  for (const a of addresses) {
    assert.ok(Math.abs((dns.get(a) ?? 0) - (shown.get(a) ?? 0)) < 0.035, `${state}: ${a} DNS ${(dns.get(a) ?? 0).toFixed(3)}, console ${(shown.get(a) ?? 0).toFixed(3)}`);
  }
}

function threeInstances(): ReturnType<typeof core> {
  const c = core({ seed: 9 });
  c.catalog.upsert('shop', 'web', instance('a', '10.4.0.1', { weight: 50 }));
  c.catalog.upsert('shop', 'web', instance('b', '10.4.0.2', { weight: 30 }));
  c.catalog.upsert('shop', 'web', instance('c', '10.4.0.3', { weight: 20 }));
  return c;
}

const states: [string, (c: ReturnType<typeof core>) => void][] = [
  ['healthy', () => undefined],
  ['soft-weighted (a probe score of 0.5)', (c) => void c.catalog.setProbe('shop', 'web', 'rest', 'a', { healthy: true, score: 0.5 })],
  ['drained (weight 0)', (c) => c.catalog.upsert('shop', 'web', instance('b', '10.4.0.2', { weight: 0 }))],
  [
    'panic (every probe failing, --all-unhealthy serve-all)',
    (c) => {
      for (const id of ['a', 'b', 'c']) c.catalog.setProbe('shop', 'web', 'rest', id, { healthy: false, score: id === 'a' ? 0.3 : 0.1 });
    },
  ],
  [
    'failover (nothing of its own; the backup answers)',
    (c) => {
      for (const id of ['a', 'b', 'c']) c.catalog.setHealth('shop', 'web', 'rest', id, 'unhealthy');
      c.catalog.upsert('shop', 'web-dr', instance('x', '10.4.1.1', { weight: 10 }));
      c.catalog.upsert('shop', 'web-dr', instance('y', '10.4.1.2', { weight: 30 }));
      c.catalog.setPolicy('shop', 'web', policy({ failover: ['web-dr.shop'] }));
    },
  ],
  [
    'split (web 70, web-v2 30)',
    (c) => {
      c.catalog.upsert('shop', 'web-v2', instance('v', '10.4.2.1'));
      c.catalog.setSplit('shop', 'web', { backends: [{ service: 'shop/web', weight: 70 }, { service: 'shop/web-v2', weight: 30 }], origin: { kind: 'HTTPRoute', group: 'g', namespace: 'shop', name: 'web' } });
    },
  ],
  ['prefer-zone (a client of no known zone: the plain order)', (c) => c.catalog.setPolicy('shop', 'web', policy({ locality: 'prefer-zone' }))],
  ['answer limit 1', (c) => c.catalog.setPolicy('shop', 'web', policy({ answerLimit: 1 }))],
  ['round robin', (c) => c.catalog.setPolicy('shop', 'web', policy({ loadBalancer: 'round-robin' }))],
  ['random', (c) => c.catalog.setPolicy('shop', 'web', policy({ loadBalancer: 'random' }))],
];

for (const [state, arrange] of states) {
  test(`the console's shares are DNS's first answers: ${state}`, () => {
    const c = threeInstances();
    arrange(c);
    assertSame(state, dnsShares(c, 'web.shop.linkerd.local'), consoleShares(c, 'shop/web'));
  });
}

test('panic is shown, with the shares DNS gives (not 0 %); failover names the backup', () => {
  const c = threeInstances();
  for (const id of ['a', 'b', 'c']) c.catalog.setProbe('shop', 'web', 'rest', id, { healthy: false, score: 0 });
  const view = serviceView(c.catalog, 'shop/web', DEFAULT_SOFT_WEIGHT)!;
  assert.equal(view.panic, true);
  assert.ok(view.instances.every((i) => i.share > 0), JSON.stringify(view.instances.map((i) => i.share)));
  assert.equal(serviceView(c.catalog, 'shop/web', DEFAULT_SOFT_WEIGHT, 'serve-none')!.instances.every((i) => i.share === 0), true);
  const plan = planAnswers({ catalog: c.catalog }, 'shop/web');
  assert.equal(plan.state, 'panic');
});
