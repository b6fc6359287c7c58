import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { buildQuery, decode } from '../support/dns-client.js';
import { filledDataDir, filledServiceName } from '../support/filled-store.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';

/**
 * Issue 24: a worker answers nothing before it holds the whole catalog. A worker killed -9 under a stream of
 * queries for names that exist, at 20,000 and 100,000 instances; a start with 100,000 queried the moment
 * /readyz turns 200.
 */

const childrenOf = (pid: number): number[] =>
  execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);

interface Tally {
  sent: number;
  answered: number;
  nxdomain: number;
  empty: number;
  other: number;
}

/**
 * Queries existing service names from `lanes` sockets, each sending its next query when the last is answered or
 * after `timeoutMs` (then counted unanswered), until `stop()` says so.
 */
function queryStream(port: number, services: number, lanes: number, timeoutMs: number): { tally: Tally; stop: () => Promise<void> } {
  const tally: Tally = { sent: 0, answered: 0, nxdomain: 0, empty: 0, other: 0 };
  let running = true;
  const done: Promise<void>[] = [];
  for (let l = 0; l < lanes; l++) {
    done.push(
      new Promise<void>((resolve) => {
        const socket = createSocket('udp4');
        let id = 0;
        let timer: NodeJS.Timeout | undefined;
        const next = (): void => {
          if (!running) {
            socket.close();
            return resolve();
          }
          id = (id + 1) & 0xffff;
          const s = Math.floor(Math.random() * services);
          tally.sent++;
          socket.send(buildQuery(filledServiceName(s), { id }), port, '127.0.0.1');
          timer = setTimeout(next, timeoutMs);
        };
        socket.on('message', (msg) => {
          const r = decode(msg);
          if (r.header.id !== id) return;
          clearTimeout(timer);
          tally.answered++;
          if (r.header.rcode === 3) tally.nxdomain++;
          else if (r.header.rcode !== 0) tally.other++;
          else if (r.answers.length === 0) tally.empty++;
          next();
        });
        socket.bind(0, '127.0.0.1', next);
      }),
    );
  }
  return {
    tally,
    stop: async () => {
      running = false;
      await Promise.all(done);
    },
  };
}

async function readyWithin(s: MeshdnsProcess, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if ((await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status === 200) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`not ready within ${ms} ms`);
}

for (const instances of [20_000, 100_000]) {
  test(`--workers 2, ${instances} instances: a worker killed -9 under a query stream: no NXDOMAIN, no empty answer, at most 1 % unanswered`, async () => {
    const s = await startMeshdns(['--upstream', 'none', '--workers', '2', '--data-dir', filledDataDir(instances)]);
    try {
      await readyWithin(s, 60_000);
      const stream = queryStream(s.dnsPort, instances / 3, 32, 1000);
      await new Promise((r) => setTimeout(r, 1000));
      const [victim] = childrenOf(s.proc.pid!);
      process.kill(victim!, 'SIGKILL');
      await s.waitForLog(/DNS worker died/, 5000);
      // Until the replacement holds the catalog and answers, and a while after.
      await s.waitForLog(/DNS worker holds the catalog and answers/, 60_000).catch(() => undefined);
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && (await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status !== 200) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 2000));
      await stream.stop();
      const t = stream.tally;
      const unanswered = t.sent - t.answered;
      assert.equal(t.nxdomain, 0, JSON.stringify(t));
      assert.equal(t.empty, 0, JSON.stringify(t));
      assert.equal(t.other, 0, JSON.stringify(t));
      assert.ok(unanswered <= t.sent / 100, `${unanswered} of ${t.sent} unanswered`);
      assert.equal(childrenOf(s.proc.pid!).length, 2);
    } finally {
      await s.stop();
    }
  });
}

test('--workers 2 with 100,000 instances: queries sent the moment /readyz turns 200 are all answered, and right', async () => {
  const dataDir = filledDataDir(100_000);
  const s = await startMeshdns(['--upstream', 'none', '--workers', '2', '--data-dir', dataDir]);
  try {
    await readyWithin(s, 60_000);
    const stream = queryStream(s.dnsPort, 100_000 / 3, 32, 1000);
    await new Promise((r) => setTimeout(r, 2000));
    await stream.stop();
    const t = stream.tally;
    assert.ok(t.sent > 500, JSON.stringify(t));
    assert.deepEqual({ unanswered: t.sent - t.answered, nxdomain: t.nxdomain, empty: t.empty, other: t.other }, { unanswered: 0, nxdomain: 0, empty: 0, other: 0 }, JSON.stringify(t));
  } finally {
    await s.stop();
  }
});
