import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { FoldedHistogram } from '../../src/observability/folded-histogram.js';

const BOUNDS = [0.00001, 0.0001, 0.001, 0.01, 0.1, 1];

test('a folded histogram exposes exactly what prom-client\u2019s Histogram does for the same observations, also aggregated', async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const folded = new FoldedHistogram('h_seconds', 'help text', 'transport', ['udp', 'tcp'], BOUNDS, ours);
  const reference = new Histogram({ name: 'h_seconds', help: 'help text', labelNames: ['transport'], buckets: BOUNDS, registers: [theirs] });
  let seed = 7;
  for (let i = 0; i < 5000; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const value = (seed % 100_000) / 50_000; // 0 .. 2 s, bounds and beyond
    const tcp = i % 7 === 0;
    folded.observe(tcp ? 1 : 0, value);
    reference.labels(tcp ? 'tcp' : 'udp').observe(value);
  }
  folded.observe(0, 0.001); // exactly on a bound: counted in that bucket (le)
  reference.labels('udp').observe(0.001);
  // Series order is prom-client's first-observed order; Prometheus does not care, so compare the lines.
  const lines = (text: string): string[] => text.trim().split('\n').sort();
  assert.deepEqual(lines(await ours.metrics()), lines(await theirs.metrics()));
  // Workers' registries are summed by the primary: the same result for both.
  const sum = async (r: Registry): Promise<string> => (await AggregatorRegistry.aggregate([await r.getMetricsAsJSON(), await r.getMetricsAsJSON()]).metrics());
  assert.deepEqual(lines(await sum(ours)), lines(await sum(theirs)));
  folded.reset();
  assert.doesNotMatch(await ours.metrics(), /h_seconds_count/);
});
