import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { startMeshdns, type MeshdnsProcess } from './meshdns-process.js';
import { within } from './poll.js';

/** A real etcd (Debian etcd-server) on free loopback ports with its own data dir; restartable on the same ports and data. */
export class EtcdServer {
  private proc: ChildProcess | undefined;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'meshdns-etcd-'));

  private constructor(
    readonly clientPort: number,
    readonly peerPort: number,
    /** Serve clients over TLS with these PEM files, and require a client certificate signed by the CA. */
    private readonly tls?: { ca: string; cert: string; key: string },
  ) {}

  static async start(tls?: { ca: string; cert: string; key: string }): Promise<EtcdServer> {
    const server = new EtcdServer(await freePort(), await freePort(), tls);
    await server.restart();
    return server;
  }

  get url(): string {
    return `${this.tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.clientPort}`;
  }

  async restart(): Promise<void> {
    const client = this.url;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    this.proc = spawn(
      'etcd',
      [
        '--name', 'meshdns-test',
        '--data-dir', this.dataDir,
        '--listen-client-urls', client,
        '--advertise-client-urls', client,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `meshdns-test=${peer}`,
        '--log-level', 'error',
        ...(this.tls === undefined ? [] : ['--cert-file', this.tls.cert, '--key-file', this.tls.key, '--client-cert-auth', '--trusted-ca-file', this.tls.ca]),
      ],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      // With TLS, fetch cannot present the client certificate: a bound port is enough of a sign.
      if (this.tls !== undefined) {
        if (await portOpen(this.clientPort)) return;
      } else {
        try {
          const res = await fetch(`${client}/health`);
          if (res.ok) return;
        } catch {
          // not up yet
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('etcd did not become healthy within 15 s');
  }

  async kill(): Promise<void> {
    const proc = this.proc;
    if (proc === undefined || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.on('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/**
 * Two meshdns replicas sharing a real etcd under a prefix of their own, both ready (the setup of the replica
 * tests). `stop` stops the replicas and etcd.
 */
export async function etcdReplicas(prefixName: string, extraArgs: readonly string[] = []): Promise<{ etcd: EtcdServer; a: MeshdnsProcess; b: MeshdnsProcess; prefix: string; args: () => string[]; stop: () => Promise<void> }> {
  const etcd = await EtcdServer.start();
  const prefix = `/${prefixName}/${Date.now()}/`;
  const args = (): string[] => ['--upstream', 'none', '--store', 'etcd', '--etcd', etcd.url, '--etcd-prefix', prefix, ...extraArgs];
  const a = await startMeshdns(args());
  const b = await startMeshdns(args());
  for (const s of [a, b]) await within(5000, async () => (await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status === 200);
  return {
    etcd,
    a,
    b,
    prefix,
    args,
    stop: async () => {
      await a.stop();
      await b.stop();
      await etcd.kill();
    },
  };
}
