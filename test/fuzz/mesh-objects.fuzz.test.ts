import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { convertDestinationRule, convertHttpRoute, convertTrafficSplit, convertVirtualService, type SlimRoute } from '../../src/sources/kubernetes/mesh-objects.js';
import { resolveSplits } from '../../src/sources/kubernetes/split-resolver.js';
import { parsePolicyAnnotations } from '../../src/sources/kubernetes/policy-annotations.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { CatalogProjection } from '../../src/answers/catalog-projection.js';
import { keyOf } from '../../src/wire/name.js';
import type { NameTable } from '../../src/answers/name-table.js';
import { instance } from '../support/instances.js';
import { fuzzRuns, fuzzSeed } from '../support/fuzz-settings.js';

/**
 * Whatever a cluster holds, the mesh objects never take the source down: any JSON shape converts (to a
 * split, a problem, or nothing), resolution yields splits whose backends are known Services with weights
 * ≥ 0 and not all 0, no apex in a loop, and the catalog and projection take every split and keep answering.
 */

const names = fc.constantFrom('web', 'web-v1', 'web-v2', 'api', 'db', 'ghost', 'Bad_Name', '', 'web.shop', 'web.shop.svc.cluster.local', 'x.example.com', '*.shop');
const namespaces = fc.constantFrom('shop', 'pay', undefined);
const weight = fc.oneof(fc.integer({ min: -5, max: 1000 }), fc.double(), fc.constantFrom('10', '500m', 'ten', null, undefined, true, {}));
const junk = fc.oneof(fc.constant(undefined), fc.constant(null), fc.string(), fc.integer(), fc.constant([]), fc.constant({}));

const meta = fc.record({ name: fc.constantFrom('r1', 'r2', 'r3', ''), namespace: namespaces, creationTimestamp: fc.constantFrom('2026-01-01T00:00:00Z', '2025-06-01T00:00:00Z', undefined) });
const httpRoute = fc.record({
  metadata: meta,
  spec: fc.oneof(
    junk,
    fc.record({
      parentRefs: fc.oneof(junk, fc.array(fc.record({ group: fc.constantFrom('', 'core', 'gateway.networking.k8s.io', undefined), kind: fc.constantFrom('Service', 'Gateway', undefined), name: names, namespace: namespaces }), { maxLength: 3 })),
      rules: fc.oneof(junk, fc.array(fc.record({ backendRefs: fc.oneof(junk, fc.array(fc.record({ kind: fc.constantFrom('Service', 'ServiceImport', undefined), name: names, namespace: namespaces, weight }), { maxLength: 4 })) }), { maxLength: 2 })),
    }),
  ),
});
const split = fc.record({ metadata: meta, spec: fc.oneof(junk, fc.record({ service: fc.oneof(names, junk), backends: fc.oneof(junk, fc.array(fc.record({ service: fc.oneof(names, junk), weight }), { maxLength: 4 })) })) });
const virtualService = fc.record({
  metadata: meta,
  spec: fc.oneof(
    junk,
    fc.record({
      hosts: fc.oneof(junk, fc.array(fc.oneof(names, junk), { maxLength: 3 })),
      gateways: fc.oneof(junk, fc.array(fc.constantFrom('mesh', 'istio-system/gw'), { maxLength: 2 })),
      http: fc.oneof(junk, fc.array(fc.record({ route: fc.oneof(junk, fc.array(fc.record({ destination: fc.oneof(junk, fc.record({ host: fc.oneof(names, junk) })), weight }), { maxLength: 4 })) }), { maxLength: 2 })),
    }),
  ),
});
const rule = fc.record({ metadata: meta, spec: fc.oneof(junk, fc.record({ host: fc.oneof(names, junk), trafficPolicy: fc.oneof(junk, fc.record({ loadBalancer: fc.oneof(junk, fc.record({ simple: fc.oneof(junk, fc.constantFrom('ROUND_ROBIN', 'RANDOM', 'LEAST_REQUEST')) })) })) })) });
const annotations = fc.dictionary(fc.constantFrom('meshdns.io/load-balancer', 'meshdns.io/failover', 'meshdns.io/locality', 'meshdns.io/answer-limit', 'other'), fc.oneof(fc.string(), fc.constantFrom('random', 'prefer-zone', '3', 'web.pay, api.shop', '99999')));

const KNOWN = new Set(['shop/web', 'shop/web-v1', 'shop/web-v2', 'shop/api', 'pay/web', 'pay/db', 'shop/db']);

test('any mesh objects: conversion never throws, resolution yields only usable splits, and the catalog keeps answering them', () => {
  fc.assert(
    fc.property(fc.array(httpRoute, { maxLength: 8 }), fc.array(split, { maxLength: 6 }), fc.array(virtualService, { maxLength: 6 }), fc.array(rule, { maxLength: 4 }), annotations, (hr, ts, vs, dr, ann) => {
      const routes: SlimRoute[] = [];
      for (const o of hr) {
        const c = convertHttpRoute(o);
        if (c?.value !== undefined) routes.push(c.value);
      }
      for (const o of ts) {
        const c = convertTrafficSplit('cluster.local')(o);
        if (c?.value !== undefined) routes.push(c.value);
      }
      for (const o of vs) {
        const c = convertVirtualService('cluster.local')(o);
        if (c?.value !== undefined) routes.push(c.value);
      }
      for (const o of dr) convertDestinationRule('cluster.local')(o);
      const annotated = parsePolicyAnnotations(ann, 'shop', 'web');
      if (annotated?.fields.answerLimit !== undefined) assert.ok(annotated.fields.answerLimit >= 0 && annotated.fields.answerLimit <= 65535);
      const { splits } = resolveSplits(routes, { known: (k) => KNOWN.has(k), granted: () => true, subset: () => ({ members: ['10-0-0-1'], loadBalancer: undefined }) });
      const catalog = new Catalog();
      const table: NameTable = new Map();
      new CatalogProjection(catalog, table, [keyOf('linkerd.local.')], 5);
      let n = 1;
      for (const key of KNOWN) {
        const [ns, svc] = key.split('/') as [string, string];
        catalog.upsert(ns, svc, instance('i1', `10.0.0.${n++}`));
      }
      for (const [apex, s] of splits) {
        assert.ok(KNOWN.has(apex), `apex ${apex} is a known Service`);
        assert.ok(s.backends.length > 0 && s.backends.every((b) => KNOWN.has(b.service) && b.weight >= 0 && Number.isFinite(b.weight)));
        assert.ok(s.backends.some((b) => b.weight > 0));
        const [ns, svc] = apex.split('/') as [string, string];
        catalog.setSplit(ns, svc, s);
      }
      // Every known service still has its name answered (a split never removes one).
      for (const key of KNOWN) {
        const [ns, svc] = key.split('/') as [string, string];
        assert.ok(table.has(keyOf(`${svc}.${ns}.linkerd.local.`)), `${key} answered`);
      }
    }),
    { numRuns: fuzzRuns(500), seed: fuzzSeed() },
  );
});
