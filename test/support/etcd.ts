import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './free-port.js';
import { startMeshdns, type MeshdnsProcess } from './meshdns-process.js';
import { within } from './poll.js';

/** A real etcd (Debian etcd-server) on free loopback ports with its own data dir; restartable on the same ports and data. */
export class EtcdServer {
  private proc: ChildProcess | undefined;
  /** The last lines etcd printed, for the error when it does not come up. */
  private output: string[] = [];
  readonly dataDir = mkdtempSync(join(tmpdir(), 'meshdns-etcd-'));

  private constructor(
    readonly clientPort: number,
    readonly peerPort: number,
    /** Serve clients over TLS with these PEM files, and require a client certificate signed by the CA. */
    private readonly tls?: { ca: string; cert: string; key: string },
  ) {}

  /**
   * A fresh etcd on two ports the kernel picked. The ports were free a moment ago, not reserved: if another process
   * took one in between, etcd exits at once ("address already in use") and the start is tried on new ports.
   */
  static async start(tls?: { ca: string; cert: string; key: string }): Promise<EtcdServer> {
    for (let attempt = 1; ; attempt++) {
      const [clientPort, peerPort] = await freePorts(2);
      const server = new EtcdServer(clientPort!, peerPort!, tls);
      try {
        await server.restart();
        return server;
      } catch (err) {
        await server.dispose();
        if (attempt >= 3 || !(err instanceof EtcdStartError && err.portTaken)) throw err;
      }
    }
  }

  get url(): string {
    return `${this.tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.clientPort}`;
  }

  /**
   * Starts etcd and waits until it answers. On failure etcd is killed (a child left running keeps the test file
   * from ever exiting) and the error carries what etcd printed.
   */
  async restart(): Promise<void> {
    const client = this.url;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const proc = spawn(
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
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.proc = proc;
    this.output = [];
    proc.stderr!.on('data', (chunk: Buffer) => {
      this.output.push(...chunk.toString().split('\n').filter(Boolean));
      this.output.splice(0, Math.max(0, this.output.length - 20));
    });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && proc.exitCode === null && proc.signalCode === null) {
      // With TLS, fetch cannot present the client certificate: a bound port is enough of a sign.
      if (this.tls !== undefined) {
        if (await portOpen(this.clientPort)) return;
      } else {
        try {
          const res = await fetch(`${client}/health`, { signal: AbortSignal.timeout(2000) });
          if (res.ok) return;
        } catch {
          // not up yet
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const exited = proc.exitCode !== null || proc.signalCode !== null;
    await this.kill();
    const printed = this.output.join('\n');
    throw new EtcdStartError(
      `etcd on ${client} ${exited ? `exited (${proc.exitCode ?? proc.signalCode})` : 'did not become healthy within 30 s'}; it printed:\n${printed}`,
      /address already in use/.test(printed),
    );
  }

  /**
   * Kills etcd and removes its data: each data directory holds 122 MB (etcd preallocates its write-ahead log), and
   * a run of the suite made nine, on CI machines whose disks may be small.
   */
  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  async kill(): Promise<void> {
    const proc = this.proc;
    if (proc === undefined || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.on('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }
}

/** etcd did not come up; `portTaken` when one of its ports was in use. */
class EtcdStartError extends Error {
  constructor(message: string, readonly portTaken: boolean) {
    super(message);
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
  const started: MeshdnsProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const s of started) await s.stop();
    await etcd.dispose();
  };
  try {
    for (let i = 0; i < 2; i++) started.push(await startMeshdns(args()));
    for (const s of started) await within(10_000, async () => (await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status === 200);
  } catch (err) {
    // A setup that fails half-way must not leave processes behind: they would keep the test file from exiting.
    await stop();
    throw err;
  }
  return { etcd, a: started[0]!, b: started[1]!, prefix, args, stop };
}
