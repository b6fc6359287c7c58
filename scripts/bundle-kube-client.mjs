#!/usr/bin/env node
/**
 * Replaces dist/sources/kubernetes/kube-client.js (a re-export of the @kubernetes/client-node names meshdns uses)
 * with a bundle of only those names and what they need, tree-shaken and minified by esbuild (its WebAssembly build:
 * no platform binary, no optional dependency to install). The library's index imports every generated API group
 * and model; V8 keeps each loaded module's source text and compiled top level, so a process that lists and watches
 * five kinds carried all of it (measured: importing the index 125 MB resident, the bundle 75; bare Node 42).
 * Run by `npm run build` after tsc. Without esbuild-wasm (an install without dev dependencies) the re-export is
 * left as it is: the server works the same, with the whole library loaded; MESHDNS_BUNDLE=required makes that fatal.
 */
import { renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'dist', 'sources', 'kubernetes', 'kube-client.js');
const required = process.env.MESHDNS_BUNDLE === 'required';

let esbuild;
try {
  esbuild = await import('esbuild-wasm');
} catch (err) {
  const why = `esbuild-wasm is not installed (${err.code ?? err.message})`;
  if (required) {
    console.error(`bundle-kube-client: ${why}`);
    process.exit(1);
  }
  console.log(`bundle-kube-client: ${why}; dist keeps the whole @kubernetes/client-node (more memory with --kubeconfig)`);
  process.exit(0);
}

const temporary = `${target}.bundle.tmp`;
const started = Date.now();
await esbuild.build({
  entryPoints: [target],
  outfile: temporary,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  // Class and function names stay: the library's errors and its serializer's type names read them.
  keepNames: true,
  // The bundled packages' licence notices go to kube-client.js.LEGAL.txt beside it: one of them is not ASCII, and a
  // source with one such character is held by V8 as two bytes a character (4.2 MB instead of 2.1).
  legalComments: 'external',
  logLevel: 'warning',
  // CommonJS dependencies inside an ES module call require: give them Node's.
  banner: { js: "import { createRequire as meshdnsCreateRequire } from 'node:module'; const require = meshdnsCreateRequire(import.meta.url);" },
});
renameSync(temporary, target);
renameSync(`${temporary}.LEGAL.txt`, `${target}.LEGAL.txt`);
// tsc's map was of the re-export: it would point stack traces at the wrong lines.
rmSync(`${target}.map`, { force: true });
console.log(`bundle-kube-client: ${target.slice(root.length + 1)} ${(statSync(target).size / 2 ** 20).toFixed(1)} MB in ${Date.now() - started} ms`);
