import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import dns2 from 'dns2';

/** dns2's Packet serves as an independent decoder of what the server sends. */
export const { Packet } = dns2;

export interface DecodedRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  address?: string;
  target?: string;
  weight?: number;
  port?: number;
  priority?: number;
  domain?: string;
  primary?: string;
  minimum?: number;
  extendedRcode?: number;
  version?: number;
  doFlag?: boolean;
  data?: string | string[];
}

export interface Decoded {
  header: { id: number; qr: number; opcode: number; aa: number; tc: number; rd: number; ra: number; cd: number; rcode: number; qdcount: number; ancount: number; nscount: number; arcount: number };
  questions: { name: string; type: number; class: number }[];
  answers: DecodedRecord[];
  authorities: DecodedRecord[];
  additionals: DecodedRecord[];
}

export function decode(buf: Buffer): Decoded {
  return Packet.parse(buf) as unknown as Decoded;
}

export interface QueryOptions {
  id?: number;
  type?: number;
  qclass?: number;
  rd?: boolean;
  opcode?: number;
  edns?: { udpSize?: number; version?: number; do?: boolean } | false;
}

function nameWire(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter((p) => p !== '');
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])), Buffer.from([0])]);
}

/** Builds a query byte by byte, so tests control every field (dns2 cannot set EDNS version or opcode). */
export function buildQuery(name: string, opts: QueryOptions = {}): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(opts.id ?? 0x1234, 0);
  header.writeUInt16BE(((opts.opcode ?? 0) << 11) | (opts.rd === false ? 0 : 0x0100), 2);
  header.writeUInt16BE(1, 4);
  const edns = opts.edns === undefined ? false : opts.edns;
  header.writeUInt16BE(edns ? 1 : 0, 10);
  const question = Buffer.alloc(4);
  question.writeUInt16BE(opts.type ?? 1, 0);
  question.writeUInt16BE(opts.qclass ?? 1, 2);
  const parts = [header, nameWire(name), question];
  if (edns) {
    const opt = Buffer.alloc(11);
    opt[0] = 0;
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(edns.udpSize ?? 1232, 3);
    opt[5] = 0;
    opt[6] = edns.version ?? 0;
    opt[7] = edns.do ? 0x80 : 0;
    opt.writeUInt16BE(0, 9);
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

/** One query over UDP; `from` binds the client to a source address first (a client in another zone). */
export function udpExchange(port: number, msg: Buffer, timeoutMs = 1000, host = '127.0.0.1', from?: string): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(null);
    }, timeoutMs);
    socket.on('message', (reply) => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    });
    if (from === undefined) socket.send(msg, port, host);
    else socket.bind({ address: from, port: 0 }, () => socket.send(msg, port, host));
  });
}

export function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length, 0);
  return Buffer.concat([len, msg]);
}

/**
 * Sends the given raw bytes in the given chunks over one TCP connection and
 * collects `expected` framed replies.
 */
export function tcpExchange(port: number, chunks: Buffer[], expected: number, timeoutMs = 2000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const replies: Buffer[] = [];
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`got ${replies.length} of ${expected} TCP replies`));
    }, timeoutMs);
    socket.on('error', reject);
    socket.on('connect', async () => {
      for (const c of chunks) {
        socket.write(c);
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    socket.on('data', (d: Buffer) => {
      buffered = Buffer.concat([buffered, d]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const len = buffered.readUInt16BE(0);
        replies.push(buffered.subarray(2, 2 + len));
        buffered = buffered.subarray(2 + len);
      }
      if (replies.length >= expected) {
        clearTimeout(timer);
        socket.end();
        resolve(replies);
      }
    });
  });
}
