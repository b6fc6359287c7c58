import type { Catalog } from '../catalog/catalog.js';
import { dnsNameOf, isAnswerable, isPanicCandidate, type Instance, type Service } from '../catalog/types.js';
import { nameToWire, wireKey } from '../dns/wire/name.js';
import { DEFAULT_SOFT_WEIGHT, effectiveWeight, type SoftWeight } from '../health/soft-weight.js';
import { RRType } from '../dns/wire/constants.js';
import { childKey } from '../dns/wire/name.js';
import { addressRecord, record, srvRdata, type EncodedRecord } from '../dns/wire/rdata.js';
import { fixedSet, RRSets, weightedSet, type NameNode, type NameTable } from './records.js';

/**
 * Keeps the dynamic name table in step with the catalog. For each service in
 * each mesh zone it builds, when the service changes:
 *   <svc>.<ns>.<zone>                A/AAAA  healthy instances, weighted
 *   _<port>._<proto>.<svc>.<ns>.<zone> SRV   healthy instances, with glue
 *   <id>.<svc>.<ns>.<zone>           A/AAAA  the instance, whatever its health
 * plus the empty non-terminals <ns>.<zone> and _<proto>.<svc>.<ns>.<zone>.
 */
export class CatalogProjection {
  /** Names each service owns, to remove them when it changes. */
  private readonly owned = new Map<string, string[]>();
  /** Empty non-terminals shared between services, reference-counted. */
  private readonly entRefs = new Map<string, number>();
  private readonly entsOf = new Map<string, string[]>();
  /** Wall-clock milliseconds of the last change applied, for freshness checks. */
  lastChange = 0;

  /** Services answered in panic mode (every instance failing its probes). */
  readonly inPanic = new Set<string>();
  private readonly soft: SoftWeight;
  private readonly allUnhealthy: 'serve-all' | 'serve-none';

  constructor(
    private readonly catalog: Catalog,
    private readonly table: NameTable,
    private readonly zoneKeys: readonly string[],
    private readonly ttl: number,
    private readonly opts: {
      soft?: SoftWeight;
      allUnhealthy?: 'serve-all' | 'serve-none';
      /** Told when a service enters or leaves panic (for the warning log and the metric). */
      onPanic?: (serviceKey: string, inPanic: boolean, mode: 'serve-all' | 'serve-none') => void;
    } = {},
  ) {
    this.soft = opts.soft ?? DEFAULT_SOFT_WEIGHT;
    this.allUnhealthy = opts.allUnhealthy ?? 'serve-all';
    catalog.onChange((keys) => {
      for (const key of keys) this.rebuild(key);
      this.lastChange = Date.now();
    });
    for (const svc of catalog.all()) this.rebuild(`${svc.namespace}/${svc.name}`);
  }

  private rebuild(key: string): void {
    this.drop(key);
    const svc = this.catalog.getByKey(key);
    if (svc === undefined || (svc.instances.size === 0 && svc.alias === undefined)) {
      this.setPanic(key, false);
      return;
    }
    const names: string[] = [];
    const ents: string[] = [];
    for (const zoneKey of this.zoneKeys) {
      for (const [name, node] of this.namesOf(svc, zoneKey, ents)) {
        this.table.set(name, node);
        names.push(name);
      }
    }
    for (const ent of ents) {
      this.entRefs.set(ent, (this.entRefs.get(ent) ?? 0) + 1);
      if (!this.table.has(ent)) this.table.set(ent, { rrsets: new RRSets() });
    }
    this.owned.set(key, [...names]);
    this.entsOf.set(key, [...ents]);
  }

  private drop(key: string): void {
    for (const name of this.owned.get(key) ?? []) this.table.delete(name);
    for (const ent of this.entsOf.get(key) ?? []) {
      const refs = (this.entRefs.get(ent) ?? 1) - 1;
      if (refs <= 0) {
        this.entRefs.delete(ent);
        const node = this.table.get(ent);
        if (node !== undefined && node.rrsets.size === 0) this.table.delete(ent);
      } else {
        this.entRefs.set(ent, refs);
      }
    }
    this.owned.delete(key);
    this.entsOf.delete(key);
  }

  private namesOf(svc: Service, zoneKey: string, ents: string[]): Map<string, NameNode> {
    const nsKey = childKey([svc.namespace], zoneKey);
    const svcKey = childKey([svc.name], nsKey);
    ents.push(nsKey);
    const out = new Map<string, NameNode>();
    if (svc.alias !== undefined) {
      // An ExternalName service: a CNAME and nothing else at its name.
      const target = nameToWire(svc.alias);
      const rec = record(RRType.CNAME, this.ttl, target, wireKey(target));
      out.set(svcKey, { rrsets: new RRSets([[RRType.CNAME, fixedSet(RRType.CNAME, [rec])]]) });
      return out;
    }
    const instances = [...svc.instances.values()];
    let answerable = instances.filter(isAnswerable);
    const key = `${svc.namespace}/${svc.name}`;
    if (answerable.length === 0 && instances.some(isPanicCandidate)) {
      this.setPanic(key, true);
      if (this.allUnhealthy === 'serve-all') answerable = instances.filter(isPanicCandidate);
    } else {
      this.setPanic(key, false);
    }

    // One encoded address record per instance, shared by the service's set, the instance's name and SRV glue.
    const addressOf = new Map<Instance, EncodedRecord>();
    for (const inst of instances) addressOf.set(inst, addressRecord(inst.address, this.ttl));

    const svcNode: NameNode = { rrsets: new RRSets() };
    for (const type of [RRType.A, RRType.AAAA]) {
      const members = answerable.filter((i) => addressOf.get(i)!.type === type);
      if (members.length > 0) svcNode.rrsets.set(type, weightedSet(type, members.map((i) => addressOf.get(i)!), members.map((i) => this.weightOf(i))));
    }
    out.set(svcKey, svcNode);

    // Instance names: an endpoint's IPv4 and IPv6 addresses may share one name.
    const byName = new Map<string, Map<number, EncodedRecord[]>>();
    for (const inst of instances) {
      const rec = addressOf.get(inst)!;
      let types = byName.get(dnsNameOf(inst));
      if (types === undefined) byName.set(dnsNameOf(inst), (types = new Map()));
      const list = types.get(rec.type);
      if (list === undefined) types.set(rec.type, [rec]);
      else list.push(rec);
    }
    for (const [name, types] of byName) {
      const rrsets = new RRSets();
      for (const [type, recs] of types) rrsets.set(type, fixedSet(type, recs));
      out.set(childKey([name], svcKey), { rrsets });
    }

    // One SRV name per (port name, protocol); an instance may use another port number than its peers.
    const srv = new Map<string, { records: EncodedRecord[]; weights: number[]; byTarget: Map<string, EncodedRecord> }>();
    for (const inst of answerable) {
      for (const port of inst.ports) {
        const protoKey = childKey([`_${port.protocol}`], svcKey);
        const name = childKey([`_${port.name}`], protoKey);
        let entry = srv.get(name);
        if (entry === undefined) {
          srv.set(name, (entry = { records: [], weights: [], byTarget: new Map() }));
          ents.push(protoKey);
        }
        const targetKey = childKey([dnsNameOf(inst)], svcKey);
        // Dual-stack endpoints are two instances with one name: one SRV record, glue for both.
        const twin = entry.byTarget.get(`${targetKey}|${port.port}`);
        if (twin !== undefined) {
          twin.glue!.push(addressOf.get(inst)!.tail);
          continue;
        }
        const weight = this.weightOf(inst);
        const rec = record(RRType.SRV, this.ttl, srvRdata(0, Math.max(1, Math.round(weight)), port.port, Buffer.from(targetKey, 'latin1')), targetKey);
        rec.glue = [addressOf.get(inst)!.tail];
        entry.byTarget.set(`${targetKey}|${port.port}`, rec);
        entry.records.push(rec);
        entry.weights.push(weight);
      }
    }
    for (const [name, entry] of srv) {
      out.set(name, { rrsets: new RRSets([[RRType.SRV, weightedSet(RRType.SRV, entry.records, entry.weights)]]) });
    }
    return out;
  }

  /** The registered weight shaded by the probe score (panic serves failing instances at their score too). */
  private weightOf(i: Instance): number {
    const w = i.probe === undefined ? i.weight : effectiveWeight(i.weight, i.probe.score, this.soft);
    // A weight that rounds to nothing would never be drawn; keep a sliver so order stays defined.
    return Math.max(w, 1e-6);
  }

  private setPanic(key: string, panic: boolean): void {
    if (panic === this.inPanic.has(key)) return;
    if (panic) this.inPanic.add(key);
    else this.inPanic.delete(key);
    this.opts.onPanic?.(key, panic, this.allUnhealthy);
  }
}
