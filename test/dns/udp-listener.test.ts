import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { freePort } from '../support/free-port.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { tempZones } from '../support/temp-zones.js';

/**
 * Both UDP paths of the real server, the same checks each: the native recvmmsg/sendmmsg batches (the default
 * where the addon is built) and node:dgram (the fallback). The fuzzer (test/fuzz/listeners.fuzz.test.ts) runs on
 * both too.
 */
const upstreamZone = ['$ORIGIN example.test.', '$TTL 300', '@ SOA ns hostmaster 1 7200 1800 86400 60', '@ NS ns', 'ns A 127.0.0.1', 'www A 192.0.2.80'].join('\n');

/** An EDNS query carrying a padding option (RFC 7830) of `padding` bytes: a datagram of any size. */
function paddedQuery(name: string, id: number, padding: number): Buffer {
  const q = buildQuery(name, { id, edns: { udpSize: 1232 } });
  const option = Buffer.alloc(4 + padding);
  option.writeUInt16BE(12, 0);
  option.writeUInt16BE(padding, 2);
  const out = Buffer.concat([q, option]);
  out.writeUInt16BE(4 + padding, q.length - 2); // the OPT's RDLENGTH
  return out;
}

const metricsOf = async (server: MeshdnsProcess): Promise<string> => (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();

let upstream: MeshdnsProcess;
before(async () => {
  upstream = await startMeshdns(['--domain', 'example.test', '--zones', tempZones({ 'example.test.zone': upstreamZone }), '--upstream', 'none', '--udp-io', 'dgram']);
});
after(() => upstream.stop());

for (const io of ['recvmmsg', 'dgram'] as const) {
  describe(`UDP with --udp-io ${io}`, () => {
    let server: MeshdnsProcess;
    let port: number;
    before(async () => {
      port = await freePort();
      // Forwarding only for ::1: the sender's address text (made by the addon's path from raw bytes) decides.
      server = await startMeshdns(['--udp-io', io, '--dns', `127.0.0.1:${port}`, '--dns', `[::1]:${port}`, '--upstream', `127.0.0.1:${upstream.dnsPort}`, '--forward-allow', '::1/128']);
    });
    after(() => server.stop());

    test('the start log line and meshdns_udp_io say which path answers', async () => {
      const line = await server.waitForLog(/meshdns listening/);
      assert.equal(JSON.parse(line).udpIo, io);
      assert.match(await metricsOf(server), new RegExp(`meshdns_udp_io\\{io="${io}"\\} 1`));
    });

    test('a burst from 40 sockets (many batches at once): every query answered, to its sender, with its ID and answer', async () => {
      const sockets = Array.from({ length: 40 }, () => createSocket('udp4'));
      const perSocket = 100;
      const wrong: string[] = [];
      let answered = 0;
      await Promise.all(
        sockets.map(
          (socket, s) =>
            new Promise<void>((resolve) => {
              const seen = new Set<number>();
              const timer = setTimeout(resolve, 5000);
              socket.on('message', (m) => {
                const r = decode(m);
                const exists = r.header.id % 2 === 0;
                if (r.header.id >> 8 !== s || seen.has(r.header.id)) wrong.push(`socket ${s} got ID ${r.header.id}`);
                else if (exists ? r.answers.length !== 2 : r.header.rcode !== 3) wrong.push(`ID ${r.header.id}: ${r.answers.length} answers, rcode ${r.header.rcode}`);
                seen.add(r.header.id);
                answered++;
                if (seen.size === perSocket) {
                  clearTimeout(timer);
                  resolve();
                }
              });
              socket.bind(0, '127.0.0.1', () => {
                for (let i = 0; i < perSocket; i++) {
                  const id = (s << 8) | i;
                  socket.send(buildQuery(i % 2 === 0 ? 'web.default.linkerd.local' : `nope-${i}.default.linkerd.local`, { id }), port, '127.0.0.1');
                }
              });
            }),
        ),
      );
      for (const socket of sockets) socket.close();
      assert.deepEqual(wrong.slice(0, 3), []);
      assert.equal(answered, sockets.length * perSocket);
    });

    test('IPv6: answered on [::1], and the sender is ::1 (forwarding allowed for ::1 only); a cached forward is answered at once', async () => {
      const v6 = await udpExchange(port, buildQuery('www.example.test', { id: 7 }), 2000, '::1');
      assert.equal(decode(v6!).header.rcode, 0);
      assert.equal(decode(v6!).answers[0]!.address, '192.0.2.80');
      // From the cache: the answer is a promise already settled; its jobs must run now, not when a timer next
      // happens to fire (the addon runs them in a callback scope when onBatch says it left some).
      const slowest = [];
      for (let id = 100; id < 110; id++) {
        const started = performance.now();
        const cached = await udpExchange(port, buildQuery('www.example.test', { id }), 2000, '::1');
        assert.equal(decode(cached!).header.id, id);
        slowest.push(performance.now() - started);
      }
      assert.ok(Math.max(...slowest) < 40, `cached forwards took ${slowest.map((ms) => ms.toFixed(1)).join(', ')} ms`);
      const v4 = await udpExchange(port, buildQuery('www.example.test', { id: 9 }), 2000, '127.0.0.1');
      assert.equal(decode(v4!).header.rcode, 5, 'REFUSED: 127.0.0.1 is not in --forward-allow');
      assert.equal(decode((await udpExchange(port, buildQuery('web.default.linkerd.local'), 2000, '::1'))!).answers.length, 2);
    });

    test('datagrams of every size up to 60,000 bytes are read whole and answered', async () => {
      for (const padding of [0, 500, 3000, 20_000, 60_000]) {
        const reply = await udpExchange(port, paddedQuery('web.default.linkerd.local', padding & 0xffff, padding), 2000);
        assert.ok(reply !== null, `no answer to a ${padding}-byte padded query`);
        const r = decode(reply);
        assert.equal(r.header.id, padding & 0xffff);
        assert.equal(r.answers.length, 2, `padding ${padding}`);
      }
      // A message cut short inside its OPT is FORMERR, not read on into the slot's stale bytes.
      const cut = paddedQuery('web.default.linkerd.local', 77, 3000).subarray(0, 200);
      assert.equal(decode((await udpExchange(port, cut, 2000))!).header.rcode, 1);
    });
  });

  test(`--udp-io ${io} with response-rate limiting: answers over the limit are slipped (TC) or dropped`, async () => {
    const server = await startMeshdns(['--udp-io', io, '--upstream', 'none', '--rrl-responses-per-second', '1', '--rrl-slip', '2']);
    try {
      const socket = createSocket('udp4');
      let full = 0;
      let truncated = 0;
      socket.on('message', (m) => (decode(m).header.tc ? truncated++ : full++));
      await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
      for (let i = 0; i < 30; i++) socket.send(buildQuery('web.default.linkerd.local', { id: i }), server.dnsPort, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 500));
      socket.close();
      assert.ok(full >= 1 && full < 10, `${full} full answers`);
      assert.ok(truncated >= 5, `${truncated} truncated`);
      assert.match(await metricsOf(server), /meshdns_dns_rate_limited_total\{action="slipped"\} [1-9]/);
    } finally {
      await server.stop();
    }
  });
}
