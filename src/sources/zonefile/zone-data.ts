import { fixedSet, recordObjects, RRSets } from '../../answers/name-table.js';
import type { StaticZone } from '../../answers/resolver.js';
import { apexFromSoa, generatedApex } from '../../answers/zone-apex.js';
import type { SourcedInstance } from '../../catalog/catalog.js';
import type { InstancePort, Protocol } from '../../catalog/types.js';
import { addressLabel, isDnsLabel } from '../../catalog/validate.js';
import { RRType } from '../../wire/constants.js';
import { isAtOrBelow, keyToText, labelCount, labelOffsets, parentKey } from '../../wire/name.js';
import { addressRecord, record, type EncodedRecord } from '../../wire/rdata.js';
import type { ParsedZone, ZoneRecord } from './parser.js';

export interface ZoneData {
  readonly zone: StaticZone;
  /** Service-shaped records of a mesh zone, handed to the catalog as source "zonefile". */
  readonly instances: SourcedInstance[];
  /** Things that load but will not answer as the author likely meant (CNAME loops), for a warning. */
  readonly warnings: string[];
}

/**
 * Splits a parsed zone into what the catalog should own and what is served
 * as written. In a mesh zone these become weighted catalog instances:
 *   _<port>._<proto>.<svc>.<ns>  SRV  prio weight port <id>.<svc>.<ns>   (instance <id>, its weight and port)
 *   <id>.<svc>.<ns>              A/AAAA                                  (that instance's address)
 *   <svc>.<ns>                   A/AAAA                                  (an instance per address not named above)
 * Everything else (TXT, CNAME, other names) is served from the zone as is.
 */
export function buildZoneData(parsed: ParsedZone, mesh: boolean, ttl: number, nsAddresses: readonly string[] = []): ZoneData {
  const consumed = new Set<ZoneRecord>();
  const instances = mesh ? meshInstances(parsed, consumed) : [];
  const served = parsed.records.filter((r) => !consumed.has(r));
  return { zone: staticZone(parsed.originKey, served, ttl, nsAddresses), instances, warnings: cnameLoops(served) };
}

/** Each CNAME loop among the records once, as "a → b → a" (answers stop where a loop closes). */
export function cnameLoops(records: readonly ZoneRecord[]): string[] {
  const next = new Map<string, string>();
  for (const r of records) if (r.type === RRType.CNAME && r.targetKey !== undefined) next.set(r.owner, r.targetKey);
  const loops: string[] = [];
  const done = new Set<string>();
  for (const start of next.keys()) {
    const path: string[] = [];
    let name: string | undefined = start;
    while (name !== undefined && !done.has(name) && !path.includes(name)) {
      path.push(name);
      name = next.get(name);
    }
    if (name !== undefined && path.includes(name)) {
      const cycle = path.slice(path.indexOf(name));
      loops.push(`CNAME loop: ${[...cycle, name].map(keyToText).join(' → ')}`);
    }
    for (const n of path) done.add(n);
  }
  return loops;
}

function labelsBelow(key: string, zoneKey: string): string[] | undefined {
  const depth = labelCount(key) - labelCount(zoneKey);
  if (depth < 1) return undefined;
  const offsets = labelOffsets(key);
  const labels: string[] = [];
  for (let i = 0; i < depth; i++) labels.push(key.slice(offsets[i]! + 1, offsets[i + 1]!));
  return labels;
}

function isAddress(r: ZoneRecord): boolean {
  return r.type === RRType.A || r.type === RRType.AAAA;
}

function addressText(r: ZoneRecord): string {
  if (r.type === RRType.A) return [...r.rdata].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(r.rdata.readUInt16BE(i).toString(16));
  return groups.join(':');
}

function meshInstances(parsed: ParsedZone, consumed: Set<ZoneRecord>): SourcedInstance[] {
  const zoneKey = parsed.originKey;
  const byOwner = new Map<string, ZoneRecord[]>();
  for (const r of parsed.records) {
    let list = byOwner.get(r.owner);
    if (list === undefined) byOwner.set(r.owner, (list = []));
    list.push(r);
  }
  interface Draft {
    namespace: string;
    service: string;
    id: string;
    address: string;
    weight: number;
    ports: InstancePort[];
  }
  const drafts = new Map<string, Draft>();

  for (const r of parsed.records) {
    if (r.type !== RRType.SRV || r.targetKey === undefined) continue;
    const labels = labelsBelow(r.owner, zoneKey);
    const target = labelsBelow(r.targetKey, zoneKey);
    if (labels?.length !== 4 || target?.length !== 3) continue;
    const [portLabel, protoLabel, service, namespace] = labels as [string, string, string, string];
    const [id, tService, tNamespace] = target as [string, string, string];
    const protocol = protoLabel.slice(1) as Protocol;
    const portName = portLabel.slice(1);
    if (!portLabel.startsWith('_') || (protoLabel !== '_tcp' && protoLabel !== '_udp')) continue;
    if (tService !== service || tNamespace !== namespace) continue;
    if (![portName, service, namespace, id].every(isDnsLabel)) continue;
    // Port 0 is legal in SRV ("no service here") but no instance listens on it: serve the record as written.
    if (r.rdata.readUInt16BE(4) === 0) continue;
    const addresses = (byOwner.get(r.targetKey) ?? []).filter(isAddress);
    if (addresses.length === 0) continue;
    const key = `${namespace}/${service}/${id}`;
    let draft = drafts.get(key);
    if (draft === undefined) {
      draft = { namespace, service, id, address: addressText(addresses[0]!), weight: r.rdata.readUInt16BE(2), ports: [] };
      drafts.set(key, draft);
      for (const a of addresses) consumed.add(a);
    }
    draft.ports.push({ name: portName, port: r.rdata.readUInt16BE(4), protocol });
    consumed.add(r);
  }

  const named = new Set([...drafts.values()].map((d) => `${d.namespace}/${d.service}/${d.address}`));
  for (const r of parsed.records) {
    if (!isAddress(r)) continue;
    const labels = labelsBelow(r.owner, zoneKey);
    if (labels?.length !== 2 || !labels.every(isDnsLabel)) continue;
    const [service, namespace] = labels as [string, string];
    const address = addressText(r);
    consumed.add(r);
    if (named.has(`${namespace}/${service}/${address}`)) continue;
    const id = addressLabel(address);
    drafts.set(`${namespace}/${service}/${id}`, { namespace, service, id, address, weight: 100, ports: [] });
  }

  return [...drafts.values()].map((d) => ({
    namespace: d.namespace,
    service: d.service,
    instance: { id: d.id, source: 'zonefile', address: d.address, ports: d.ports, weight: d.weight, health: 'healthy' },
  }));
}

function staticZone(zoneKey: string, records: readonly ZoneRecord[], ttl: number, nsAddresses: readonly string[], nameServerKey?: string): StaticZone {
  const grouped = new Map<string, Map<number, EncodedRecord[]>>();
  for (const r of records) {
    let types = grouped.get(r.owner);
    if (types === undefined) grouped.set(r.owner, (types = new Map()));
    let list = types.get(r.type);
    if (list === undefined) types.set(r.type, (list = []));
    list.push(record(r.type, r.ttl, r.rdata, r.targetKey));
  }
  const names = new Map<string, { rrsets: RRSets }>();
  for (const [owner, types] of grouped) {
    const rrsets = new RRSets();
    for (const [type, list] of types) rrsets.set(type, fixedSet(type, list));
    names.set(owner, { rrsets });
    // Every ancestor up to the apex exists, even without records (RFC 8020).
    for (let p = parentKey(owner); p !== undefined && p.length >= zoneKey.length; p = parentKey(p)) {
      if (!names.has(p) && !grouped.has(p)) names.set(p, { rrsets: new RRSets() });
    }
  }
  let apexNode = names.get(zoneKey);
  if (apexNode === undefined) names.set(zoneKey, (apexNode = { rrsets: new RRSets() }));
  const soaSet = apexNode.rrsets.get(RRType.SOA);
  if (soaSet !== undefined) return { apex: apexFromSoa(zoneKey, recordObjects(soaSet)[0]!), names };
  const generated = generatedApex(zoneKey, ttl, undefined, nameServerKey);
  apexNode.rrsets.set(RRType.SOA, generated.apex.soa);
  if (!apexNode.rrsets.has(RRType.NS)) {
    apexNode.rrsets.set(RRType.NS, generated.ns);
    // The generated NS needs an address, or it is a lame delegation to nowhere (RFC 1912 §2.8).
    const host = generated.ns.records[0]!.targetKey!;
    if (!names.has(host) && isAtOrBelow(host, zoneKey) && nsAddresses.length > 0) {
      const rrsets = new RRSets();
      for (const type of [RRType.A, RRType.AAAA]) {
        const list = nsAddresses.map((a) => addressRecord(a, ttl)).filter((r) => r.type === type);
        if (list.length > 0) rrsets.set(type, fixedSet(type, list));
      }
      names.set(host, { rrsets });
      for (let p = parentKey(host); p !== undefined && p.length > zoneKey.length; p = parentKey(p)) if (!names.has(p)) names.set(p, { rrsets: new RRSets() });
    }
  }
  return { apex: generated.apex, names };
}

/** A mesh zone without a zone file: just the generated apex. */
export function emptyZone(zoneKey: string, ttl: number, nsAddresses: readonly string[] = [], nameServerKey?: string): StaticZone {
  return staticZone(zoneKey, [], ttl, nsAddresses, nameServerKey);
}

/** A reverse zone for --reverse-cidr: the generated apex, its names answered from the PTR table. */
export function reverseZone(zoneKey: string, ttl: number, nameServerKey: string | undefined): StaticZone {
  const zone = staticZone(zoneKey, [], ttl, [], nameServerKey);
  return { ...zone, apex: { ...zone.apex, reverse: true } };
}
