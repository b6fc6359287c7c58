import type { Registry } from 'prom-client';

/**
 * A Prometheus histogram whose observations are plain array increments, folded into the exposition only when
 * /metrics is scraped. prom-client's Histogram costs a label-hash lookup and object updates per observation;
 * measured on the answer path (CPU per query at a fixed 20k QPS) the query metrics cost about 4 µs of the ~25
 * µs a query took, most of it these per-query calls. Same names, labels and buckets as before, so dashboards
 * and the workers' aggregation (sum) see no difference.
 */
export class FoldedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** Per label value: counts per bucket (not cumulative; the last is +Inf), sum and count. */
  private readonly series: { counts: Float64Array; sum: number; count: number }[];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly label: string,
    private readonly labelValues: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    this.series = labelValues.map(() => ({ counts: new Float64Array(bounds.length + 1), sum: 0, count: 0 }));
    // prom-client's Registry takes any object with name, help, type, get() and reset() (its metric interface).
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** Records a value for the series of labelValues[index]. */
  observe(index: number, value: number): void {
    const s = this.series[index]!;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: { metricName: string; labels: Record<string, string | number>; value: number }[] } {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    this.series.forEach((s, index) => {
      if (s.count === 0) return;
      const labelValue = this.labelValues[index]!;
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: i < this.bounds.length ? this.bounds[i]! : '+Inf', [this.label]: labelValue }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: { [this.label]: labelValue }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { [this.label]: labelValue }, value: s.count });
    });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const s of this.series) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
