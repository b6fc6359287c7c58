/**
 * Health of one probed instance from its probe results: a hard state with
 * hysteresis (down after unhealthyThreshold consecutive failures, up after
 * healthyThreshold consecutive successes) and a soft score, the success
 * ratio over the last WINDOW probes, that shades the weight of flaky ones.
 */
export const WINDOW = 10;

export class HealthTracker {
  healthy = true;
  private consecutiveOk = 0;
  private consecutiveFail = 0;
  private readonly window: boolean[] = [];
  private successes = 0;

  constructor(
    private readonly healthyThreshold: number,
    private readonly unhealthyThreshold: number,
  ) {}

  /** Success ratio over the recent window; 1 before any probe (new instances start trusted, as Envoy's do). */
  get score(): number {
    return this.window.length === 0 ? 1 : this.successes / this.window.length;
  }

  /** Records a result; returns whether the hard state or the score changed. */
  record(ok: boolean): boolean {
    const before = { healthy: this.healthy, score: this.score };
    this.window.push(ok);
    if (ok) this.successes++;
    if (this.window.length > WINDOW && this.window.shift()) this.successes--;
    if (ok) {
      this.consecutiveOk++;
      this.consecutiveFail = 0;
      if (!this.healthy && this.consecutiveOk >= this.healthyThreshold) this.healthy = true;
    } else {
      this.consecutiveFail++;
      this.consecutiveOk = 0;
      if (this.healthy && this.consecutiveFail >= this.unhealthyThreshold) this.healthy = false;
    }
    return before.healthy !== this.healthy || before.score !== this.score;
  }
}
