#!/usr/bin/env node
/**
 * The command. It checks the Node version before anything else is loaded: meshdns uses modules of Node 24
 * (node:sqlite among them), and an older Node would die on the first of them with a stack trace instead of
 * saying what to do.
 */
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `meshdns: needs Node.js 24 or newer; this is ${process.version}. Run it with \`npm start\` (the project installs Node 24 from npm), \`npx -y -p node@24 -- node dist/cli.js\`, or install Node 24.\n`,
  );
  process.exit(2);
}
const { run } = await import('./main.js');
run();
