import { performance } from 'node:perf_hooks';
import { MessageStream } from './message-stream.js';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { QueryHandler } from './query-handler.js';
import type { ListenAddress } from '../config/listen-address.js';
import { RateDecision, truncatedCopy, type ResponseRateLimiter } from './rate-limit/response-rate-limiter.js';
import { AddressText, loadUdpBatch, type UdpBatchAddon, type UdpBatchHandle, type UdpIo } from './udp-batch.js';

export interface UdpRateLimit {
  readonly limiter: ResponseRateLimiter;
  limited(action: 'dropped' | 'slipped'): void;
}

/** Generous kernel buffers absorb bursts while the event loop is busy. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * DNS over UDP, on one of two paths: batches through the native addon (recvmmsg, then per run of datagrams one
 * call here and one sendmmsg; answers written straight into the send slots), or node:dgram, an event and a send
 * per datagram. Either way answers are made synchronously; only forwarded queries wait on a promise.
 */
export class UdpListener {
  private socket: Socket | undefined;
  private pending = 0;

  constructor(
    private readonly address: ListenAddress,
    private readonly handler: QueryHandler,
    private readonly rateLimit?: UdpRateLimit,
    /**
     * A socket of this process's own on a port others bind too (SO_REUSEPORT): the kernel spreads datagrams
     * over the sockets, so a worker reads its share directly instead of through a handle shared by the cluster.
     */
    private readonly reusePort = false,
    /** recvmmsg/sendmmsg through the native addon (chosen at start, see udp-batch.ts), or node:dgram. */
    private readonly io: UdpIo = 'dgram',
  ) {}

  private batch: { addon: UdpBatchAddon; handle: UdpBatchHandle } | undefined;
  private readonly addresses = new AddressText();
  /** Stopping: datagrams still read are dropped, as dgram's path stops listening, while forwards finish. */
  private draining = false;

  start(): Promise<ListenAddress> {
    if (this.io === 'recvmmsg') {
      try {
        return Promise.resolve(this.startBatch());
      } catch (err) {
        return Promise.reject(err as Error); // a port in use: EADDRINUSE, as dgram reports it
      }
    }
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: this.address.family === 6 ? 'udp6' : 'udp4', ipv6Only: this.address.family === 6, reusePort: this.reusePort });
      this.socket = socket;
      socket.once('error', reject);
      // exclusive: in a cluster worker, bind a socket of our own rather than ask the primary for its handle.
      socket.bind({ port: this.address.port, address: this.address.host, exclusive: this.reusePort }, () => {
        socket.off('error', reject);
        // Per-datagram errors (ICMP unreachable replies and the like) must not end the listener.
        socket.on('error', () => undefined);
        try {
          socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
          socket.setSendBufferSize(SOCKET_BUFFER_BYTES);
        } catch {
          // The kernel may cap buffer sizes (net.core.rmem_max); the defaults still work.
        }
        socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
        const bound = socket.address();
        resolve({ host: bound.address, port: bound.port, family: this.address.family });
      });
    });
  }

  private startBatch(): ListenAddress {
    const loaded = loadUdpBatch();
    if (!('addon' in loaded)) throw new Error(loaded.error);
    const addon = loaded.addon;
    // Datagram i arrives in rx slot i and its answer goes out of tx slot i; meta[3i..3i+2] is [length, port,
    // answer length], addrs[16i..] the sender. One view per slot, made once.
    const rx = Buffer.allocUnsafeSlow(addon.BATCH * addon.SLOT);
    const tx = Buffer.allocUnsafeSlow(addon.BATCH * addon.SLOT);
    const slotsOf = (b: Buffer): Buffer[] => Array.from({ length: addon.BATCH }, (_, i) => b.subarray(i * addon.SLOT, (i + 1) * addon.SLOT));
    const inSlots = slotsOf(rx);
    const outSlots = slotsOf(tx);
    const meta = new Int32Array(addon.BATCH * 3);
    const addrs = new Uint8Array(addon.BATCH * 16);
    const family = this.address.family === 6 ? 6 : 4;
    const handle = addon.open(family, this.address.host, this.address.port, this.reusePort, rx, tx, meta, addrs, (count, first) => this.onBatch(first, first + count, inSlots, outSlots, meta, addrs));
    this.batch = { addon, handle };
    return { host: this.address.host, port: addon.localPort(handle), family: this.address.family };
  }

  /**
   * Answers datagrams first..end-1 of a batch into their send slots; the addon sends them in one sendmmsg when
   * this returns. True when a forwarded query left promise jobs (the addon then runs them at once).
   */
  private onBatch(first: number, end: number, inSlots: readonly Buffer[], outSlots: readonly Buffer[], meta: Int32Array, addrs: Uint8Array): boolean {
    const batch = this.batch;
    if (batch === undefined || this.draining) return false;
    let forwarded = false;
    const ipv6 = this.address.family === 6;
    const handler = this.handler;
    // The catalog's answers are written straight into the send slot, unless rate limiting, which may drop or
    // truncate an answer, has to see it first.
    const direct = this.rateLimit === undefined;
    // The run's datagrams were all read by now: one clock reading for their duration metric, not one each.
    const readAt = performance.now();
    for (let i = first; i < end; i++) {
      // The datagram is the first `length` bytes of its slot, valid during this call only: the handler copies
      // what an answer that comes later (a forwarded query) needs.
      const length = meta[i * 3]!;
      const port = meta[i * 3 + 1]!;
      const address = ipv6 ? this.addresses.ipv6(addrs, i * 16) : this.addresses.ipv4(addrs, i * 16);
      const out = outSlots[i]!;
      let reply;
      try {
        reply = handler.handle(inSlots[i]!, false, address, ipv6 ? 'ipv6' : 'ipv4', direct ? out : undefined, length, readAt);
      } catch {
        continue; // a bug must cost one answer, never the listener
      }
      if (reply === null || reply instanceof MessageStream) continue;
      if (reply === out) {
        meta[i * 3 + 2] = handler.writtenLength;
        continue;
      }
      if (!(reply instanceof Promise)) {
        const answer = this.limited(reply, address, ipv6);
        if (answer !== null) meta[i * 3 + 2] = answer.copy(out);
        continue;
      }
      this.pending++;
      forwarded = true;
      reply
        .then((later) => {
          const answer = later === null ? null : this.limited(later, address, ipv6);
          if (answer !== null && this.batch !== undefined) this.batch.addon.sendTo(this.batch.handle, answer, port, address);
        })
        .catch(() => undefined)
        .finally(() => this.pending--);
    }
    return forwarded;
  }

  /** The answer as response-rate limiting lets it go: whole, truncated (slipped), or not at all. */
  private limited(reply: Buffer, address: string, ipv6: boolean): Buffer | null {
    const rateLimit = this.rateLimit;
    if (rateLimit === undefined) return reply;
    const decision = rateLimit.limiter.decide(reply, address, ipv6 ? 'ipv6' : 'ipv4', Date.now());
    if (decision === RateDecision.Drop) {
      rateLimit.limited('dropped');
      return null;
    }
    if (decision === RateDecision.Slip) {
      rateLimit.limited('slipped');
      return truncatedCopy(reply);
    }
    return reply;
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const socket = this.socket!;
    let reply;
    try {
      reply = this.handler.handle(msg, false, rinfo.address, rinfo.family === 'IPv6' ? 'ipv6' : 'ipv4');
    } catch {
      return; // a bug must cost one answer, never the listener
    }
    if (reply === null) return;
    if (!(reply instanceof Promise)) {
      // Several messages answer only a zone transfer, which is TCP's alone.
      if (!(reply instanceof MessageStream)) this.send(socket, reply, rinfo);
      return;
    }
    this.pending++;
    reply
      .then((answer) => {
        if (answer !== null && this.socket !== undefined) this.send(socket, answer, rinfo);
      })
      .catch(() => undefined)
      .finally(() => this.pending--);
  }

  private send(socket: Socket, reply: Buffer, rinfo: RemoteInfo): void {
    const answer = this.limited(reply, rinfo.address, rinfo.family === 'IPv6');
    if (answer !== null) socket.send(answer, rinfo.port, rinfo.address);
  }

  /** Stops receiving; waits (bounded) for forwarded queries still in flight. */
  async stop(graceMs: number): Promise<void> {
    const batch = this.batch;
    if (batch !== undefined) {
      // Like dgram's path: stop reading, let forwarded queries finish (bounded), then close.
      const deadline = Date.now() + graceMs;
      this.draining = true;
      while (this.pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      this.batch = undefined;
      batch.addon.close(batch.handle);
      return;
    }
    const socket = this.socket;
    if (socket === undefined) return;
    socket.removeAllListeners('message');
    const deadline = Date.now() + graceMs;
    while (this.pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.socket = undefined;
    await new Promise<void>((r) => socket.close(() => r()));
  }
}
