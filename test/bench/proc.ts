/** What the benches read of a process from /proc: CPU time (whole process or per thread) and resident memory. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/** User + system CPU milliseconds in a /proc stat line (a process's or one thread's). */
export function statCpuMs(stat: string): number {
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

/** User + system CPU milliseconds of a process, all its threads. */
export function processCpuMs(pid: number): number {
  return statCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** Resident memory of a process in MB. */
export function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/** A process's resident memory in MB, split: its own (anonymous, and shared memory) and file-backed pages. */
export function residentPartsMb(pid: number): { own: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { own: (kb('RssAnon') + kb('RssShmem')) / 1024, file: kb('RssFile') / 1024 };
}

/**
 * Resident memory of a group of processes (a server and its --workers) with the file pages they share counted
 * once, as a container's memory counts the page cache: each process's own pages, plus the largest one's file pages
 * (the same Node binary and libraries, ~55 MB each; processes of one program touch nearly the same ones). Summing
 * each process's VmRSS counts those pages once per process.
 */
export function groupResidentMb(pids: readonly number[]): number {
  const parts = pids.map(residentPartsMb);
  return parts.reduce((sum, p) => sum + p.own, 0) + Math.max(...parts.map((p) => p.file));
}

/** The processes a process started (a server's --workers), by pid; none when it has none. */
export function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map(Number).filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there are none
  }
}
