import { createServer, type Server } from 'node:http';

export type TargetMode = 'ok' | 'fail' | 'slow' | 'alternate';

/** A real HTTP health endpoint whose behaviour a test switches: answering, 500s, slow, every other probe failing, or stopped. */
export class ProbeTarget {
  mode: TargetMode = 'ok';
  private server: Server | undefined;
  private flip = false;
  requests = 0;

  private constructor(readonly port: number) {}

  static async start(port = 0): Promise<ProbeTarget> {
    const probe = new ProbeTarget(port);
    await probe.listen(port);
    return probe;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/healthz`;
  }

  private async listen(port: number): Promise<void> {
    const server = createServer((_req, res) => {
      this.requests++;
      if (this.mode === 'slow') return void setTimeout(() => res.writeHead(200).end(), 2000);
      if (this.mode === 'fail') return void res.writeHead(500).end();
      if (this.mode === 'alternate') {
        this.flip = !this.flip;
        return void res.writeHead(this.flip ? 200 : 500).end();
      }
      res.writeHead(200).end('ok');
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    this.server = server;
    (this as { port: number }).port = (server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }

  /** Starts again on the same port. */
  async restart(): Promise<void> {
    await this.listen(this.port);
  }
}
