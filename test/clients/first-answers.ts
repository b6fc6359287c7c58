/**
 * Run inside a test namespace: sends N A queries for a name to a resolver and
 * prints {"address": count} of the first address of each answer, so a test
 * can compare the shares a client sees with the weights. Usage:
 *   node --import tsx test/clients/first-answers.ts HOST PORT NAME N
 */
import { buildQuery, decode, udpExchange } from '../support/dns-client.js';

const [host, port, name, count] = process.argv.slice(2) as [string, string, string, string];
const counts: Record<string, number> = {};
for (let i = 0; i < Number(count); i++) {
  const reply = await udpExchange(Number(port), buildQuery(name, { id: i & 0xffff }), 2000, host);
  const first = reply === null ? 'timeout' : (decode(reply).answers.find((a) => a.type === 1)?.address ?? 'empty');
  counts[first] = (counts[first] ?? 0) + 1;
}
console.log(JSON.stringify(counts));
