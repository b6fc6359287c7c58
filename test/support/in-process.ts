import { MessageStream } from '../../src/dns/message-stream.js';
import { BlockList } from 'node:net';
import { pino } from 'pino';
import { CatalogProjection } from '../../src/answers/catalog-projection.js';
import { seededRandom } from '../../src/answers/random.js';
import { VersionedNameTable } from '../../src/answers/name-table.js';
import { Resolver } from '../../src/answers/resolver.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { QueryHandler, type Forwarder } from '../../src/dns/query-handler.js';
import { keyOf } from '../../src/wire/name.js';
import { parseZone } from '../../src/sources/zonefile/parser.js';
import { buildZoneData, emptyZone } from '../../src/sources/zonefile/zone-data.js';
import { buildQuery, decode, type Decoded, type QueryOptions } from './dns-client.js';

export const silentLogger = pino({ level: 'silent' });

/** The answering core without sockets: catalog, zone data, resolver, handler. */
export function core(opts: { zone?: string; origin?: string; seed?: number; forwarder?: Forwarder; ttl?: number; answerLimit?: number } = {}) {
  const origin = opts.origin ?? 'linkerd.local.';
  const ttl = opts.ttl ?? 5;
  const catalog = new Catalog();
  const names = new VersionedNameTable();
  const resolver = new Resolver(names);
  resolver.namespaceOf = (address) => catalog.clientNamespaceOf(address);
  const zoneKey = keyOf(origin);
  new CatalogProjection(catalog, names, [zoneKey], ttl);
  if (opts.zone !== undefined) {
    const data = buildZoneData(parseZone(opts.zone, origin), true, ttl);
    resolver.setStaticZones([data.zone]);
    catalog.replaceSource('zonefile', data.instances);
  } else {
    resolver.setStaticZones([emptyZone(zoneKey, ttl)]);
  }
  const allow = new BlockList();
  allow.addSubnet('127.0.0.0', 8, 'ipv4');
  const handler = new QueryHandler({ resolver, random: seededRandom(opts.seed ?? 1), forwarder: opts.forwarder, forwardAllowed: allow, answerLimit: opts.answerLimit });
  const raw = (msg: Buffer, tcp = false, address = '127.0.0.1'): Buffer | null => {
    const r = handler.handle(msg, tcp, address, 'ipv4');
    if (r instanceof Promise) throw new Error('unexpected forward');
    if (r instanceof MessageStream) throw new Error('unexpected zone transfer');
    return r;
  };
  const query = (name: string, q: QueryOptions = {}, tcp = false, address = '127.0.0.1'): Decoded => {
    const reply = raw(buildQuery(name, q), tcp, address);
    if (reply === null) throw new Error('no reply');
    return decode(reply);
  };
  return { catalog, resolver, handler, raw, query };
}
