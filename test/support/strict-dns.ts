/**
 * A strict, independent reader of DNS responses for the fuzz tests: it
 * accepts a message only if every count, name, pointer and RDATA length adds
 * up exactly (RFC 1035 §4, RFC 6891 for OPT), with no bytes left over. It
 * shares no code with the server, so a writer bug cannot hide behind it.
 */

export interface StrictSummary {
  id: number;
  flags: number;
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
  /** The question name in lower case, '' when there is none. */
  question: string;
  qtype: number;
  /** Offset just past the question section. */
  questionEnd: number;
}

export class InvalidMessage extends Error {}

function fail(msg: Buffer, why: string): never {
  throw new InvalidMessage(`${why}: ${msg.toString('hex')}`);
}

/** Reads a name at `start`; returns its text and where the bytes after it begin. */
function readName(msg: Buffer, start: number): { text: string; end: number } {
  const labels: string[] = [];
  let o = start;
  let end = -1;
  let wireLength = 1;
  for (let hops = 0; ; ) {
    if (o >= msg.length) fail(msg, `name at ${start} runs past the end`);
    const len = msg[o]!;
    if (len === 0) {
      if (end < 0) end = o + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (o + 1 >= msg.length) fail(msg, 'pointer cut short');
      const target = ((len & 0x3f) << 8) | msg[o + 1]!;
      if (target >= o) fail(msg, `pointer at ${o} does not point backwards`);
      if (++hops > 127) fail(msg, 'pointer loop');
      if (end < 0) end = o + 2;
      o = target;
      continue;
    }
    if ((len & 0xc0) !== 0) fail(msg, `label type ${len >> 6} at ${o}`);
    if (o + 1 + len > msg.length) fail(msg, 'label runs past the end');
    wireLength += len + 1;
    if (wireLength > 255) fail(msg, 'name longer than 255 octets');
    labels.push(msg.toString('latin1', o + 1, o + 1 + len).toLowerCase());
    o += 1 + len;
  }
  return { text: labels.join('.'), end };
}

function checkRdata(msg: Buffer, type: number, start: number, end: number): void {
  const exactName = (at: number): number => {
    const n = readName(msg, at);
    if (n.end > end) fail(msg, `name in type ${type} RDATA runs past RDLENGTH`);
    return n.end;
  };
  switch (type) {
    case 1:
      if (end - start !== 4) fail(msg, 'A RDATA is not 4 octets');
      return;
    case 28:
      if (end - start !== 16) fail(msg, 'AAAA RDATA is not 16 octets');
      return;
    case 2:
    case 5:
    case 12:
      if (exactName(start) !== end) fail(msg, `type ${type} RDATA has bytes after its name`);
      return;
    case 15:
      if (exactName(start + 2) !== end) fail(msg, 'MX RDATA length wrong');
      return;
    case 33:
      if (end - start < 7 || exactName(start + 6) !== end) fail(msg, 'SRV RDATA length wrong');
      return;
    case 6: {
      const afterNames = exactName(exactName(start));
      if (afterNames + 20 !== end) fail(msg, 'SOA RDATA length wrong');
      return;
    }
    case 16: {
      let o = start;
      if (o === end) fail(msg, 'TXT without a string');
      while (o < end) o += 1 + msg[o]!;
      if (o !== end) fail(msg, 'TXT strings do not fill RDATA');
      return;
    }
    case 41: {
      let o = start;
      while (o < end) {
        if (o + 4 > end) fail(msg, 'OPT option header cut short');
        o += 4 + msg.readUInt16BE(o + 2);
      }
      if (o !== end) fail(msg, 'OPT options do not fill RDATA');
      return;
    }
    default:
      return;
  }
}

/** Throws InvalidMessage unless `msg` is a well-formed DNS response. */
export function strictParseResponse(msg: Buffer): StrictSummary {
  if (msg.length < 12) fail(msg, 'shorter than a header');
  const flags = msg.readUInt16BE(2);
  if ((flags & 0x8000) === 0) fail(msg, 'QR not set');
  const [qdcount, ancount, nscount, arcount] = [4, 6, 8, 10].map((o) => msg.readUInt16BE(o)) as [number, number, number, number];
  if (qdcount > 1) fail(msg, `${qdcount} questions`);
  let o = 12;
  let question = '';
  let qtype = 0;
  if (qdcount === 1) {
    const n = readName(msg, o);
    if (n.end + 4 > msg.length) fail(msg, 'question cut short');
    question = n.text;
    qtype = msg.readUInt16BE(n.end);
    o = n.end + 4;
  }
  const questionEnd = o;
  let opts = 0;
  for (let i = 0; i < ancount + nscount + arcount; i++) {
    const owner = readName(msg, o);
    if (owner.end + 10 > msg.length) fail(msg, `record ${i} header cut short`);
    const type = msg.readUInt16BE(owner.end);
    const rdlength = msg.readUInt16BE(owner.end + 8);
    const start = owner.end + 10;
    if (start + rdlength > msg.length) fail(msg, `record ${i} RDATA runs past the end`);
    if (type === 41) {
      if (i < ancount + nscount) fail(msg, 'OPT outside the additional section');
      if (owner.text !== '') fail(msg, 'OPT owner is not the root');
      if (++opts > 1) fail(msg, 'two OPT records');
    }
    checkRdata(msg, type, start, start + rdlength);
    o = start + rdlength;
  }
  if (o !== msg.length) fail(msg, `${msg.length - o} bytes after the last record`);
  return { id: msg.readUInt16BE(0), flags, rcode: flags & 0xf, qdcount, ancount, nscount, arcount, question, qtype, questionEnd };
}
