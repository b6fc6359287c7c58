import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { dig } from '../support/dig.js';
import { etcdReplicas } from '../support/etcd.js';
import { freePort } from '../support/free-port.js';
import { KnotServer } from '../support/knot.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';
import { within } from '../support/poll.js';
import { transferCounts } from '../support/transfer-counts.js';

/**
 * Issue 27: replicas that share an etcd store share their zones' SOA serials, so a secondary that follows one
 * replica and then another (Knot with both as primaries, one of them gone) never sees the serial go back and keeps
 * following by IXFR. Real etcd, two real replicas, a real Knot.
 */
let a: MeshdnsProcess;
let b: MeshdnsProcess;
let args: () => string[];
let stopAll: () => Promise<void>;
let knot: KnotServer;
let restarted: MeshdnsProcess | undefined;

before(async () => {
  const knotPort = await freePort();
  ({ a, b, args, stop: stopAll } = await etcdReplicas('meshdns-serials', ['--transfer-allow', '127.0.0.0/8', '--notify', `127.0.0.1:${knotPort}`]));
  knot = await KnotServer.secondary('linkerd.local', [`127.0.0.1@${a.dnsPort}`, `127.0.0.1@${b.dnsPort}`], knotPort, 'web.default.linkerd.local');
});
after(async () => {
  await knot?.stop();
  await restarted?.stop();
  await stopAll();
});

const serial = async (port: number): Promise<number> => Number((await dig(port, ['+short', 'linkerd.local', 'SOA'])).raw.trim().split(/\s+/)[2]);


test('a burst of writes on both replicas: within a second both serve one serial, the largest either served, and Knot holds it', async () => {
  await within(3000, async () => (await serial(knot.port)) === (await serial(a.dnsPort)), 50);
  const counted = [await transferCounts(a.httpPort), await transferCounts(b.httpPort)];
  let largest = Math.max(await serial(a.dnsPort), await serial(b.dnsPort));
  let sampling = true;
  // Watch both while they change: the serial they settle on must not be below any one of them served.
  const sampler = (async () => {
    while (sampling) {
      largest = Math.max(largest, await serial(a.dnsPort), await serial(b.dnsPort));
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  // A burst stamps more serials than seconds pass, and each replica sees it batched its own way: without sharing,
  // the one that took the writes ends far above the one that followed through the watch.
  for (let round = 0; round < 8; round++) {
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => {
        const to = i % 2 === 0 ? a : b;
        return api(to.httpPort, 'PUT', instancePath('burst', `svc${i}`, `r${round}`), { address: `10.27.${round}.${i + 1}`, ports: [] });
      }),
    );
  }
  sampling = false;
  await sampler;
  const settled = await within(1500, async () => (await serial(a.dnsPort)) === (await serial(b.dnsPort)), 20);
  const now = await serial(a.dnsPort);
  assert.ok(now >= largest, `the settled serial ${now} is below one a replica served (${largest})`);
  assert.ok(settled <= 1500);
  await within(3000, async () => (await serial(knot.port)) === now, 50);
  // Every step reached Knot as IXFR: a history that counted records served before as added, or a step a replica
  // never had, would have made it fall back to the whole zone.
  assert.deepEqual([(await transferCounts(a.httpPort)).axfr, (await transferCounts(b.httpPort)).axfr], counted.map((c) => c.axfr));
});

test('a secondary moved to the other replica (the first one gone) keeps following by IXFR; the first comes back at the shared serial', async () => {
  await within(3000, async () => (await serial(knot.port)) === (await serial(b.dnsPort)), 50);
  const counted = await transferCounts(b.httpPort);
  const before = await serial(b.dnsPort);
  await a.stop();
  for (let i = 0; i < 3; i++) {
    assert.equal((await api(b.httpPort, 'PUT', instancePath('moved', 'api', `m${i}`), { address: `10.27.20.${i + 1}`, ports: [] })).status, 200);
  }
  assert.ok((await serial(b.dnsPort)) > before);
  // Knot tries its first primary, finds it gone, and asks the second from the serial it holds.
  await within(6000, async () => (await dig(knot.port, ['+short', 'api.moved.linkerd.local'])).raw.trim().split('\n').length === 3, 100);
  assert.equal(await serial(knot.port), await serial(b.dnsPort));
  const after = await transferCounts(b.httpPort);
  assert.ok(after.ixfr > counted.ixfr, `Knot asked the second replica for IXFR (${JSON.stringify({ counted, after })})`);
  assert.equal(after.axfr, counted.axfr, 'and never for the whole zone');

  // The first replica comes back on a fresh data directory (a rescheduled pod): its own serial would be the time,
  // below the shared one the writes pushed ahead; it starts from the shared one instead.
  const shared = await serial(b.dnsPort);
  restarted = await startMeshdns(args());
  await within(5000, async () => (await fetch(`http://127.0.0.1:${restarted!.httpPort}/readyz`)).status === 200);
  assert.ok((await serial(restarted.dnsPort)) >= shared, `restarted at ${await serial(restarted.dnsPort)}, the store's serial is ${shared}`);
  await within(1500, async () => (await serial(restarted!.dnsPort)) === (await serial(b.dnsPort)), 20);
});
