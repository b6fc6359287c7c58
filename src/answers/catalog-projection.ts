import type { Catalog } from '../catalog/catalog.js';
import { dnsNameOf, isAnswerable, isPanicCandidate, type Instance, type Service } from '../catalog/types.js';
import { RRType } from '../dns/wire/constants.js';
import { childKey, nameToWire, wireKey } from '../dns/wire/name.js';
import { addressRecord, record, srvRecord, type EncodedRecord } from '../dns/wire/rdata.js';
import { DEFAULT_SOFT_WEIGHT, effectiveWeight, type SoftWeight } from '../health/soft-weight.js';
import type { PtrTarget, ReverseNames } from './reverse-names.js';
import { fixedSet, NamesBelowService, RRSets, weightedSet, type NameNode, type NameTable, type RRSet } from './records.js';

/** Which source's instance keeps a name that two sources give (lower first): zone file, Kubernetes, REST. */
const SOURCE_RANK: Record<Instance['source'], number> = { zonefile: 0, kubernetes: 1, rest: 2 };

/** One SRV name of a service while it is built. */
interface SrvDraft {
  proto: string;
  port: string;
  records: EncodedRecord[];
  weights: number[];
  targets: Set<string>;
}

/** Every <ns> name is an empty non-terminal: one shared node. */
const NON_TERMINAL: NameNode = { rrsets: new RRSets() };

function serviceKeys(namespace: string, name: string, zoneKey: string): { nsKey: string; svcKey: string } {
  const nsKey = childKey([namespace], zoneKey);
  return { nsKey, svcKey: childKey([name], nsKey) };
}

/** A label as it starts a lookup key (length octet first): a one-label key with no parent. */
function wireLabel(label: string): string {
  return childKey([label], '');
}

/**
 * Keeps the dynamic name table in step with the catalog. For each service in
 * each mesh zone it builds, when the service changes:
 *   <svc>.<ns>.<zone>                A/AAAA  healthy instances, weighted
 *   _<port>._<proto>.<svc>.<ns>.<zone> SRV   healthy instances, with glue
 *   <id>.<svc>.<ns>.<zone>           A/AAAA  the instance, whatever its health
 * plus the empty non-terminals <ns>.<zone> and _<proto>.<svc>.<ns>.<zone>.
 * Only <svc> and <ns> get table entries; the names below a service are
 * answered from its node (NameNode.below), which saves an entry, a key and
 * a node per instance.
 */
export class CatalogProjection {
  /** <ns> empty non-terminals, counted by the services below them. */
  private readonly entRefs = new Map<string, number>();
  /** Wall-clock milliseconds of the last change applied, for freshness checks. */
  lastChange = 0;

  /** Services answered in panic mode (every instance failing its probes). */
  readonly inPanic = new Set<string>();
  private readonly soft: SoftWeight;
  private readonly reported = new Set<string>();
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
      /** Where PTR records of instance addresses go (reverse lookups); absent: none are built. */
      reverse?: ReverseNames;
      /** Told once of each record that could not be built and was left out (the rest is answered). */
      onSkipped?: (skipped: { service: string; instance: string | undefined; reason: string }) => void;
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
    const svc = this.catalog.getByKey(key);
    if (svc === undefined || (svc.instances.size === 0 && svc.alias === undefined)) {
      this.drop(key);
      this.opts.reverse?.setService(key, []);
      this.setPanic(key, false);
      return;
    }
    // Build before dropping what is answered now: should building fail after all, the last good answers stay.
    let nodes: { nsKey: string; svcKey: string; node: NameNode }[];
    try {
      nodes = this.zoneKeys.map((zoneKey) => {
        const keys = serviceKeys(svc.namespace, svc.name, zoneKey);
        return { ...keys, node: this.nodeOf(key, svc, keys.svcKey) };
      });
    } catch (err) {
      this.skipped(key, undefined, `answers not rebuilt, the previous ones stay: ${(err as Error).message}`);
      return;
    }
    this.drop(key);
    this.opts.reverse?.setService(key, this.ptrTargets(key, svc));
    for (const { nsKey, svcKey, node } of nodes) {
      this.table.set(svcKey, node);
      this.entRefs.set(nsKey, (this.entRefs.get(nsKey) ?? 0) + 1);
      if (!this.table.has(nsKey)) this.table.set(nsKey, NON_TERMINAL);
    }
  }

  /** Removes what rebuild made of a service: its name in every zone, and <ns> once no service is left in it. */
  private drop(key: string): void {
    const slash = key.indexOf('/');
    for (const zoneKey of this.zoneKeys) {
      const { nsKey, svcKey } = serviceKeys(key.slice(0, slash), key.slice(slash + 1), zoneKey);
      if (!this.table.delete(svcKey)) continue;
      const refs = (this.entRefs.get(nsKey) ?? 1) - 1;
      if (refs > 0) {
        this.entRefs.set(nsKey, refs);
        continue;
      }
      this.entRefs.delete(nsKey);
      if (this.table.get(nsKey) === NON_TERMINAL) this.table.delete(nsKey);
    }
  }

  private nodeOf(key: string, svc: Service, svcKey: string): NameNode {
    if (svc.alias !== undefined) {
      // An ExternalName service: a CNAME and nothing else at its name.
      const target = nameToWire(svc.alias);
      const rec = record(RRType.CNAME, this.ttl, target, wireKey(target));
      return { rrsets: new RRSets([[RRType.CNAME, fixedSet(RRType.CNAME, [rec])]]) };
    }
    const instances = this.usable(key, svc, svcKey);
    let answerable = instances.filter(isAnswerable);
    if (answerable.length === 0 && instances.some(isPanicCandidate)) {
      this.setPanic(key, true);
      if (this.allUnhealthy === 'serve-all') answerable = instances.filter(isPanicCandidate);
    } else {
      this.setPanic(key, false);
    }

    // One encoded address record per instance, shared by the service's set, the instance's name and SRV glue.
    const addressOf = new Map<Instance, EncodedRecord>();
    for (const inst of instances) addressOf.set(inst, addressRecord(inst.address, this.ttl));

    const rrsets = new RRSets();
    for (const type of [RRType.A, RRType.AAAA]) {
      // One record per address: two instances at one address (two sources, two ports) are one RR (RFC 2181 §5).
      const seen = new Set<string>();
      const members = answerable.filter((i) => addressOf.get(i)!.type === type && !seen.has(i.address) && seen.add(i.address) !== undefined);
      if (members.length > 0) rrsets.set(type, weightedSet(type, members.map((i) => addressOf.get(i)!), members.map((i) => this.weightOf(i))));
    }

    // Instance names (whatever their health): an endpoint's IPv4 and IPv6 addresses may share one name.
    const byLabel = new Map<string, EncodedRecord | EncodedRecord[]>();
    for (const inst of instances) {
      const label = wireLabel(dnsNameOf(inst));
      const seen = byLabel.get(label);
      const rec = addressOf.get(inst)!;
      byLabel.set(label, seen === undefined ? rec : Array.isArray(seen) ? [...seen, rec] : [seen, rec]);
    }

    // One SRV name per (port name, protocol) of any instance, so that a port whose instances are all
    // failing or drained is NODATA, not NXDOMAIN (which resolvers would cache as "no such name").
    const srv = new Map<string, SrvDraft>();
    const answered = new Set(answerable);
    for (const inst of instances) {
      const label = wireLabel(dnsNameOf(inst));
      for (const port of inst.ports) {
        let entry: SrvDraft | undefined;
        try {
          const proto = wireLabel(`_${port.protocol}`);
          const portLabel = wireLabel(`_${port.name}`);
          entry = srv.get(proto + portLabel);
          if (entry === undefined) {
            // The owner name must fit too, or no query could ever reach it.
            childKey([`_${port.name}`, `_${port.protocol}`], svcKey);
            srv.set(proto + portLabel, (entry = { proto, port: portLabel, records: [], weights: [], targets: new Set() }));
          }
        } catch (err) {
          this.skipped(key, inst.id, `no SRV name for port "${port.name}": ${(err as Error).message}`);
          continue;
        }
        if (!answered.has(inst)) continue;
        // Dual-stack endpoints are two instances with one name: one SRV record, glue for both.
        if (entry.targets.has(`${label}|${port.port}`)) continue;
        entry.targets.add(`${label}|${port.port}`);
        const weight = this.weightOf(inst);
        // The glue is the instance name's own records: nothing copied per SRV record.
        entry.records.push(srvRecord(this.ttl, 0, Math.max(1, Math.round(weight)), port.port, childKey([dnsNameOf(inst)], svcKey), byLabel.get(label)!));
        entry.weights.push(weight);
      }
    }
    const srvList: (string | RRSet)[] = [];
    for (const e of srv.values()) srvList.push(e.proto, e.port, weightedSet(RRType.SRV, e.records, e.weights));
    return { rrsets, below: new NamesBelowService([...byLabel].flat(), srvList) };
  }

  /**
   * The instances this service's names are built from. Sources rank zone file,
   * Kubernetes, REST: an instance name claimed by a higher source is not
   * answered for a lower one (two sources must never give one name two
   * addresses or one SRV set two targets of one name). An instance whose
   * names cannot be built is skipped and reported, never its whole service.
   */
  private usable(key: string, svc: Service, svcKey: string): Instance[] {
    const ranked = [...svc.instances.values()].sort((a, b) => SOURCE_RANK[a.source] - SOURCE_RANK[b.source]);
    const owner = new Map<string, Instance['source']>();
    const out: Instance[] = [];
    for (const inst of ranked) {
      const name = dnsNameOf(inst);
      const claimed = owner.get(name);
      if (claimed !== undefined && claimed !== inst.source) {
        this.skipped(key, inst.id, `instance name "${name}" belongs to a ${claimed} instance, which takes precedence over ${inst.source}`);
        continue;
      }
      try {
        childKey([name], svcKey);
        addressRecord(inst.address, this.ttl);
      } catch (err) {
        this.skipped(key, inst.id, (err as Error).message);
        continue;
      }
      owner.set(name, inst.source);
      out.push(inst);
    }
    return out;
  }

  /** One PTR target per instance whose names are answered: <id>.<svc>.<ns> in the first mesh zone. */
  private ptrTargets(key: string, svc: Service): PtrTarget[] {
    const zoneKey = this.zoneKeys[0];
    if (this.opts.reverse === undefined || zoneKey === undefined || svc.alias !== undefined) return [];
    const svcKey = serviceKeys(svc.namespace, svc.name, zoneKey).svcKey;
    return this.usable(key, svc, svcKey).map((inst) => ({ address: inst.address, targetKey: childKey([dnsNameOf(inst)], svcKey) }));
  }

  /** Reports a record not built, once per distinct problem (a rebuild per probe result must not flood the log). */
  private skipped(key: string, id: string | undefined, reason: string): void {
    const text = `${key}|${id ?? ''}|${reason}`;
    if (this.reported.has(text)) return;
    if (this.reported.size < 10_000) this.reported.add(text);
    this.opts.onSkipped?.({ service: key, instance: id, reason });
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
