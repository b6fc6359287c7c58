import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Catalog } from '../catalog/catalog.js';
import type { SoftWeight } from '../answers/soft-weight.js';
import { CONSOLE_PAGE } from './console-page.js';
import { serviceView, type ServiceView } from './console-view.js';

export interface ConsoleOptions {
  catalog: Catalog;
  soft: SoftWeight;
  /** --all-unhealthy: what a service in panic answers (the console shows the same). */
  allUnhealthy: 'serve-all' | 'serve-none';
  /** The same read check as /v1 (tokens, --api-read-auth). */
  mayRead: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** Whether these credentials may still read: asked again for every open stream when the tokens change. */
  stillMayRead: (authorization: string | undefined) => boolean;
  /** Calls back after the tokens were replaced (SIGHUP). */
  onAccessChange: (listener: () => void) => void;
}

/** Changes are sent at most this often: a Kubernetes re-list of thousands of services is a few messages. */
const BATCH_MS = 250;
/** A comment line now and then, so proxies do not close an idle stream. */
const KEEPALIVE_MS = 15_000;

/**
 * /ui/ (the page), /ui/api/services (a snapshot) and /ui/events (server-sent events fed by the catalog's own
 * change events, batched: the changed services' new views and the keys of removed ones). Nothing polls.
 */
export function registerConsoleRoutes(app: FastifyInstance, opts: ConsoleOptions): void {
  const { catalog } = opts;
  const view = (key: string): ServiceView | undefined => serviceView(catalog, key, opts.soft, opts.allUnhealthy);
  const message = (keys: Iterable<string>): { services: ServiceView[]; removed: string[] } => {
    const services: ServiceView[] = [];
    const removed: string[] = [];
    for (const key of keys) {
      const v = view(key);
      if (v === undefined) removed.push(key);
      else services.push(v);
    }
    return { services, removed };
  };

  const streams = new Set<(data: string) => void>();
  const open = new Set<{ end(): void }>();
  /** Each open stream's credentials: a token revoked by SIGHUP ends its streams at once. */
  const credentials = new Map<{ end(): void }, string | undefined>();
  opts.onAccessChange(() => {
    for (const [res, authorization] of credentials) if (!opts.stillMayRead(authorization)) res.end();
  });
  // Streams never end by themselves: close them first, or a shutdown would wait for every open page.
  app.addHook('preClose', (done) => {
    for (const res of open) res.end();
    done();
  });
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  catalog.onChange((keys) => {
    if (streams.size === 0) return;
    // An apex's view (its split's shares) changes with its backends.
    for (const k of keys) {
      pending.add(k);
      for (const apex of catalog.apexesOf(k)) pending.add(apex);
    }
    timer ??= setTimeout(() => {
      timer = undefined;
      const data = JSON.stringify(message(pending));
      pending.clear();
      for (const send of streams) send(data);
    }, BATCH_MS);
  });

  app.get('/ui', async (_req, reply) => reply.redirect('/ui/'));
  // The page itself holds no data (it is the same for everyone): a browser can load it without a token, and
  // its requests for data carry the token from the URL fragment (#token=…).
  app.get('/ui/', async (_req, reply) =>
    reply.header('content-type', 'text/html; charset=utf-8').header('content-security-policy', "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'").send(CONSOLE_PAGE),
  );
  app.get('/ui/api/services', { preHandler: opts.mayRead }, async () => message(catalog.keys()));
  app.get('/ui/events', { preHandler: opts.mayRead }, (req, reply) => {
    // HEAD gets the status and headers a GET would, without a stream that never ends.
    if (req.method === 'HEAD') return reply.code(200).header('content-type', 'text/event-stream').header('cache-control', 'no-store').send();
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(': meshdns catalog changes\n\n');
    const send = (data: string): void => void res.write(`data: ${data}\n\n`);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    streams.add(send);
    open.add(res);
    credentials.set(res, req.headers.authorization);
    req.raw.on('close', () => {
      clearInterval(keepalive);
      streams.delete(send);
      open.delete(res);
      credentials.delete(res);
    });
  });
}
