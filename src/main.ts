import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from './config/config.js';
import { helpText } from './config/flags.js';
import { createLogger } from './observability/logger.js';
import cluster from 'node:cluster';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** One clear line on stderr and a non-zero exit: what a user wants from a bad flag. */
function fail(message: string): never {
  process.stderr.write(`meshdns: ${message}\n`);
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(helpText() + '\n');
    return;
  }
  if (argv[0] === '--version') {
    process.stdout.write(version() + '\n');
    return;
  }
  const [command, ...rest] = argv;
  if (command !== 'serve') fail(`unknown command "${command}" (try: meshdns serve --help)`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(helpText() + '\n');
    return;
  }

  let config;
  try {
    config = loadConfig(rest, process.env);
  } catch (err) {
    fail((err as Error).message);
  }
  const logger = createLogger(config.logLevel);
  // Each side loads only its own code: a DNS worker has no HTTP server (fastify and the REST API, ~5 MB a worker).
  if (cluster.isWorker) {
    const { runWorker } = await import('./workers/worker-main.js');
    await runWorker(config, logger.child({ worker: cluster.worker?.id }));
    return;
  }
  const { startServer } = await import('./server.js');
  let server;
  try {
    server = await startServer(config, logger);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }

  let stopping = false;
  let lameDuckTimer: NodeJS.Timeout | undefined;
  const running = server;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    if (lameDuckTimer !== undefined) clearTimeout(lameDuckTimer);
    logger.info('shutting down: no new queries, finishing those in flight');
    const force = setTimeout(() => process.exit(1), 8000);
    force.unref();
    running.stop().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (err: Error) => {
        logger.error({ err: err.message }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  /**
   * Lame duck first (as CoreDNS's health plugin does): /readyz fails at once, so Kubernetes takes the pod out
   * of the Service's endpoints, while DNS keeps answering the queries that kube-proxy and clients still send
   * here meanwhile. Then the drain. A second signal skips what is left of the lame duck.
   */
  const shutdown = (signal: string): void => {
    if (lameDuckTimer !== undefined || config.shutdownLameduckMs === 0) return stop();
    logger.info({ signal, lameDuckMs: config.shutdownLameduckMs }, 'lame duck: /readyz fails now, DNS answers on until the drain');
    running.enterLameDuck();
    lameDuckTimer = setTimeout(stop, config.shutdownLameduckMs);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading zone files and the config');
    let next;
    try {
      next = loadConfig(rest, process.env);
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'config reload failed; keeping the running config — fix the file and send SIGHUP again');
      server.reloadZones();
      return;
    }
    try {
      const needRestart = server.applyConfig(next);
      if (needRestart.length > 0) logger.warn({ settings: needRestart }, 'these changed settings take effect only after a restart');
      logger.info({ logLevel: next.logLevel }, 'config reloaded');
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'config reload could not be applied; keeping the running config');
    }
  });
}

export function run(): void {
  main(process.argv.slice(2)).catch((err: Error) => fail(err.stack ?? err.message));
}
