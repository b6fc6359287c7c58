import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthTracker, WINDOW } from '../../src/health/health-tracker.js';
import { effectiveWeight, logistic } from '../../src/answers/soft-weight.js';

test('down after unhealthyThreshold consecutive failures, up after healthyThreshold successes (hysteresis)', () => {
  const t = new HealthTracker(2, 3);
  assert.equal(t.healthy, true);
  t.record(false);
  t.record(false);
  t.record(true); // streak broken
  t.record(false);
  t.record(false);
  assert.equal(t.healthy, true);
  t.record(false);
  assert.equal(t.healthy, false);
  t.record(true);
  assert.equal(t.healthy, false);
  t.record(false);
  t.record(true);
  assert.equal(t.healthy, false);
  t.record(true);
  assert.equal(t.healthy, true);
});

test('the score is the success ratio over the last WINDOW probes', () => {
  const t = new HealthTracker(1, 100);
  assert.equal(t.score, 1);
  for (let i = 0; i < WINDOW; i++) t.record(i % 2 === 0);
  assert.equal(t.score, 0.5);
  for (let i = 0; i < WINDOW; i++) t.record(true);
  assert.equal(t.score, 1);
  assert.equal(t.record(true), false); // nothing changed
  assert.equal(t.record(false), true);
  assert.equal(t.score, 0.9);
});

test('soft weight: full weight at score 1, half-ish at θ, falling steeply below', () => {
  const soft = { k: 10, theta: 0.5 };
  assert.equal(effectiveWeight(100, 1, soft), 100);
  assert.ok(Math.abs(effectiveWeight(100, 0.5, soft) - 50 / logistic(1, soft)) < 1e-9);
  assert.ok(effectiveWeight(100, 0.9, soft) > 97);
  assert.ok(effectiveWeight(100, 0.2, soft) < 5);
  let last = 0;
  for (let x = 0; x <= 1; x += 0.1) {
    const w = effectiveWeight(100, x, soft);
    assert.ok(w >= last);
    last = w;
  }
});
