import { isIPv4, isIPv6 } from 'node:net';
import { RRType, typeName, typeNumber } from '../../wire/constants.js';
import { isAtOrBelow, labelsToWire, NameError, splitPresentationName, wireKey, wireToText } from '../../wire/name.js';
import { ipv4Rdata, ipv6Rdata, soaRdata, srvRdata, txtRdata } from '../../wire/rdata.js';
import { tokenize, unescapeString, ZoneSyntaxError, type Entry, type Token } from './tokenizer.js';

/** One resource record as read from a master file, rdata already in wire form. */
export interface ZoneRecord {
  readonly owner: string;
  readonly type: number;
  readonly ttl: number;
  readonly rdata: Buffer;
  /** Key of the name inside rdata (CNAME, NS, PTR, MX, SRV targets). */
  readonly targetKey?: string;
  readonly line: number;
}

export interface ParsedZone {
  readonly originKey: string;
  readonly records: ZoneRecord[];
}

export { ZoneSyntaxError };

const CLASSES = new Set(['IN', 'CH', 'HS', 'CS']);
const MAX_TTL = 0x7fffffff;

/** TTLs as plain seconds or BIND units: 1h30m, 2d, 1w. */
export function parseTtl(text: string): number | undefined {
  if (/^\d+$/.test(text)) {
    const v = Number(text);
    return v <= MAX_TTL ? v : undefined;
  }
  const m = /^(?:\d+[smhdw])+$/i.exec(text);
  if (!m) return undefined;
  const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  for (const part of text.toLowerCase().matchAll(/(\d+)([smhdw])/g)) total += Number(part[1]) * unit[part[2]!]!;
  return total <= MAX_TTL ? total : undefined;
}

/**
 * Parses a master file for the zone `origin` (presentation form). Throws
 * ZoneSyntaxError with the line of the first problem; nothing partial is
 * returned, so a broken file never replaces good data.
 */
export function parseZone(text: string, origin: string): ParsedZone {
  const zoneWire = toWire(origin, 0);
  const zoneKey = wireKey(zoneWire);
  let originLabels = splitPresentationName(origin);
  let defaultTtl: number | undefined;
  let lastTtl: number | undefined;
  let lastOwner: Buffer | undefined;
  const records: ZoneRecord[] = [];

  const nameOf = (token: Token): Buffer => {
    const text = token.text;
    if (text === '@') return labelsToWire(originLabels);
    try {
      if (text.endsWith('.') && !text.endsWith('\\.')) return labelsToWire(splitPresentationName(text));
      return labelsToWire([...splitPresentationName(text), ...originLabels]);
    } catch (err) {
      throw new ZoneSyntaxError(token.line, `bad name "${text}": ${(err as Error).message}`);
    }
  };

  for (const entry of tokenize(text)) {
    const tokens = entry.tokens;
    const first = tokens[0]!;
    if (!entry.blankOwner && first.text.startsWith('$') && !first.quoted) {
      directive(entry);
      continue;
    }
    let idx = 0;
    let owner: Buffer;
    if (entry.blankOwner) {
      if (lastOwner === undefined) throw new ZoneSyntaxError(entry.line, 'a record without an owner name comes before any owner');
      owner = lastOwner;
    } else {
      owner = nameOf(tokens[idx++]!);
    }
    let ttl: number | undefined;
    for (let k = 0; k < 2 && idx < tokens.length; k++) {
      const t = tokens[idx]!.text;
      if (CLASSES.has(t.toUpperCase())) {
        if (t.toUpperCase() !== 'IN') throw new ZoneSyntaxError(entry.line, `class ${t} is not supported (only IN)`);
        idx++;
      } else if (ttl === undefined && parseTtl(t) !== undefined) {
        ttl = parseTtl(t);
        idx++;
      }
    }
    const typeToken = tokens[idx++];
    if (typeToken === undefined) throw new ZoneSyntaxError(entry.line, 'record has no type');
    const type = typeNumber(typeToken.text);
    if (type === undefined) throw new ZoneSyntaxError(typeToken.line, `unknown record type "${typeToken.text}"`);
    if (ttl === undefined) ttl = defaultTtl ?? lastTtl;
    if (ttl === undefined) throw new ZoneSyntaxError(entry.line, 'no TTL: give one on the record or with $TTL');
    lastTtl = ttl;
    lastOwner = owner;
    const ownerKey = wireKey(owner);
    if (!isAtOrBelow(ownerKey, zoneKey)) {
      throw new ZoneSyntaxError(entry.line, `owner is outside the zone ${origin}`);
    }
    const rest = tokens.slice(idx);
    const { rdata, target } = encodeRdata(type, rest, entry.line, nameOf);
    // RDLENGTH is 16 bits (RFC 1035 §3.2.1): anything longer cannot be a record at all.
    if (rdata.length > 65535) throw new ZoneSyntaxError(entry.line, `the record data is ${rdata.length} octets; a record holds at most 65,535`);
    records.push({ owner: ownerKey, type, ttl, rdata, targetKey: target === undefined ? undefined : wireKey(target), line: entry.line });
  }
  checkConsistency(records, zoneKey);
  return { originKey: zoneKey, records };

  function directive(entry: Entry): void {
    const [head, arg] = entry.tokens;
    const name = head!.text.toUpperCase();
    if (name === '$ORIGIN') {
      if (arg === undefined || !arg.text.endsWith('.')) throw new ZoneSyntaxError(entry.line, '$ORIGIN needs an absolute name (ending in ".")');
      try {
        originLabels = splitPresentationName(arg.text);
        labelsToWire(originLabels); // label and name lengths, checked here so the error names this line
      } catch (err) {
        throw new ZoneSyntaxError(entry.line, `bad $ORIGIN: ${(err as NameError).message}`);
      }
    } else if (name === '$TTL') {
      const v = arg === undefined ? undefined : parseTtl(arg.text);
      if (v === undefined) throw new ZoneSyntaxError(entry.line, `$TTL needs a TTL like 300 or 5m`);
      defaultTtl = v;
    } else {
      throw new ZoneSyntaxError(entry.line, `directive ${head!.text} is not supported ($ORIGIN and $TTL are)`);
    }
  }
}

function toWire(text: string, line: number): Buffer {
  try {
    return labelsToWire(splitPresentationName(text));
  } catch (err) {
    throw new ZoneSyntaxError(line, (err as Error).message);
  }
}

function encodeRdata(
  type: number,
  t: Token[],
  line: number,
  nameOf: (token: Token) => Buffer,
): { rdata: Buffer; target?: Buffer } {
  const want = (count: number): void => {
    if (t.length !== count) throw new ZoneSyntaxError(line, `${typeName(type)} needs ${count} field(s), got ${t.length}`);
  };
  const int = (token: Token, max: number, what: string): number => {
    if (!/^\d+$/.test(token.text) || Number(token.text) > max) {
      throw new ZoneSyntaxError(token.line, `${what} "${token.text}" is not a number from 0 to ${max}`);
    }
    return Number(token.text);
  };
  switch (type) {
    case RRType.A:
      want(1);
      if (!isIPv4(t[0]!.text)) throw new ZoneSyntaxError(line, `"${t[0]!.text}" is not an IPv4 address`);
      return { rdata: ipv4Rdata(t[0]!.text) };
    case RRType.AAAA:
      want(1);
      if (!isIPv6(t[0]!.text)) throw new ZoneSyntaxError(line, `"${t[0]!.text}" is not an IPv6 address`);
      return { rdata: ipv6Rdata(t[0]!.text) };
    case RRType.NS:
    case RRType.CNAME:
    case RRType.PTR: {
      want(1);
      const target = nameOf(t[0]!);
      return { rdata: target, target };
    }
    case RRType.MX: {
      want(2);
      const target = nameOf(t[1]!);
      const out = Buffer.allocUnsafe(2 + target.length);
      out.writeUInt16BE(int(t[0]!, 65535, 'MX preference'), 0);
      target.copy(out, 2);
      return { rdata: out, target };
    }
    case RRType.SRV: {
      want(4);
      const target = nameOf(t[3]!);
      return {
        rdata: srvRdata(int(t[0]!, 65535, 'SRV priority'), int(t[1]!, 65535, 'SRV weight'), int(t[2]!, 65535, 'SRV port'), target),
        target,
      };
    }
    case RRType.SOA: {
      want(7);
      const times = t.slice(2).map((tok) => {
        const v = parseTtl(tok.text);
        if (v === undefined) throw new ZoneSyntaxError(tok.line, `SOA field "${tok.text}" is not a number or duration`);
        return v;
      });
      const [serial, refresh, retry, expire, minimum] = times as [number, number, number, number, number];
      return {
        rdata: soaRdata({ mname: wireToText(nameOf(t[0]!)), rname: wireToText(nameOf(t[1]!)), serial, refresh, retry, expire, minimum }),
      };
    }
    case RRType.TXT: {
      if (t.length === 0) throw new ZoneSyntaxError(line, 'TXT needs at least one string');
      try {
        return { rdata: txtRdata(t.map((tok) => unescapeString(tok.text, tok.line))) };
      } catch (err) {
        throw new ZoneSyntaxError(line, (err as Error).message);
      }
    }
    case RRType.CAA: {
      want(3);
      const flags = int(t[0]!, 255, 'CAA flags');
      const tag = t[1]!.text;
      if (!/^[A-Za-z0-9]{1,15}$/.test(tag)) throw new ZoneSyntaxError(line, `CAA tag "${tag}" must be 1-15 letters or digits`);
      const value = unescapeString(t[2]!.text, line);
      return { rdata: Buffer.concat([Buffer.from([flags, tag.length]), Buffer.from(tag, 'ascii'), value]) };
    }
    default:
      throw new ZoneSyntaxError(line, `record type ${typeName(type)} is not supported in zone files`);
  }
}

/** RFC 1034 §3.6.2 / RFC 2181 §10.1: one SOA at the apex, CNAME alone at its name. */
function checkConsistency(records: readonly ZoneRecord[], zoneKey: string): void {
  const typesAt = new Map<string, { types: Set<number>; line: number }>();
  let soaCount = 0;
  const cnames = new Set<string>();
  for (const r of records) {
    if (r.type === RRType.SOA) {
      if (r.owner !== zoneKey) throw new ZoneSyntaxError(r.line, 'SOA is only allowed at the zone apex');
      if (++soaCount > 1) throw new ZoneSyntaxError(r.line, 'a second SOA record');
    }
    let entry = typesAt.get(r.owner);
    if (entry === undefined) typesAt.set(r.owner, (entry = { types: new Set(), line: r.line }));
    entry.types.add(r.type);
    if (entry.types.has(RRType.CNAME) && entry.types.size > 1) {
      throw new ZoneSyntaxError(r.line, 'a CNAME cannot share its name with other records');
    }
    if (r.type === RRType.CNAME) {
      if (cnames.has(r.owner)) throw new ZoneSyntaxError(r.line, 'a name can have only one CNAME');
      cnames.add(r.owner);
    }
  }
}
