import { MessageStream } from './message-stream.js';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { QueryHandler } from './query-handler.js';
import type { ListenAddress } from '../config/listen-address.js';
import { RateDecision, truncatedCopy, type ResponseRateLimiter } from './rate-limit/response-rate-limiter.js';

export interface UdpRateLimit {
  readonly limiter: ResponseRateLimiter;
  limited(action: 'dropped' | 'slipped'): void;
}

/** Generous kernel buffers absorb bursts while the event loop is busy. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * DNS over UDP. Answers are sent straight from the message callback; only
 * forwarded queries wait on a promise.
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
  ) {}

  start(): Promise<ListenAddress> {
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
    const rateLimit = this.rateLimit;
    if (rateLimit !== undefined) {
      const decision = rateLimit.limiter.decide(reply, rinfo.address, rinfo.family === 'IPv6' ? 'ipv6' : 'ipv4', Date.now());
      if (decision === RateDecision.Drop) {
        rateLimit.limited('dropped');
        return;
      }
      if (decision === RateDecision.Slip) {
        rateLimit.limited('slipped');
        reply = truncatedCopy(reply);
      }
    }
    socket.send(reply, rinfo.port, rinfo.address);
  }

  /** Stops receiving; waits (bounded) for forwarded queries still in flight. */
  async stop(graceMs: number): Promise<void> {
    const socket = this.socket;
    if (socket === undefined) return;
    socket.removeAllListeners('message');
    const deadline = Date.now() + graceMs;
    while (this.pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.socket = undefined;
    await new Promise<void>((r) => socket.close(() => r()));
  }
}
