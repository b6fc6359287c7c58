import { test } from 'node:test';
import assert from 'node:assert/strict';
import { core } from '../support/in-process.js';
import { instance } from '../support/instances.js';
import type { TrafficSplit } from '../../src/catalog/split.js';

const origin = { kind: 'HTTPRoute', group: 'gateway.networking.k8s.io', namespace: 'shop', name: 'web' };
const split = (...backends: [string, number][]): TrafficSplit => ({ backends: backends.map(([service, weight]) => ({ service, weight })), origin });

/** Share of first A answers per address over n queries. */
function firstShares(query: ReturnType<typeof core>['query'], name: string, n = 4000): Map<string, number> {
  const counts = new Map<string, number>();
  for (let k = 0; k < n; k++) {
    const first = query(name).answers[0]?.address ?? 'none';
    counts.set(first, (counts.get(first) ?? 0) + 1);
  }
  return new Map([...counts].map(([a, c]) => [a, c / n]));
}

function cluster() {
  const c = core({ seed: 3 });
  c.catalog.upsert('shop', 'web', instance('w1', '10.0.0.1'));
  c.catalog.upsert('shop', 'web-v1', instance('a', '10.1.0.1'));
  c.catalog.upsert('shop', 'web-v1', instance('b', '10.1.0.2', { weight: 300 }));
  c.catalog.upsert('shop', 'web-v2', instance('c', '10.2.0.1'));
  return c;
}

test('a split answers the backends by their weights, each divided among its instances by their own weights', () => {
  const c = cluster();
  c.catalog.setSplit('shop', 'web', split(['shop/web-v1', 90], ['shop/web-v2', 10]));
  const answer = c.query('web.shop.linkerd.local');
  assert.deepEqual(answer.answers.map((a) => a.address).sort(), ['10.1.0.1', '10.1.0.2', '10.2.0.1']);
  assert.ok(answer.answers.every((a) => a.name === 'web.shop.linkerd.local'));
  const shares = firstShares(c.query, 'web.shop.linkerd.local');
  // web-v1 90 % (a 1/4 of it, b 3/4), web-v2 10 %.
  assert.ok(Math.abs(shares.get('10.1.0.1')! - 0.225) < 0.025, JSON.stringify([...shares]));
  assert.ok(Math.abs(shares.get('10.1.0.2')! - 0.675) < 0.025, JSON.stringify([...shares]));
  assert.ok(Math.abs(shares.get('10.2.0.1')! - 0.1) < 0.02, JSON.stringify([...shares]));
  // The backends' own names are unchanged; the apex's own instance keeps its instance name.
  assert.deepEqual(c.query('web-v2.shop.linkerd.local').answers.map((a) => a.address), ['10.2.0.1']);
  assert.deepEqual(c.query('w1.web.shop.linkerd.local').answers.map((a) => a.address), ['10.0.0.1']);
});

test('a backend with nothing answerable gives its share to the others; weight 0 drains; the apex itself may be a backend', () => {
  const c = cluster();
  c.catalog.setSplit('shop', 'web', split(['shop/web-v1', 50], ['shop/web-v2', 50]));
  c.catalog.setHealth('shop', 'web-v2', 'rest', 'c', 'unhealthy');
  assert.deepEqual(c.query('web.shop.linkerd.local').answers.map((a) => a.address).sort(), ['10.1.0.1', '10.1.0.2']);
  c.catalog.setHealth('shop', 'web-v2', 'rest', 'c', 'healthy');
  c.catalog.setSplit('shop', 'web', split(['shop/web-v1', 0], ['shop/web-v2', 100]));
  assert.deepEqual(c.query('web.shop.linkerd.local').answers.map((a) => a.address), ['10.2.0.1']);
  // The stable service is the apex itself, the canary a second service (the GAMMA shape).
  c.catalog.setSplit('shop', 'web', split(['shop/web', 80], ['shop/web-v2', 20]));
  const shares = firstShares(c.query, 'web.shop.linkerd.local');
  assert.ok(Math.abs(shares.get('10.0.0.1')! - 0.8) < 0.025, JSON.stringify([...shares]));
  // Nothing answerable in any backend: the apex answers as if there were no split.
  c.catalog.setSplit('shop', 'web', split(['shop/web-v2', 1], ['shop/nothing', 1]));
  c.catalog.setHealth('shop', 'web-v2', 'rest', 'c', 'unhealthy');
  assert.deepEqual(c.query('web.shop.linkerd.local').answers.map((a) => a.address), ['10.0.0.1']);
  // Ending the split: back to the apex's own instances.
  c.catalog.setHealth('shop', 'web-v2', 'rest', 'c', 'healthy');
  c.catalog.setSplit('shop', 'web', undefined);
  assert.deepEqual(c.query('web.shop.linkerd.local').answers.map((a) => a.address), ['10.0.0.1']);
});

test('a backend that changes reaches the apex at once (dependency index); an apex with no instances of its own answers', () => {
  const c = cluster();
  c.catalog.setSplit('shop', 'front', split(['shop/web-v2', 1]));
  assert.deepEqual(c.query('front.shop.linkerd.local').answers.map((a) => a.address), ['10.2.0.1']);
  c.catalog.upsert('shop', 'web-v2', instance('d', '10.2.0.2'));
  assert.deepEqual(c.query('front.shop.linkerd.local').answers.map((a) => a.address).sort(), ['10.2.0.1', '10.2.0.2']);
  c.catalog.setSplit('shop', 'front', undefined);
  assert.equal(c.query('front.shop.linkerd.local').header.rcode, 3);
});

test('SRV under the apex: targets are the backends\u2019 own instance names with glue, weights are the shares', () => {
  const c = cluster();
  c.catalog.setSplit('shop', 'web', split(['shop/web-v1', 90], ['shop/web-v2', 10]));
  const srv = c.query('_http._tcp.web.shop.linkerd.local', { type: 33, edns: {} });
  const byTarget = new Map(srv.answers.map((a) => [a.target, a.weight]));
  assert.deepEqual([...byTarget.keys()].sort(), ['a.web-v1.shop.linkerd.local', 'b.web-v1.shop.linkerd.local', 'c.web-v2.shop.linkerd.local']);
  assert.equal(byTarget.get('a.web-v1.shop.linkerd.local'), 2250);
  assert.equal(byTarget.get('b.web-v1.shop.linkerd.local'), 6750);
  assert.equal(byTarget.get('c.web-v2.shop.linkerd.local'), 1000);
  assert.deepEqual(srv.additionals.filter((a) => a.address !== undefined).map((a) => `${a.name} ${a.address}`).sort(), ['a.web-v1.shop.linkerd.local 10.1.0.1', 'b.web-v1.shop.linkerd.local 10.1.0.2', 'c.web-v2.shop.linkerd.local 10.2.0.1']);
  // SRV first picks follow the shares too.
  let firstV2 = 0;
  for (let k = 0; k < 4000; k++) if (c.query('_http._tcp.web.shop.linkerd.local', { type: 33 }).answers[0]!.target === 'c.web-v2.shop.linkerd.local') firstV2++;
  assert.ok(Math.abs(firstV2 / 4000 - 0.1) < 0.02, String(firstV2));
});

test('round robin over a split: exact shares over each window of Σ weights', () => {
  const c = cluster();
  c.catalog.setPolicy('shop', 'web', { loadBalancer: 'round-robin', failover: [], locality: 'off', answerLimit: 1 });
  c.catalog.setSplit('shop', 'web', split(['shop/web-v2', 1], ['shop/web', 3]));
  const firsts: string[] = [];
  for (let k = 0; k < 400; k++) firsts.push(c.query('web.shop.linkerd.local').answers[0]!.address!);
  assert.equal(firsts.filter((a) => a === '10.2.0.1').length, 100);
  assert.equal(c.query('web.shop.linkerd.local').answers.length, 1);
});

test('Istio subsets with load balancers of their own: each subset gets its share, and orders its instances by its own policy', () => {
  const c = core({ seed: 5 });
  for (const [id, address] of [['a', '10.3.0.1'], ['b', '10.3.0.2'], ['c', '10.3.0.3'], ['d', '10.3.0.4']] as const) c.catalog.upsert('shop', 'reviews', instance(id, address));
  c.catalog.setSplit('shop', 'reviews', {
    origin: { kind: 'VirtualService', group: 'networking.istio.io', namespace: 'shop', name: 'reviews' },
    backends: [
      // v1: a and b, round robin within; v2: c and d, random within.
      { service: 'shop/reviews', weight: 80, subset: { name: 'v1', members: ['a', 'b'], loadBalancer: 'round-robin' } },
      { service: 'shop/reviews', weight: 20, subset: { name: 'v2', members: ['c', 'd'], loadBalancer: 'random' } },
    ],
  });
  const firsts: string[] = [];
  for (let i = 0; i < 4000; i++) firsts.push(c.query('reviews.shop.linkerd.local').answers[0]!.address!);
  const share = (set: string[]): number => firsts.filter((f) => set.includes(f)).length / firsts.length;
  assert.ok(Math.abs(share(['10.3.0.1', '10.3.0.2']) - 0.8) < 0.025, String(share(['10.3.0.1', '10.3.0.2'])));
  // Within v1, round robin: the answers v1 takes alternate a, b, a, b … exactly.
  const v1 = firsts.filter((f) => f === '10.3.0.1' || f === '10.3.0.2');
  for (let i = 1; i < v1.length; i++) assert.notEqual(v1[i], v1[i - 1], `v1 answers do not alternate at ${i}`);
  // Within v2, random: both instances, about evenly (weights ignored).
  assert.ok(Math.abs(share(['10.3.0.3']) - 0.1) < 0.02 && Math.abs(share(['10.3.0.4']) - 0.1) < 0.02);
});
