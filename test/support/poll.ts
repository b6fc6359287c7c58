/** Polls `check` until it holds; resolves with the milliseconds that took, rejects after `ms`. */
export async function within(ms: number, check: () => Promise<boolean>, everyMs = 20): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await check()) return Date.now() - started;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`not within ${ms} ms`);
}
