import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import fc from 'fast-check';
import { buildQuery, decode, frame, udpExchange } from '../support/dns-client.js';
import { fuzzMessage } from '../support/fuzz-messages.js';
import { strictParseResponse } from '../support/strict-dns.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';

let server: MeshdnsProcess;
before(async () => {
  server = await startMeshdns(['--upstream', 'none']);
});
after(() => server.stop());

const valid = buildQuery('_http._tcp.web.default.linkerd.local', { type: 33, edns: {} });

/** Hand-made attacks on the parser. */
function handMade(): Buffer[] {
  const out: Buffer[] = [];
  const header = (qd: number, an: number, ns: number, ar: number): Buffer => {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(0xbeef, 0);
    h.writeUInt16BE(qd, 4);
    h.writeUInt16BE(an, 6);
    h.writeUInt16BE(ns, 8);
    h.writeUInt16BE(ar, 10);
    return h;
  };
  // Compression loop in the question and in an answer record.
  out.push(Buffer.concat([header(1, 0, 0, 0), Buffer.from([0xc0, 12, 0, 1, 0, 1])]));
  out.push(Buffer.concat([buildQuery('a.b'), Buffer.from([0xc0, 0x1d, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0])]).fill(0, 10, 11));
  // A label over 63 octets, a name over 255, a label running past the end.
  out.push(Buffer.concat([header(1, 0, 0, 0), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0, 0, 1, 0, 1])]));
  out.push(Buffer.concat([header(1, 0, 0, 0), ...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([60]), Buffer.alloc(60, 0x62)])), Buffer.from([0, 0, 1, 0, 1])]));
  out.push(Buffer.concat([header(1, 0, 0, 0), Buffer.from([40, 0x61, 0x62])]));
  // Lying counts.
  out.push(Buffer.concat([header(65535, 65535, 65535, 65535), Buffer.from([0, 0, 1, 0, 1])]));
  out.push(Buffer.concat([header(1, 0, 0, 5), Buffer.from([0, 0, 1, 0, 1])]));
  out.push(Buffer.concat([header(0, 0, 0, 0)]));
  // OPT with a lying rdlength, two OPTs, OPT with a non-root owner.
  const opt = Buffer.from([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 2]);
  out.push(Buffer.concat([header(1, 0, 0, 1), Buffer.from([0, 0, 1, 0, 1]), opt]));
  out.push(Buffer.concat([header(1, 0, 0, 2), Buffer.from([0, 0, 1, 0, 1]), valid.subarray(valid.length - 11), valid.subarray(valid.length - 11)]));
  out.push(Buffer.concat([header(1, 0, 0, 1), Buffer.from([0, 0, 1, 0, 1, 1, 0x61]), valid.subarray(valid.length - 10)]));
  // Empty, one byte, a bare header with QR set.
  out.push(Buffer.alloc(0), Buffer.from([0]), Buffer.from([0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
  return out;
}

/** Every response must be a well-formed DNS message with the sender's ID and QR set. */
function checkResponse(input: Buffer, reply: Buffer): void {
  assert.equal(strictParseResponse(reply).id, input.readUInt16BE(0));
}

test('hand-made packets one by one: FORMERR with the ID when a header can be read, else silence', async () => {
  for (const input of handMade()) {
    const reply = await udpExchange(server.dnsPort, input, 300);
    if (input.length < 12 || (input[2]! & 0x80) !== 0) {
      assert.equal(reply, null, `answered ${input.toString('hex')}`);
      continue;
    }
    assert.ok(reply !== null, `no reply to ${input.toString("hex")}`);
    checkResponse(input, reply);
    assert.ok([0, 1, 3, 4, 5].includes(reply[3]! & 0xf), `rcode ${reply[3]! & 0xf}`);
  }
});

test('garbage over TCP: the connection may close, the server keeps serving', async () => {
  for (const input of [...handMade(), ...fc.sample(fuzzMessage, { numRuns: 200, seed: 7 })]) {
    await new Promise<void>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: server.dnsPort }, () => {
        s.write(Buffer.concat([frame(input), Buffer.from([0xff, 0xff, 1, 2, 3])]));
        s.end();
      });
      s.on('data', (d: Buffer) => {
        if (d.length > 2) strictParseResponse(d.subarray(2, 2 + d.readUInt16BE(0)));
      });
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
  }
  const ok = await udpExchange(server.dnsPort, buildQuery('web.default.linkerd.local'));
  assert.equal(decode(ok!).answers.length, 2);
});
