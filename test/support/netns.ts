import { runCommand, type CommandResult } from './run-command.js';

/**
 * Runs a bash script in a private mount and network namespace (unshare, as
 * root): its loopback is its own, so it can bind port 53 or the manifests'
 * fixed ports without touching the host's, and bind-mount files over
 * /etc/resolv.conf or /etc/meshdns without changing the host.
 */
export function runInNamespace(script: string, timeoutMs = 30_000): Promise<CommandResult> {
  return runCommand('unshare', ['--mount', '--net', '--fork', 'bash', '-c', `set -euo pipefail\nip link set lo up\n${script}`], { timeoutMs });
}

/** Shell lines that wait until a DNS server answers on 127.0.0.1:PORT (or ADDR), up to 10 s. */
export function waitForDns(port: number, address = '127.0.0.1'): string {
  return `for i in $(seq 100); do dig @${address} -p ${port} +time=1 +tries=1 +short linkerd.local SOA >/dev/null 2>&1 && break; sleep 0.1; done`;
}
