import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config/config.js';
import { readFileFor, readKeyPair } from '../config/secret-files.js';
import { SqliteStore } from './sqlite-store.js';
import type { RegistrationStore } from './store.js';

/**
 * The registration store the config names: SQLite in --data-dir, or etcd with its TLS and auth files read and checked.
 * The etcd client (etcd3 and the gRPC library under it) is loaded only when etcd is the store: on the embedded
 * default it would be ~5 MB of heap and ~8 MB resident for nothing (measured 2026-11-29).
 */
export async function openStore(config: Config, logger: Logger, onResync: (reason: string) => void): Promise<RegistrationStore> {
  if (config.store === 'etcd') {
    const t = config.etcdTls;
    const pair = t?.cert !== undefined && t.key !== undefined ? readKeyPair('etcd-cert', t.cert, 'etcd-key', t.key, (w) => logger.warn(w)) : undefined;
    const tls =
      t === undefined
        ? undefined
        : { ca: readFileFor('etcd-ca', t.ca), cert: pair?.cert ?? (t.cert === undefined ? undefined : readFileFor('etcd-cert', t.cert)), key: pair?.key ?? (t.key === undefined ? undefined : readFileFor('etcd-key', t.key)) };
    const a = config.etcdAuth;
    const password = a === undefined ? undefined : readFileFor('etcd-password-file', a.passwordFile).toString('utf8').trim();
    if (a !== undefined && password === '') throw new ConfigError(`--etcd-password-file ${a.passwordFile}: the file is empty`);
    const auth = a === undefined ? undefined : { username: a.username, password: password! };
    const { EtcdStore } = await import('./etcd-store.js');
    return new EtcdStore({ endpoints: config.etcd, prefix: config.etcdPrefix, deregisterAfterMs: config.deregisterAfterMs, callTimeoutMs: 2000, logger, tls, auth, onResync });
  }
  return new SqliteStore(config.dataDir, logger);
}
