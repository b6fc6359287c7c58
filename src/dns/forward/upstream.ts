import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { randomInt } from 'node:crypto';
import { HEADER_SIZE } from '../../wire/constants.js';
import type { Upstream } from '../../config/listen-address.js';

export type { Upstream };

export function upstreamText(u: Upstream): string {
  return isIPv6(u.host) ? `[${u.host}]:${u.port}` : `${u.host}:${u.port}`;
}

/** Whether `reply` answers `query`: same ID and the same question, letter case aside. */
function matches(query: Buffer, reply: Buffer, questionEnd: number): boolean {
  if (reply.length < questionEnd || reply.readUInt16BE(0) !== query.readUInt16BE(0)) return false;
  if ((reply[2]! & 0x80) === 0) return false;
  for (let i = HEADER_SIZE; i < questionEnd; i++) {
    let a = query[i]!;
    let b = reply[i]!;
    if (a >= 0x41 && a <= 0x5a) a |= 0x20;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (a !== b) return false;
  }
  return true;
}

/**
 * One UDP exchange from a fresh socket: the kernel picks a random source
 * port and we pick a random ID, so an off-path spoofer must guess both.
 */
export function queryUdp(u: Upstream, msg: Buffer, questionEnd: number, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = createSocket(isIPv6(u.host) ? 'udp6' : 'udp4');
    const query = Buffer.from(msg);
    query.writeUInt16BE(randomInt(0, 0x10000), 0);
    let done = false;
    const finish = (reply: Buffer | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.on('error', () => finish(null));
    socket.on('message', (reply, rinfo) => {
      if (rinfo.port !== u.port || !matches(query, reply, questionEnd)) return; // stray or spoofed: keep waiting
      finish(reply);
    });
    socket.send(query, u.port, u.host, (err) => {
      if (err) finish(null);
    });
  });
}

/** One TCP exchange (RFC 7766 framing) on a fresh connection. */
export function queryTcp(u: Upstream, msg: Buffer, questionEnd: number, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const query = Buffer.allocUnsafe(msg.length + 2);
    query.writeUInt16BE(msg.length, 0);
    msg.copy(query, 2);
    query.writeUInt16BE(randomInt(0, 0x10000), 2);
    const socket = connect({ host: u.host, port: u.port });
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (reply: Buffer | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.on('error', () => finish(null));
    socket.on('close', () => finish(null));
    socket.on('connect', () => socket.write(query));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2) return;
      const len = received.readUInt16BE(0);
      if (received.length < 2 + len) return;
      const reply = received.subarray(2, 2 + len);
      finish(matches(query.subarray(2), reply, questionEnd) ? Buffer.from(reply) : null);
    });
  });
}
