import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

/**
 * A real Knot DNS (Debian `knot`) serving zone files from a directory of its own, on a free loopback port:
 * the reference server the tests compare meshdns's answers with.
 */
export class KnotServer {
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly proc: ChildProcess,
  ) {}

  /**
   * Knot as a secondary of `primary` (HOST@PORT, or several: tried in order, as Knot's `master` list is) for
   * `zone`: it transfers the zone at start and again on each NOTIFY from a primary's address; resolves once it
   * answers `probe`.
   */
  static async secondary(zone: string, primary: string | readonly string[], port: number, probe: string, key?: { name: string; algorithm: string; secret: string }): Promise<KnotServer> {
    const dir = mkdtempSync(join(tmpdir(), 'meshdns-knot-secondary-'));
    const primaries = typeof primary === 'string' ? [primary] : primary;
    const keyLine = key === undefined ? [] : [`    key: ${key.name}`];
    const conf = [
      'server:',
      `  listen: 127.0.0.1@${port}`,
      `  rundir: "${dir}"`,
      'database:',
      `  storage: "${dir}"`,
      ...(key === undefined ? [] : ['key:', `  - id: ${key.name}`, `    algorithm: ${key.algorithm}`, `    secret: ${key.secret}`]),
      'remote:',
      ...primaries.flatMap((p, i) => [`  - id: primary${i}`, `    address: ${p}`, ...keyLine]),
      'acl:',
      '  - id: notify-from-primary',
      `    address: [${[...new Set(primaries.map((p) => p.split('@')[0]))].join(', ')}]`,
      ...keyLine,
      '    action: notify',
      'template:',
      '  - id: default',
      `    storage: "${dir}"`,
      '    file: "%s.zone"',
      'zone:',
      `  - domain: ${zone}`,
      `    master: [${primaries.map((_, i) => `primary${i}`).join(', ')}]`,
      '    acl: notify-from-primary',
      'log:',
      '  - target: stderr',
      `    any: ${process.env.KNOT_LOG ?? 'error'}`,
    ].join('\n');
    return KnotServer.run(dir, port, conf + '\n', probe);
  }

  /** Starts knotd with these zones (origin → zone file text) and waits until it answers `probe` (a name with an A record). */
  static async start(zones: Record<string, string>, probe: string, extraConfig = ''): Promise<KnotServer> {
    const dir = mkdtempSync(join(tmpdir(), 'meshdns-knot-'));
    const port = await freePort();
    for (const [origin, text] of Object.entries(zones)) writeFileSync(join(dir, `${origin}.zone`), text);
    return KnotServer.run(
      dir,
      port,
      [
        'server:',
        `  listen: 127.0.0.1@${port}`,
        `  rundir: "${dir}"`,
        'database:',
        `  storage: "${dir}"`,
        'template:',
        '  - id: default',
        `    storage: "${dir}"`,
        '    file: "%s.zone"',
        'zone:',
        ...Object.keys(zones).map((origin) => `  - domain: ${origin}`),
        'log:',
        '  - target: stderr',
        '    any: error',
        extraConfig,
      ].join('\n') + '\n',
      probe,
    );
  }

  private static async run(dir: string, port: number, config: string, probe: string): Promise<KnotServer> {
    const conf = join(dir, 'knot.conf');
    writeFileSync(conf, config);
    const proc = spawn('knotd', ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
    for (let i = 0; i < 100; i++) {
      try {
        if (execFileSync('dig', ['@127.0.0.1', '-p', String(port), '+short', '+time=1', '+tries=1', probe], { encoding: 'utf8' }).trim()) return new KnotServer(port, dir, proc);
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    proc.kill('SIGKILL');
    throw new Error('knotd did not start');
  }

  /** Stops knotd and starts it again on the same directory (its zones and journal kept), as a restart does. */
  async restart(probe: string): Promise<KnotServer> {
    await this.stop();
    return KnotServer.run(this.dir, this.port, readFileSync(join(this.dir, 'knot.conf'), 'utf8'), probe);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.on('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
  }
}
