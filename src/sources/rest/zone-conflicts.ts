import type { Catalog } from '../../catalog/catalog.js';
import { dnsNameOf } from '../../catalog/types.js';
import { RRType } from '../../wire/constants.js';
import { childKey, keyToText } from '../../wire/name.js';
import type { Registration } from '../../store/registration.js';

/** What the zone files hold at a name, as far as a registration could collide with it. */
export interface StaticNames {
  /** The RR types a zone file gives this name (empty for none or an empty non-terminal). */
  staticTypes(key: string): readonly number[];
  /** Whether a zone's NS records name this host (its addresses are then the zone file's glue). */
  isNameServer(key: string): boolean;
}

const TYPE_NAMES: Record<number, string> = { [RRType.A]: 'A', [RRType.AAAA]: 'AAAA', [RRType.CNAME]: 'CNAME', [RRType.SRV]: 'SRV' };

/**
 * Why a REST registration would collide with what a zone file defines, or
 * undefined. Zone files rank above every other source, so the registration
 * may not take: an instance name a zone file gives the same service, the
 * zone's name server host (its addresses are the NS glue), or any name a
 * zone file gives records that the registration would also answer (an
 * address at the service or instance name, SRV at its port names, a CNAME
 * at any of them or at the namespace). Adding instances to a service that
 * a zone file also feeds is fine. The caller answers 409 with this text.
 */
export function zoneConflict(r: Registration, zoneKeys: readonly string[], statics: StaticNames, catalog: Catalog): string | undefined {
  const service = catalog.get(r.namespace, r.service);
  for (const i of service?.instances.values() ?? []) {
    if (i.source === 'zonefile' && dnsNameOf(i) === r.id) {
      return `instance ${r.id} of ${r.namespace}/${r.service} is defined in a zone file, which takes precedence; register under another id`;
    }
  }
  for (const zoneKey of zoneKeys) {
    const nsKey = childKey([r.namespace], zoneKey);
    const svcKey = childKey([r.service], nsKey);
    if (statics.isNameServer(svcKey)) {
      return `${keyToText(svcKey)} is a name server of the zone ${keyToText(zoneKey)} in its zone file: its addresses are the zone file's; register under another service name`;
    }
    const names: [string, readonly number[]][] = [
      [nsKey, [RRType.CNAME]],
      [svcKey, [RRType.CNAME, RRType.A, RRType.AAAA]],
      [childKey([r.id], svcKey), [RRType.CNAME, RRType.A, RRType.AAAA]],
    ];
    for (const p of r.ports) {
      const protoKey = childKey([`_${p.protocol}`], svcKey);
      names.push([protoKey, [RRType.CNAME]], [childKey([`_${p.name}`], protoKey), [RRType.CNAME, RRType.SRV]]);
    }
    for (const [key, types] of names) {
      const clash = statics.staticTypes(key).find((t) => types.includes(t));
      if (clash !== undefined) return `${keyToText(key)} has a ${TYPE_NAMES[clash]} record in a zone file, which takes precedence; remove it from the zone file, or register under another name`;
    }
  }
  return undefined;
}
