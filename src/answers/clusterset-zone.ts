import { isIP } from 'node:net';
import type { ClusterSetService } from '../catalog/clusterset.js';
import { RRType } from '../wire/constants.js';
import { childKey } from '../wire/name.js';
import { addressRecord, record, srvRecord, txtRdata, type EncodedRecord } from '../wire/rdata.js';
import { fixedSet, recordObjects, RRSets, type NameNode, type NameTable, type RRSetLookup } from './name-table.js';
import type { PtrTarget } from './reverse-names.js';
import type { StaticZone } from './resolver.js';
import { generatedApex } from './zone-apex.js';

/** KEP-1645's DNS specification version, answered at dns-version.<domain>. */
export const CLUSTERSET_DNS_VERSION = '1.0.0';

/** Empty non-terminals share one node. */
const EMPTY: NameNode = { rrsets: new RRSets() };

/**
 * The cluster-set zone (`clusterset.local`) exactly as KEP-1645's DNS specification lays it out, from the
 * imported services:
 *   dns-version.<domain>                          TXT "1.0.0"
 *   <svc>.<ns>.svc.<domain>                       A/AAAA the ClusterSetIPs (headless: every ready endpoint)
 *   _<port>._<proto>.<svc>.<ns>.svc.<domain>      SRV to the service name (headless: one per endpoint)
 *   <hostname>.<clusterid>.<svc>.<ns>.svc.<domain> A/AAAA one headless endpoint
 * <clusterid>.<svc>… is an empty non-terminal (no address records); there are no per-cluster service names.
 * Also returns the PTR targets (each ClusterSetIP to its service, each headless endpoint to its name).
 */
export function clusterSetZone(domainKey: string, services: readonly ClusterSetService[], ttl: number, nameServerKey?: string): { zone: StaticZone; ptr: PtrTarget[] } {
  const { apex, ns } = generatedApex(domainKey, ttl, Date.now(), nameServerKey);
  const names: NameTable = new Map();
  const ptr: PtrTarget[] = [];
  names.set(domainKey, { rrsets: new RRSets([[RRType.SOA, apex.soa], [RRType.NS, ns]]) });
  const version = record(RRType.TXT, ttl, txtRdata([Buffer.from(CLUSTERSET_DNS_VERSION)]));
  names.set(childKey(['dns-version'], domainKey), { rrsets: new RRSets([[RRType.TXT, fixedSet(RRType.TXT, [version])]]) });
  const svcApex = childKey(['svc'], domainKey);
  const ent = (key: string): void => {
    if (!names.has(key)) names.set(key, EMPTY);
  };
  for (const s of services) {
    let svcKey: string;
    try {
      svcKey = childKey([s.name, s.namespace], svcApex);
    } catch {
      continue;
    }
    ent(svcApex);
    ent(childKey([s.namespace], svcApex));
    const addressSets = (addresses: readonly string[]): RRSets => {
      const sets = new RRSets();
      const unique = [...new Set(addresses)];
      const v4 = unique.filter((a) => isIP(a) === 4).map((a) => addressRecord(a, ttl));
      const v6 = unique.filter((a) => isIP(a) === 6).map((a) => addressRecord(a, ttl));
      if (v4.length > 0) sets.set(RRType.A, fixedSet(RRType.A, v4));
      if (v6.length > 0) sets.set(RRType.AAAA, fixedSet(RRType.AAAA, v6));
      return sets;
    };
    const srv = new Map<string, EncodedRecord[]>();
    const addSrv = (port: { name: string; protocol: string; port: number }, target: string, glue: readonly EncodedRecord[]): void => {
      let key: string;
      try {
        key = childKey([`_${port.name}`, `_${port.protocol}`], svcKey);
      } catch {
        return;
      }
      ent(childKey([`_${port.protocol}`], svcKey));
      const list = srv.get(key) ?? [];
      list.push(srvRecord(ttl, 0, 100, port.port, target, glue));
      srv.set(key, list);
    };
    if (s.type === 'ClusterSetIP') {
      const sets = addressSets(s.ips);
      names.set(svcKey, { rrsets: sets });
      const glue = addressGlue(sets);
      for (const p of s.ports) addSrv(p, svcKey, glue);
      for (const ip of new Set(s.ips)) ptr.push({ address: ip, label: '', parent: svcKey });
    } else {
      names.set(svcKey, { rrsets: addressSets(s.endpoints.map((e) => e.address)) });
      const byName = new Map<string, string[]>();
      for (const e of s.endpoints) {
        let key: string;
        try {
          key = childKey([e.name, e.cluster], svcKey);
        } catch {
          continue;
        }
        ent(childKey([e.cluster], svcKey));
        byName.set(key, [...(byName.get(key) ?? []), e.address]);
      }
      for (const [key, addresses] of byName) names.set(key, { rrsets: addressSets(addresses) });
      for (const e of s.endpoints) {
        const key = childKey([e.name, e.cluster], svcKey);
        const node = names.get(key);
        if (node === undefined) continue;
        const glue = addressGlue(node.rrsets);
        // SRV for the service's named ports that the endpoint's slice serves.
        for (const p of s.ports) if (e.ports.some((q) => q.name === p.name && q.protocol === p.protocol)) addSrv({ ...p, port: e.ports.find((q) => q.name === p.name && q.protocol === p.protocol)!.port }, key, glue);
        ptr.push({ address: e.address, label: '', parent: key });
      }
    }
    for (const [key, records] of srv) names.set(key, { rrsets: new RRSets([[RRType.SRV, fixedSet(RRType.SRV, records)]]) });
  }
  return { zone: { apex, names }, ptr };
}

/** A name's address records, as an SRV record's glue. */
function addressGlue(rrsets: RRSetLookup): EncodedRecord[] {
  return [RRType.A, RRType.AAAA].flatMap((type) => {
    const set = rrsets.get(type);
    return set === undefined ? [] : [...recordObjects(set)];
  });
}
