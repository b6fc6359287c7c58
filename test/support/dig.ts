import { execFile } from 'node:child_process';

export interface DigResult {
  status: string;
  flags: string[];
  answer: string[];
  authority: string[];
  additional: string[];
  raw: string;
}

/** Runs the real dig (bind9-dnsutils) and splits its output into sections. */
export function dig(port: number, args: string[]): Promise<DigResult> {
  return new Promise((resolve, reject) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', ...args], (err, stdout) => {
      if (err && stdout === '') return reject(err);
      const status = /status: (\w+)/.exec(stdout)?.[1] ?? '';
      const flags = (/;; flags: ([a-z ]+);/.exec(stdout)?.[1] ?? '').trim().split(/\s+/).filter((f) => f !== '');
      const section = (title: string): string[] => {
        const m = new RegExp(`;; ${title} SECTION:\\n([\\s\\S]*?)(\\n\\n|$)`).exec(stdout);
        return m ? m[1]!.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';')) : [];
      };
      resolve({ status, flags, answer: section('ANSWER'), authority: section('AUTHORITY'), additional: section('ADDITIONAL'), raw: stdout });
    });
  });
}
