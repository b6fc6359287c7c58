import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { dig, type DigResult } from '../support/dig.js';
import { KnotServer } from '../support/knot.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { tempZones } from '../support/temp-zones.js';

/**
 * Issue 23, case 6: wildcards in zone files answered as RFC 4592 says, with Knot DNS serving the same zone
 * file as the reference: every query below gets the same rcode and the same answer from both.
 */
const ZONE = `$ORIGIN example.test.
$TTL 60
@         IN SOA ns hostmaster 1 3600 600 86400 60
@         IN NS  ns
ns        IN A   192.0.2.1
*.wild    IN A   192.0.2.99
*.wild    IN TXT "from the wildcard"
sub.wild  IN A   192.0.2.50
*.alias   IN CNAME www
www       IN A   192.0.2.10
deep.ent.wild2 IN A 192.0.2.20
*.wild2   IN A   192.0.2.30
*         IN MX  10 mail
mail      IN A   192.0.2.25
`;

const QUERIES: [string, string][] = [
  ['a.wild.example.test', 'A'],
  ['a.b.wild.example.test', 'A'],
  ['A.Wild.example.test', 'A'],
  ['a.wild.example.test', 'TXT'],
  ['a.wild.example.test', 'AAAA'],
  ['*.wild.example.test', 'A'],
  ['sub.wild.example.test', 'A'],
  ['x.sub.wild.example.test', 'A'],
  ['sub.wild.example.test', 'TXT'],
  ['wild.example.test', 'A'],
  ['x.alias.example.test', 'A'],
  ['x.alias.example.test', 'CNAME'],
  ['ent.wild2.example.test', 'A'],
  ['x.ent.wild2.example.test', 'A'],
  ['other.wild2.example.test', 'A'],
  ['nothing.example.test', 'MX'],
  ['nothing.example.test', 'A'],
  ['www.example.test', 'MX'],
  ['a.www.example.test', 'A'],
];

let knot: KnotServer;
let meshdns: MeshdnsProcess;
before(async () => {
  knot = await KnotServer.start({ 'example.test': ZONE }, 'www.example.test');
  meshdns = await startMeshdns(['--upstream', 'none', '--zones', tempZones({ 'example.test.zone': ZONE })]);
});
after(async () => {
  await meshdns.stop();
  await knot.stop();
});

/** What a query's answer is, independent of either server's record order and TTL details. */
function essence(r: DigResult): string {
  const answer = r.answer.map((l) => l.split(/\s+/).filter((_, i) => i !== 1).join(' ').toLowerCase()).sort();
  const authority = r.authority.map((l) => l.split(/\s+/)[3]).sort();
  return JSON.stringify({ status: r.status, aa: r.flags.includes('aa'), answer, authority });
}

test('RFC 4592 wildcards: the same rcode, answer and authority as Knot for every query', async () => {
  for (const [name, type] of QUERIES) {
    const args = ['+norecurse', name, type];
    const [ours, theirs] = await Promise.all([dig(meshdns.dnsPort, args), dig(knot.port, args)]);
    assert.equal(essence(ours), essence(theirs), `${name} ${type}\nmeshdns:\n${ours.raw}\nknot:\n${theirs.raw}`);
  }
});

test('the synthesized owner is the name asked, in the case asked', async () => {
  const r = await dig(meshdns.dnsPort, ['+norecurse', 'Some.WILD.example.test', 'A']);
  assert.match(r.answer[0]!, /^Some\.WILD\.example\.test\.\s+60\s+IN\s+A\s+192\.0\.2\.99$/);
});
