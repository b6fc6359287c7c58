// Local probe targets for the probe benchmark: N HTTP servers answering 200, in their own process
// so their CPU is not counted as meshdns's.
import { createServer } from 'node:http';
const count = Number(process.argv[2] ?? 8);
const ports = [];
for (let i = 0; i < count; i++) {
  const server = createServer((_req, res) => res.writeHead(200).end('ok'));
  server.keepAliveTimeout = 1000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  ports.push(server.address().port);
}
process.stdout.write(JSON.stringify({ ports }) + '\n');
