import { performance } from 'node:perf_hooks';
import { MessageStream } from './message-stream.js';
import { createServer, type Server, type Socket } from 'node:net';
import type { QueryHandler } from './query-handler.js';
import type { ListenAddress } from '../config/listen-address.js';

export interface TcpListenerOptions {
  /** Close a connection that sends nothing for this long (RFC 7766 §6.2.3). */
  idleTimeoutMs: number;
  /**
   * Connections held at most. At the cap a new connection takes the place of
   * the one that has gone longest without a complete query (slowloris clients
   * first), or is closed at once when every connection is busy.
   */
  maxConnections: number;
  /** Connections one client address may hold; further ones are closed at once. */
  maxConnectionsPerClient: number;
}

/** After shutdown begins, how long data still arriving on open connections is answered. */
const DRAIN_MS = 250;

/** Stop reading from a client that does not read its answers once this much is queued. */
const MAX_QUEUED_BYTES = 256 * 1024;

/** Forwarded queries one connection may have waiting; further reads wait for them. */
const MAX_IN_FLIGHT = 64;
/** A zone transfer writes for this long, then lets other work run (a 100,000-instance zone takes ~0.5 s). */
const TRANSFER_SLICE_MS = 2;

/**
 * DNS over TCP (RFC 1035 §4.2.2, RFC 7766): two-octet length framing, any
 * number of queries per connection in any split or joined reads, answers as
 * they are ready (forwarded ones may overtake; the ID pairs them).
 */
export class TcpListener {
  private server: Server | undefined;
  private readonly connections = new Set<Connection>();
  private readonly perClient = new Map<string, number>();
  private closing = false;

  constructor(
    private readonly address: ListenAddress,
    private readonly handler: QueryHandler,
    private readonly opts: TcpListenerOptions,
  ) {}

  start(): Promise<ListenAddress> {
    return new Promise((resolve, reject) => {
      const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
      this.server = server;
      server.once('error', reject);
      server.listen({ host: this.address.host, port: this.address.port, ipv6Only: this.address.family === 6 }, () => {
        server.off('error', reject);
        server.on('error', () => undefined);
        const bound = server.address();
        if (bound === null || typeof bound === 'string') return reject(new Error('TCP listener has no address'));
        resolve({ host: bound.address, port: bound.port, family: this.address.family });
      });
    });
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private accept(socket: Socket): void {
    const client = socket.remoteAddress ?? '';
    const held = this.perClient.get(client) ?? 0;
    if (this.closing || held >= this.opts.maxConnectionsPerClient || !this.makeRoom()) {
      socket.destroy();
      return;
    }
    this.perClient.set(client, held + 1);
    const conn = new Connection(socket, this.handler, this.opts.idleTimeoutMs, () => {
      this.connections.delete(conn);
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left === 0) this.perClient.delete(client);
      else this.perClient.set(client, left);
    });
    this.connections.add(conn);
  }

  /**
   * At the cap, closes one connection with nothing in flight (RFC 7766 §6.2.3): one that never sent a
   * complete query (the oldest of those: slowloris clients), else the one longest without a query.
   */
  private makeRoom(): boolean {
    if (this.connections.size < this.opts.maxConnections) return true;
    let victim: Connection | undefined;
    for (const conn of this.connections) {
      if (conn.busy) continue;
      if (victim === undefined || conn.evictionRank < victim.evictionRank) victim = conn;
    }
    if (victim === undefined) return false;
    victim.destroy();
    this.connections.delete(victim);
    return true;
  }

  /** Stops accepting, lets every connection finish the queries it has sent, then closes them (bounded by graceMs). */
  async stop(graceMs: number): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    for (const conn of this.connections) conn.finish();
    const deadline = Date.now() + graceMs;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const conn of this.connections) conn.destroy();
    await closed;
  }
}

class Connection {
  private buffered: Buffer = Buffer.alloc(0);
  private inFlight = 0;
  private ending = false;
  private draining = false;
  private readonly acceptedAt = performance.now();
  /** When the last complete query arrived; 0 until the first. */
  private lastQueryAt = 0;
  /** Closes a connection whose partial message is not completed in time, however slowly bytes trickle in. */
  private partialTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly handler: QueryHandler,
    private readonly idleTimeoutMs: number,
    onClose: () => void,
  ) {
    socket.setTimeout(idleTimeoutMs);
    socket.on('timeout', () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(this.partialTimer);
      onClose();
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // The client finished sending: answer what it sent, then close our side.
    socket.on('end', () => this.clientDone());
    socket.on('drain', () => socket.resume());
  }

  /** The client half-closed: it sends nothing more; answer what it sent, then close. */
  private clientDone(): void {
    this.ending = true;
    this.maybeEnd();
  }

  /**
   * Shutdown: queries already on their way (in socket buffers, sent before
   * the signal) are still read and answered for a short drain window; then
   * the connection closes once nothing is in flight. A client whose later
   * queries go unanswered sees the close and retries elsewhere (RFC 7766 §6.2.4).
   */
  finish(): void {
    if (this.draining) return;
    this.draining = true;
    const timer = setTimeout(() => this.clientDone(), DRAIN_MS);
    timer.unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** Lowest goes first when room is needed: never-queried connections by accept time, then by last query. */
  get evictionRank(): number {
    return this.lastQueryAt === 0 ? this.acceptedAt - 1e15 : this.lastQueryAt;
  }

  private maybeEnd(): void {
    if (this.ending && this.inFlight === 0 && !this.socket.destroyed) this.socket.end();
  }

  private onData(chunk: Buffer): void {
    if (this.ending) return;
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    let offset = 0;
    while (this.buffered.length - offset >= 2) {
      const len = this.buffered.readUInt16BE(offset);
      if (this.buffered.length - offset - 2 < len) break;
      const msg = this.buffered.subarray(offset + 2, offset + 2 + len);
      offset += 2 + len;
      this.lastQueryAt = performance.now();
      this.answer(msg);
    }
    if (offset > 0) {
      clearTimeout(this.partialTimer);
      this.partialTimer = undefined;
    }
    this.buffered = offset === this.buffered.length ? Buffer.alloc(0) : this.buffered.subarray(offset);
    if (this.buffered.length > 0 && this.partialTimer === undefined) {
      this.partialTimer = setTimeout(() => this.socket.destroy(), this.idleTimeoutMs);
    }
    if (this.socket.writableLength > MAX_QUEUED_BYTES || this.inFlight >= MAX_IN_FLIGHT) this.socket.pause();
  }

  private answer(msg: Buffer): void {
    let reply;
    try {
      reply = this.handler.handle(msg, true, this.socket.remoteAddress ?? '', this.socket.remoteFamily === 'IPv6' ? 'ipv6' : 'ipv4');
    } catch {
      return;
    }
    if (reply === null) return;
    if (!(reply instanceof Promise)) {
      // A zone transfer is several messages, each framed on its own, made as the socket takes them.
      if (reply instanceof MessageStream) {
        this.inFlight++;
        this.pump(reply.messages);
      } else this.write(reply);
      return;
    }
    this.inFlight++;
    reply
      .then((answer) => {
        if (answer !== null) this.write(answer);
      })
      .catch(() => undefined)
      .finally(() => {
        this.inFlight--;
        if (this.inFlight < MAX_IN_FLIGHT && this.socket.writableLength <= MAX_QUEUED_BYTES) this.socket.resume();
        this.maybeEnd();
      });
  }

  /**
   * Writes a transfer's messages for at most TRANSFER_SLICE_MS at a time, then lets other work run (other
   * connections' queries, UDP answers) and goes on, after the socket drains when the client reads slowly.
   */
  private pump(messages: Iterator<Buffer>): void {
    const until = performance.now() + TRANSFER_SLICE_MS;
    for (;;) {
      if (this.socket.destroyed) return;
      let next: IteratorResult<Buffer>;
      try {
        next = messages.next();
      } catch {
        this.socket.destroy(); // a bug must cost this transfer, never the listener
        return;
      }
      if (next.done === true) {
        this.inFlight--;
        if (this.inFlight < MAX_IN_FLIGHT && this.socket.writableLength <= MAX_QUEUED_BYTES) this.socket.resume();
        this.maybeEnd();
        return;
      }
      this.write(next.value);
      if (this.socket.writableLength > MAX_QUEUED_BYTES) {
        this.socket.once('drain', () => this.pump(messages));
        return;
      }
      if (performance.now() > until) {
        setImmediate(() => this.pump(messages));
        return;
      }
    }
  }

  private write(reply: Buffer): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    const framed = Buffer.allocUnsafe(reply.length + 2);
    framed.writeUInt16BE(reply.length, 0);
    reply.copy(framed, 2);
    this.socket.write(framed);
  }
}
