import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

export interface ProbeResult {
  readonly ok: boolean;
  /** "200", "503", "timeout", "ECONNREFUSED", "connected" …: what a person debugging wants to see. */
  readonly detail: string;
  readonly durationMs: number;
  readonly at: number;
}

/** HTTP GET: 2xx and 3xx pass (redirects are not followed); any other status, a timeout or a connection error fails. */
export function probeHttp(url: string, timeoutMs: number): Promise<ProbeResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean, detail: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ok, detail, durationMs: Date.now() - started, at: started });
    };
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { method: 'GET', headers: { 'user-agent': 'meshdns-health-probe', connection: 'close' } }, (res) => {
      const status = res.statusCode ?? 0;
      res.resume(); // drain: the body is of no interest
      finish(status >= 200 && status < 400, String(status));
      req.destroy();
    });
    const timer = setTimeout(() => {
      finish(false, 'timeout');
      req.destroy();
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? err.message));
    req.end();
  });
}

/** TCP connect: passes when the handshake completes within the timeout. */
export function probeTcp(target: string, timeoutMs: number): Promise<ProbeResult> {
  const started = Date.now();
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
  const host = m?.[1] ?? target;
  const port = Number(m?.[2] ?? 0);
  return new Promise((resolve) => {
    let done = false;
    const socket = connect({ host, port });
    const finish = (ok: boolean, detail: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok, detail, durationMs: Date.now() - started, at: started });
    };
    const timer = setTimeout(() => finish(false, 'timeout'), timeoutMs);
    socket.once('connect', () => finish(true, 'connected'));
    socket.once('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? err.message));
  });
}
