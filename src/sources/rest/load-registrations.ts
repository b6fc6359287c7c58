import type { Logger } from 'pino';
import type { Config } from '../../config/config.js';
import type { RestRegistry } from './registry.js';

/**
 * Loads registrations. A store that cannot be opened (etcd down, a data
 * directory that is read-only or full) is not fatal: DNS serves zone and
 * Kubernetes data, /readyz says not ready, writes get 503, and the load is
 * retried with backoff until the store opens.
 */
export async function loadRegistrations(registry: RestRegistry, config: Config, logger: Logger, stopped: () => boolean, attempted: () => void, loaded: () => void): Promise<void> {
  let delay = 500;
  for (;;) {
    try {
      await registry.start();
      attempted();
      loaded();
      return;
    } catch (err) {
      attempted();
      if (stopped()) return;
      if (config.store === 'etcd') logger.warn({ err: (err as Error).message, retryInMs: delay }, 'etcd not reachable; serving zone data meanwhile and retrying');
      else logger.error({ err: (err as Error).message, retryInMs: delay }, 'the SQLite store cannot be opened; serving zone data meanwhile and retrying');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  }
}
