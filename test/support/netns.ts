import { spawn } from 'node:child_process';

/**
 * Runs a bash script in a private mount and network namespace (unshare, as
 * root): its loopback is its own, so it can bind port 53 or the manifests'
 * fixed ports without touching the host's, and bind-mount files over
 * /etc/resolv.conf or /etc/meshdns without changing the host.
 */
export function runInNamespace(script: string, timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn('unshare', ['--mount', '--net', '--fork', 'bash', '-c', `set -euo pipefail\nip link set lo up\n${script}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Shell lines that wait until a DNS server answers on 127.0.0.1:PORT (or ADDR), up to 10 s. */
export function waitForDns(port: number, address = '127.0.0.1'): string {
  return `for i in $(seq 100); do dig @${address} -p ${port} +time=1 +tries=1 +short linkerd.local SOA >/dev/null 2>&1 && break; sleep 0.1; done`;
}
