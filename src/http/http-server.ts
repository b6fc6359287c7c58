import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../dns/listen-address.js';

/** What /readyz reports: each check names what is not ready yet. */
export type ReadinessCheck = () => string | null;

export interface HttpServerOptions {
  address: ListenAddress;
  registry: Registry;
  readiness: readonly ReadinessCheck[];
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** /healthz, /readyz and /metrics. Errors use the REST shape {"error", "message"}. */
export class HttpServer {
  private server: Server | undefined;

  constructor(private readonly opts: HttpServerOptions) {}

  start(): Promise<ListenAddress> {
    return new Promise((resolve, reject) => {
      const server = createServer((req, res) => {
        this.route(req, res).catch((err: Error) => sendJson(res, 500, { error: 'internal', message: err.message }));
      });
      server.requestTimeout = 10_000;
      server.headersTimeout = 5_000;
      this.server = server;
      server.once('error', reject);
      server.listen(this.opts.address.port, this.opts.address.host, () => {
        server.off('error', reject);
        const a = server.address();
        if (a === null || typeof a === 'string') return reject(new Error('HTTP listener has no address'));
        resolve({ host: a.address, port: a.port, family: this.opts.address.family });
      });
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, { error: 'method_not_allowed', message: `${req.method} is not allowed on ${path}` });
    }
    switch (path) {
      case '/healthz':
        return sendJson(res, 200, { status: 'ok' });
      case '/readyz': {
        const waiting = this.opts.readiness.map((check) => check()).filter((r): r is string => r !== null);
        return sendJson(res, waiting.length === 0 ? 200 : 503, { status: waiting.length === 0 ? 'ready' : 'not ready', waiting });
      }
      case '/metrics': {
        const text = await this.opts.registry.metrics();
        res.writeHead(200, { 'content-type': this.opts.registry.contentType });
        res.end(text);
        return;
      }
      default:
        return sendJson(res, 404, { error: 'not_found', message: `no route for ${path}` });
    }
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.server === undefined) return resolve();
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }
}
