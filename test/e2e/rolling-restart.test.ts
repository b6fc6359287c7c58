import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';

/**
 * A rolling restart of a 2-replica set behind a client that picks a ready
 * replica for each query, the way kube-proxy sends a Service's traffic to the
 * endpoints that were ready when it last synced: it learns of readiness
 * changes only by polling /readyz, with a lag. With the lame duck, a replica
 * that got SIGTERM keeps answering until the client has let go, and no query
 * is lost; without it, the queries sent in the lag are.
 */
const LAG_MS = 600;

interface Replica {
  server: MeshdnsProcess;
  ready: boolean;
}

async function rollingRestart(lameDuck: string): Promise<{ sent: number; lost: number }> {
  const args = ['--upstream', 'none', '--shutdown-lameduck', lameDuck];
  const replicas: Replica[] = [{ server: await startMeshdns(args), ready: true }, { server: await startMeshdns(args), ready: true }];
  let running = true;
  // The endpoints controller and kube-proxy: poll readiness, apply what they saw LAG_MS later.
  const sync = (async () => {
    while (running) {
      const seen = await Promise.all(
        replicas.map(async (r) => {
          try {
            return (await fetch(`http://127.0.0.1:${r.server.httpPort}/readyz`)).status === 200;
          } catch {
            return false;
          }
        }),
      );
      await new Promise((res) => setTimeout(res, LAG_MS));
      seen.forEach((ready, i) => {
        if (replicas[i] !== undefined) replicas[i]!.ready = ready;
      });
    }
  })();
  let sent = 0;
  let lost = 0;
  const client = (async () => {
    for (let i = 0; running; i++) {
      const ready = replicas.filter((r) => r.ready);
      if (ready.length === 0) {
        await new Promise((res) => setTimeout(res, 5));
        continue;
      }
      const target = ready[i % ready.length]!;
      sent++;
      const reply = await udpExchange(target.server.dnsPort, buildQuery('web.default.linkerd.local', { id: i & 0xffff }), 500);
      if (reply === null || decode(reply).answers.length !== 2) lost++;
      await new Promise((res) => setTimeout(res, 2));
    }
  })();
  for (let i = 0; i < replicas.length; i++) {
    const old = replicas[i]!;
    await old.server.stop();
    // The new pod: started, then ready once its /readyz says so (the next sync).
    replicas[i] = { server: await startMeshdns(args), ready: false };
    await new Promise((res) => setTimeout(res, 3 * LAG_MS));
  }
  running = false;
  await Promise.all([client, sync]);
  for (const r of replicas) await r.server.stop('SIGKILL');
  return { sent, lost };
}

test('a rolling restart of two replicas behind a lagging load balancer loses no query with the lame duck', async () => {
  const withLameDuck = await rollingRestart('2s');
  assert.ok(withLameDuck.sent > 500, `only ${withLameDuck.sent} queries sent`);
  assert.equal(withLameDuck.lost, 0, `lost ${withLameDuck.lost} of ${withLameDuck.sent}`);
  // The same without it, for the README's comparison (not asserted: how many fall into the lag varies).
  const without = await rollingRestart('0s');
  console.log(`rolling restart: lame duck 2s lost ${withLameDuck.lost} of ${withLameDuck.sent}; no lame duck lost ${without.lost} of ${without.sent}`);
});
