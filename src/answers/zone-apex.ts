import { RRType } from '../wire/constants.js';
import { keyToText } from '../wire/name.js';
import { encodeTail, record, soaMinimum, soaRdata, tailOf, type EncodedRecord } from '../wire/rdata.js';
import { fixedSet, type RecordSet } from './name-table.js';

/** What every negative answer of a zone needs: its apex key and the SOA for the authority section. */
export interface ZoneApex {
  readonly key: string;
  /** The SOA with TTL = min(SOA TTL, MINIMUM) as RFC 2308 §3 asks for negative answers. */
  readonly negativeSoaTail: Buffer;
  readonly soa: RecordSet;
  /** A reverse zone meshdns generated for --reverse-cidr: its names come from the PTR table. */
  readonly reverse?: boolean;
}

export function apexFromSoa(key: string, soa: EncodedRecord): ZoneApex {
  const tail = tailOf(soa);
  const ttl = tail.readUInt32BE(4);
  const negativeTtl = Math.min(ttl, soaMinimum(tail));
  const rdata = tail.subarray(10);
  return { key, negativeSoaTail: encodeTail(RRType.SOA, negativeTtl, rdata), soa: fixedSet(RRType.SOA, [soa]) };
}

/**
 * SOA and NS for a mesh zone that has no zone file, in the style of CoreDNS's
 * kubernetes plugin (ns.dns.<zone>). The serial is the start time so that it
 * grows across restarts; MINIMUM follows the record TTL so that a name that
 * appears is not hidden by a cached NXDOMAIN for longer than a record would be.
 */
export function generatedApex(key: string, ttl: number, now = Date.now(), nameServerKey?: string): { apex: ZoneApex; ns: RecordSet } {
  const zone = keyToText(key);
  const mname = nameServerKey !== undefined ? keyToText(nameServerKey) : `ns.dns.${zone === '.' ? '' : zone}`;
  const soa = record(
    RRType.SOA,
    ttl,
    soaRdata({
      mname,
      rname: `hostmaster.${zone === '.' ? '' : zone}`,
      serial: Math.floor(now / 1000),
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: ttl,
    }),
  );
  const nsTarget = Buffer.from(nameServerKey ?? (key.length > 0 ? `\x02ns\x03dns${key}` : '\x02ns\x03dns\x00'), 'latin1');
  const ns = record(RRType.NS, ttl, nsTarget, nsTarget.toString('latin1'));
  return { apex: apexFromSoa(key, soa), ns: fixedSet(RRType.NS, [ns]) };
}
