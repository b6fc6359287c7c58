import { nameLabelsOf, type Instance, type InstancePort, type Service } from '../catalog/types.js';
import { childKey } from '../wire/name.js';

/** Which source's instance keeps a name that two sources give (lower first): zone file, Kubernetes, REST. */
const SOURCE_RANK: Record<Instance['source'], number> = { zonefile: 0, kubernetes: 1, rest: 2 };

/** A record that cannot be built, reported once per distinct problem (a rebuild per probe result must not flood the log). */
export interface SkippedRecord {
  readonly service: string;
  readonly instance: string | undefined;
  readonly reason: string;
}

export class SkipReporter {
  private readonly reported = new Set<string>();

  constructor(private readonly onSkipped: ((skipped: SkippedRecord) => void) | undefined) {}

  skipped(service: string, instance: string | undefined, reason: string): void {
    const text = `${service}|${instance ?? ''}|${reason}`;
    if (this.reported.has(text)) return;
    if (this.reported.size < 10_000) this.reported.add(text);
    this.onSkipped?.({ service, instance, reason });
  }
}

/**
 * The instances a service's names are built from in one zone. Sources rank zone file, Kubernetes, REST: an
 * instance name claimed by a higher source is not answered for a lower one (two sources must never give one name
 * two addresses or one SRV set two targets of one name). An instance whose name cannot be built (too long in this
 * zone) is skipped and reported, never its whole service; addresses the catalog has already checked.
 */
export function usableInstances(key: string, svc: Service, svcKey: string, report: SkipReporter): Instance[] {
  const ranked = [...svc.instances.values()].sort((a, b) => SOURCE_RANK[a.source] - SOURCE_RANK[b.source]);
  const owner = new Map<string, Instance['source']>();
  const out: Instance[] = [];
  for (const inst of ranked) {
    const name = nameLabelsOf(inst).join('.');
    const claimed = owner.get(name);
    if (claimed !== undefined && claimed !== inst.source) {
      report.skipped(key, inst.id, `instance name "${name}" belongs to a ${claimed} instance, which takes precedence over ${inst.source}`);
      continue;
    }
    try {
      childKey(nameLabelsOf(inst), svcKey);
    } catch (err) {
      report.skipped(key, inst.id, (err as Error).message);
      continue;
    }
    owner.set(name, inst.source);
    out.push(inst);
  }
  return out;
}

/** The SRV owner name of a port below a service, as a key; throws (why) when it cannot be built in this zone. */
export function srvOwnerKey(port: InstancePort, svcKey: string): string {
  return childKey([`_${port.name}`, `_${port.protocol}`], svcKey);
}

/** Every record of a service that cannot be built in one zone, reported (what a process without name tables checks). */
export function reportUnbuildable(key: string, svc: Service, svcKey: string, report: SkipReporter): void {
  for (const inst of usableInstances(key, svc, svcKey, report)) {
    for (const port of inst.ports) {
      try {
        srvOwnerKey(port, svcKey);
      } catch (err) {
        report.skipped(key, inst.id, `no SRV name for port "${port.name}": ${(err as Error).message}`);
      }
    }
  }
}
