import fc from 'fast-check';
import { buildQuery } from './dns-client.js';

/**
 * Inputs for fuzzing the DNS message parser and listeners: valid queries of
 * every shape the server meets (the seeds), byte-level mutations of them,
 * structured messages with random header, names and records, and pure noise.
 */

const NAMES = [
  'web.default.linkerd.local',
  '_http._tcp.web.default.linkerd.local',
  'api.default.linkerd.local',
  'docs.linkerd.local',
  'linkerd.local',
  'nope.linkerd.local',
  'deep.er.than.anything.linkerd.local',
  'WeB.DeFaUlT.LiNkErD.LoCaL',
  'example.com',
  '',
];
const TYPES = [1, 28, 33, 6, 2, 16, 5, 12, 15, 255, 252, 251, 41, 0, 65535];
const EDNS = [false, {}, { udpSize: 0 }, { udpSize: 512 }, { udpSize: 65535 }, { version: 1 }, { do: true }] as const;

/** An OPT record carrying options (a cookie and a client subnet), as resolvers send them. */
function withOptions(query: Buffer): Buffer {
  const options = Buffer.from('000a00080102030405060708' + '0008000700011800c0000201'.slice(0, 22) + '00', 'hex');
  const opt = Buffer.alloc(11);
  opt.writeUInt16BE(41, 1);
  opt.writeUInt16BE(1232, 3);
  opt.writeUInt16BE(options.length, 9);
  const out = Buffer.concat([query, opt, options]);
  out.writeUInt16BE(1, 10);
  return out;
}

export const seedQueries: readonly Buffer[] = (() => {
  const out: Buffer[] = [];
  let id = 1;
  for (const name of NAMES) {
    for (const type of TYPES) out.push(buildQuery(name, { id: id++, type, edns: EDNS[id % EDNS.length] }));
  }
  out.push(withOptions(buildQuery('web.default.linkerd.local', { id: id++ })));
  out.push(buildQuery('web.default.linkerd.local', { id: id++, opcode: 5 }));
  out.push(buildQuery('web.default.linkerd.local', { id: id++, qclass: 3 }));
  out.push(buildQuery('web.default.linkerd.local', { id: id++, qclass: 255 }));
  out.push(buildQuery('web.default.linkerd.local', { id: id++, rd: false }));
  // A question name that ends in a compression pointer back into itself.
  const pointed = buildQuery('web.default.linkerd.local', { id: id++ });
  out.push(Buffer.concat([pointed.subarray(0, 16), Buffer.from([0xc0, 12]), pointed.subarray(pointed.length - 4)]));
  return out;
})();

type Mutation = (b: Buffer, at: number, value: number, length: number) => Buffer;

const MUTATIONS: Mutation[] = [
  (b, at, value) => ((b[at % b.length] = value), b),
  (b, at, value) => ((b[at % b.length]! ^= 1 << (value & 7)), b),
  (b, at, _v, length) => b.subarray(0, Math.min(at, length) % (b.length + 1)),
  (b, at, value, length) => Buffer.concat([b.subarray(0, at % (b.length + 1)), Buffer.alloc(length % 64, value), b.subarray(at % (b.length + 1))]),
  (b, at, _v, length) => Buffer.concat([b.subarray(0, at % (b.length + 1)), b.subarray((at + length) % (b.length + 1))]),
  (b, at, _v, length) => Buffer.concat([b, b.subarray(at % (b.length + 1), (at % (b.length + 1)) + (length % 40))]),
  (b, at, value) => (b.length >= 12 ? (b.writeUInt16BE((value << 8) | (at & 0xff), 4 + 2 * (at % 4)), b) : b),
  (b, at, value) => (b.length > 13 ? ((b[12 + (at % (b.length - 13))] = 0xc0 | (value & 0x3f)), b) : b),
  (b, _at, value, length) => Buffer.concat([b, Buffer.alloc(length % 300, value)]),
];

const mutated: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.constantFrom(...seedQueries),
    fc.array(fc.tuple(fc.nat(MUTATIONS.length - 1), fc.nat(1000), fc.integer({ min: 0, max: 255 }), fc.nat(400)), { minLength: 1, maxLength: 6 }),
  )
  .map(([seed, steps]) => {
    let b = Buffer.from(seed);
    for (const [m, at, value, length] of steps) b = Buffer.from(MUTATIONS[m]!(b, at, value, length));
    return b;
  });

const label = fc.oneof(fc.constantFrom('web', 'default', 'linkerd', 'local', '_http', '_tcp', 'api', 'docs', '*'), fc.uint8Array({ maxLength: 70 }).map((a) => Buffer.from(a).toString('latin1')));

const structured: fc.Arbitrary<Buffer> = fc
  .record({
    id: fc.nat(0xffff),
    flags: fc.nat(0xffff),
    counts: fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3), fc.nat(3)),
    labels: fc.array(label, { maxLength: 8 }),
    type: fc.oneof(fc.constantFrom(...TYPES), fc.nat(0xffff)),
    qclass: fc.oneof(fc.constant(1), fc.nat(0xffff)),
    records: fc.array(fc.tuple(fc.oneof(fc.constant(41), fc.nat(0xffff)), fc.nat(0xffff), fc.nat(0xffffffff), fc.uint8Array({ maxLength: 40 }), fc.boolean()), { maxLength: 4 }),
  })
  .map(({ id, flags, counts, labels, type, qclass, records }) => {
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    header.writeUInt16BE(flags & 0x7fff, 2);
    counts.forEach((c, i) => header.writeUInt16BE(c, 4 + 2 * i));
    const name = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([Math.min(l.length, 255)]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
    const question = Buffer.alloc(4);
    question.writeUInt16BE(type, 0);
    question.writeUInt16BE(qclass, 2);
    const rrs = records.map(([rtype, rclass, ttl, rdata, lie]) => {
      const rr = Buffer.alloc(11);
      rr.writeUInt16BE(rtype, 1);
      rr.writeUInt16BE(rclass, 3);
      rr.writeUInt32BE(ttl, 5);
      rr.writeUInt16BE(lie ? rdata.length + 7 : rdata.length, 9);
      return Buffer.concat([rr, Buffer.from(rdata)]);
    });
    return Buffer.concat([header, name, question, ...rrs]);
  });

const noise: fc.Arbitrary<Buffer> = fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a));

/** Mostly mutations of valid queries (they get past the first checks), some structured, some noise. */
export const fuzzMessage: fc.Arbitrary<Buffer> = fc.oneof({ arbitrary: mutated, weight: 6 }, { arbitrary: structured, weight: 2 }, { arbitrary: noise, weight: 1 }, { arbitrary: fc.constantFrom(...seedQueries), weight: 1 });
