import { lazySchemaCompilers } from './lazy-schema-compilers.js';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { ListenAddress } from '../config/listen-address.js';

/** What /readyz reports: each check names what is not ready yet, or null. */
export type ReadinessCheck = () => string | null;

export interface HttpServerOptions {
  address: ListenAddress;
  /** Prometheus text for /metrics: whole, or a stream of it (a large catalog's series are written as the response drains). */
  metrics: () => Promise<string | Readable>;
  contentType: string;
  readiness: readonly ReadinessCheck[];
  /** What /readyz reports without failing it (data that is skipped while the rest serves). */
  notes?: readonly ReadinessCheck[];
  logger: Logger;
  /** A request (headers and body) must arrive whole within this; slow senders get 408 and are cut off. */
  requestTimeoutMs: number;
  /** HTTPS with this certificate and key instead of plain HTTP. */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  /** Adds more routes (the REST API). */
  routes?: (app: FastifyInstance) => void;
  /** A request refused before any route saw it (a bad URL, headers too large): for the write audit. */
  onRefused?: (request: RefusedRequest) => void;
}

export interface RefusedRequest {
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly client: string | undefined;
  readonly status: number;
}

/** The JSON error every refusal carries, as the REST API's own: {"error": CODE, "message": TEXT}. */
function errorBody(error: string, message: string): string {
  return JSON.stringify({ error, message });
}

/** Method and path from the first line of a request whose headers could not be read (431): for the audit. */
function requestLine(raw: Buffer | undefined): { method: string | undefined; path: string | undefined } {
  const m = /^([A-Z]{1,10}) (\S{1,2048}) HTTP\//.exec(raw?.subarray(0, 2100).toString('latin1') ?? '');
  return { method: m?.[1], path: m?.[2]?.split('?')[0] };
}

/** Request bodies beyond this are answered 413 before they are read whole. */
const BODY_LIMIT = 64 * 1024;

interface BodyRefusal {
  readonly status: 413 | 415;
  readonly error: string;
  readonly message: string;
}

/** Why a request's body will be refused, known from its headers alone (size, encoding, media type), or undefined. */
function bodyRefusal(req: IncomingMessage): BodyRefusal | undefined {
  const length = Number(req.headers['content-length'] ?? '0');
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (!chunked && !(length > 0)) return undefined;
  if (length > BODY_LIMIT) return { status: 413, error: 'body_too_large', message: `the body is ${length} bytes; at most ${BODY_LIMIT} are accepted` };
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    return { status: 415, error: 'unsupported_media_type', message: 'Content-Encoding is not accepted: send the body uncompressed' };
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return { status: 415, error: 'unsupported_media_type', message: `bodies are application/json${type === '' ? '' : `, not ${type}`}` };
  return undefined;
}

function refuseBody(res: ServerResponse, refusal: BodyRefusal): void {
  const body = JSON.stringify({ error: refusal.error, message: refusal.message });
  res.writeHead(refusal.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body);
}

/**
 * HTTP: /healthz, /readyz, /metrics and the REST API, on Fastify (its JSON
 * schema validation and pino logging fit the rest). Every error has the
 * shape {"error": CODE, "message": TEXT}.
 */
export class HttpServer {
  private readonly app: FastifyInstance;

  constructor(private readonly opts: HttpServerOptions) {
    const app = Fastify({
      loggerInstance: opts.logger as FastifyBaseLogger,
      // No log line per request: the API is not the place for a log flood either.
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: BODY_LIMIT,
      // Node checks request deadlines every connectionsCheckingInterval (30 s by default): check often enough
      // that a client trickling its headers or body is cut off close to the deadline.
      serverFactory: (handler) => {
        const timeouts = { requestTimeout: opts.requestTimeoutMs, headersTimeout: opts.requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, opts.requestTimeoutMs) };
        const server = opts.tls === undefined ? createServer(timeouts, handler) : createHttpsServer({ ...timeouts, cert: opts.tls.cert, key: opts.tls.key }, handler);
        // Expect: 100-continue: a body that will be refused is refused before the client sends it, instead of
        // "100 Continue" and then 413 for everything it sent.
        server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
          const refusal = bodyRefusal(req);
          if (refusal !== undefined) {
            opts.onRefused?.({ method: req.method, path: req.url?.split('?')[0], client: req.socket.remoteAddress, status: refusal.status });
            return refuseBody(res, refusal);
          }
          res.writeContinue();
          handler(req, res);
        });
        return server;
      },
      connectionTimeout: opts.requestTimeoutMs,
      // Refusals the router or Node's parser makes before any route runs get the API's error shape too.
      frameworkErrors: (err, req, reply) => {
        const tooLong = err.code === 'FST_ERR_MAX_PARAM_LENGTH';
        const [status, error, message] = tooLong
          ? [400, 'invalid_name', 'a path segment is longer than a name may be (names are DNS labels of at most 63 characters)']
          : [400, 'bad_url', 'the path is not a valid URL (a malformed %-escape?)'];
        opts.onRefused?.({ method: req.method, path: req.url.split('?')[0], client: req.socket.remoteAddress, status });
        const body = errorBody(error, message);
        reply.raw.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      },
      clientErrorHandler: (err, socket) => {
        if (err.code === 'ECONNRESET' || socket.destroyed) return;
        const [status, reason, error, message] =
          err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'Request Timeout', 'request_timeout', 'the request did not arrive whole in time']
            : err.code === 'HPE_HEADER_OVERFLOW'
              ? [431, 'Request Header Fields Too Large', 'headers_too_large', 'the request headers are larger than 16 KiB']
              : [400, 'Bad Request', 'bad_request', 'the request is not valid HTTP/1.1'];
        // The types say rawPacket is JSON; Node hands the Buffer it could not parse.
        if (status !== 408) opts.onRefused?.({ ...requestLine((err as unknown as { rawPacket?: Buffer }).rawPacket), client: socket.remoteAddress, status });
        const body = errorBody(error, message);
        if (socket.writable) socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
        socket.destroy();
      },
      // Strict validation: no type coercion, unknown fields are errors rather than silently dropped.
      ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
      schemaController: { compilersFactory: lazySchemaCompilers() },
    });
    app.setErrorHandler((err: FastifyError, _req, reply) => {
      if (err.validation) {
        const field = err.validationContext ?? 'request';
        const message = `${field}${err.message.startsWith(field) ? err.message.slice(field.length) : ' ' + err.message}`;
        return reply.code(400).send({ error: field === 'params' ? 'invalid_name' : 'invalid_body', message: message.replace(/^body\//, 'body.').replace(/\//g, '.') });
      }
      const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
      // The rest of a refused body is not read: the connection closes behind the answer.
      if (status === 413 || status === 415) reply.header('connection', 'close');
      const code = status === 413 ? 'body_too_large' : status === 415 ? 'unsupported_media_type' : status === 400 ? 'bad_request' : status >= 500 ? 'internal' : 'error';
      if (status >= 500) opts.logger.error({ err: err.message }, 'HTTP handler failed');
      return reply.code(status).send({ error: code, message: status >= 500 ? 'internal error; see the server log' : err.message });
    });
    // JSON only: Fastify's default text/plain parser would hand handlers a string, answered 400 instead of 415.
    app.removeContentTypeParser('text/plain');
    app.removeContentTypeParser('application/json');
    // Bodies are read as sent: a compressed one would be parsed as garbage (and echoed in the error), so any
    // Content-Encoding but identity is 415 before the body is read.
    // A body that will be refused is refused from its headers, before it is read, and the connection is
    // closed behind the answer: a 100 MB upload is not read whole just to be thrown away.
    app.addHook('onRequest', async (req, reply) => {
      const refusal = bodyRefusal(req.raw);
      if (refusal === undefined) return undefined;
      if (refusal.status === 415 && refusal.error === 'unsupported_media_type' && /encoding/i.test(refusal.message)) reply.header('accept-encoding', 'identity');
      return reply.code(refusal.status).header('connection', 'close').send({ error: refusal.error, message: refusal.message });
    });
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, parseJsonBody(body as string));
      } catch (err) {
        done(Object.assign(err as Error, { statusCode: 400 }), undefined);
      }
    });
    app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not_found', message: `no route for ${req.method} ${req.url.split('?')[0]}` }));

    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_req, reply) => {
      const waiting = opts.readiness.map((check) => check()).filter((r): r is string => r !== null);
      const notes = (opts.notes ?? []).map((check) => check()).filter((r): r is string => r !== null);
      return reply.code(waiting.length === 0 ? 200 : 503).send({ status: waiting.length === 0 ? 'ready' : 'not ready', waiting, ...(notes.length > 0 ? { notes } : {}) });
    });
    app.get('/metrics', async (_req, reply) => {
      const text = await opts.metrics();
      return reply.header('content-type', opts.contentType).send(text);
    });
    opts.routes?.(app);
    this.app = app;
  }

  /** A renewed certificate for new connections (SIGHUP); HTTPS only. */
  setTls(tls: { cert: Buffer; key: Buffer }): void {
    const server = this.app.server as unknown as { setSecureContext?: (o: { cert: Buffer; key: Buffer }) => void };
    if (server.setSecureContext === undefined) throw new Error('the HTTP listener was started without --http-tls-cert; restart to switch to HTTPS');
    server.setSecureContext(tls);
  }

  async start(): Promise<ListenAddress> {
    await this.app.listen({ host: this.opts.address.host, port: this.opts.address.port });
    const a = this.app.server.address();
    if (a === null || typeof a === 'string') throw new Error('HTTP listener has no address');
    return { host: a.address, port: a.port, family: this.opts.address.family };
  }

  async stop(): Promise<void> {
    await this.app.close();
  }
}

/**
 * JSON.parse that names what is wrong: the syntax error's own message, or a
 * key that could reach an object's prototype in code that copies bodies
 * (refused outright; Fastify's default parser calls both "not valid JSON").
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  let forbidden: string | undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, (key, value: unknown) => {
      const pollutes = key === '__proto__' || (key === 'constructor' && value !== null && typeof value === 'object' && Object.hasOwn(value, 'prototype'));
      if (pollutes) forbidden ??= key;
      return value;
    });
  } catch (err) {
    // V8 quotes the text it could not read ("…" is not valid JSON): the body is not echoed back.
    throw new Error(`the body is not valid JSON: ${(err as Error).message.replace(/, ".*" is not valid JSON$/s, '')}`);
  }
  if (forbidden !== undefined) throw new Error(`the body has a "${forbidden}" key, which is not allowed anywhere in a body`);
  return parsed;
}
