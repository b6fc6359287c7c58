import { MAX_LABEL_LENGTH, MAX_NAME_WIRE_LENGTH } from './constants.js';

/**
 * Domain names in uncompressed wire form. The lookup key of a name is its
 * wire form lowercased and read as latin1: one string per query, no dots to
 * join, and label boundaries stay unambiguous.
 */

export class NameError extends Error {}

/** Splits a presentation-format name into raw labels, honouring \. and \DDD escapes. */
export function splitPresentationName(text: string): Buffer[] {
  if (text === '.' ) return [];
  const labels: Buffer[] = [];
  let current: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x2e /* . */) {
      if (current.length === 0) throw new NameError(`empty label in name "${text}"`);
      labels.push(Buffer.from(current));
      current = [];
      continue;
    }
    if (ch === 0x5c /* \ */) {
      const digits = text.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(digits)) {
        const value = Number(digits);
        if (value > 255) throw new NameError(`escape \\${digits} out of range in "${text}"`);
        current.push(value);
        i += 3;
      } else if (i + 1 < text.length) {
        current.push(text.charCodeAt(i + 1) & 0xff);
        i += 1;
      } else {
        throw new NameError(`dangling backslash in name "${text}"`);
      }
      continue;
    }
    if (ch > 0xff) throw new NameError(`non-ASCII character in name "${text}"`);
    current.push(ch);
  }
  if (current.length > 0) labels.push(Buffer.from(current));
  return labels;
}

export function labelsToWire(labels: readonly Buffer[]): Buffer {
  let size = 1;
  for (const label of labels) {
    if (label.length === 0) throw new NameError('empty label');
    if (label.length > MAX_LABEL_LENGTH) throw new NameError(`label "${label.toString('latin1')}" is longer than 63 octets`);
    size += label.length + 1;
  }
  if (size > MAX_NAME_WIRE_LENGTH) throw new NameError('name is longer than 255 octets');
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const label of labels) {
    out[o++] = label.length;
    label.copy(out, o);
    o += label.length;
  }
  out[o] = 0;
  return out;
}

/** Absolute presentation name ("web.default.linkerd.local" or with trailing dot) to wire. */
export function nameToWire(text: string): Buffer {
  return labelsToWire(splitPresentationName(text));
}

/** Lowercases ASCII letters of a wire name in place (length octets are < 64, never letters). */
export function lowercaseWireInPlace(buf: Buffer, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c >= 0x41 && c <= 0x5a) buf[i] = c | 0x20;
  }
}

export function wireKey(wire: Buffer): string {
  const copy = Buffer.from(wire);
  lowercaseWireInPlace(copy, 0, copy.length);
  return copy.toString('latin1');
}

export function keyOf(text: string): string {
  return wireKey(nameToWire(text));
}

/** Wire name (uncompressed) to presentation format with a trailing dot. */
export function wireToText(wire: Buffer, offset = 0): string {
  const parts: string[] = [];
  let o = offset;
  for (;;) {
    const len = wire[o]!;
    if (len === 0) break;
    let label = '';
    for (let i = o + 1; i <= o + len; i++) {
      const c = wire[i]!;
      if (c === 0x2e || c === 0x5c) label += '\\' + String.fromCharCode(c);
      else if (c < 0x21 || c > 0x7e) label += '\\' + String(c).padStart(3, '0');
      else label += String.fromCharCode(c);
    }
    parts.push(label);
    o += len + 1;
  }
  return parts.length === 0 ? '.' : parts.join('.') + '.';
}

export function keyToText(key: string): string {
  return wireToText(Buffer.from(key, 'latin1'));
}

/** Offsets where each label of a wire name starts (the last entry is the root octet). */
export function labelOffsets(key: string): number[] {
  const offsets: number[] = [];
  let o = 0;
  for (;;) {
    offsets.push(o);
    const len = key.charCodeAt(o);
    if (len === 0) return offsets;
    o += len + 1;
  }
}

/** Whether `key` equals `zoneKey` or lies below it, checking label boundaries. */
export function isAtOrBelow(key: string, zoneKey: string): boolean {
  if (key.length < zoneKey.length || !key.endsWith(zoneKey)) return false;
  const boundary = key.length - zoneKey.length;
  let o = 0;
  while (o < boundary) o += key.charCodeAt(o) + 1;
  return o === boundary;
}

/** Key of the parent name, or undefined for the root. */
export function parentKey(key: string): string | undefined {
  const len = key.charCodeAt(0);
  if (len === 0) return undefined;
  return key.slice(len + 1);
}

/** Prepends labels (presentation text, relative) to a wire key. */
export function childKey(labels: readonly string[], parent: string): string {
  const parts: string[] = [];
  let length = parent.length;
  for (const l of labels) {
    const lower = l.toLowerCase();
    if (lower.length === 0 || lower.length > MAX_LABEL_LENGTH) throw new NameError(`invalid label "${l}"`);
    parts.push(String.fromCharCode(lower.length), lower);
    length += lower.length + 1;
  }
  if (length > MAX_NAME_WIRE_LENGTH) throw new NameError('name is longer than 255 octets');
  parts.push(parent);
  // One flat string: `+` would make a tree of cons strings, every node kept as long as the key is (a key per
  // instance name, service and PTR target: 13 MB of them at 100,000 instances).
  return parts.join('');
}

/** Number of labels in a key. */
export function labelCount(key: string): number {
  return labelOffsets(key).length - 1;
}

/** Skips a possibly compressed name; returns the offset after it or -1 if malformed. */
export function skipWireName(msg: Buffer, start: number, end = msg.length): number {
  let o = start;
  let total = 0;
  for (;;) {
    if (o >= end) return -1;
    const len = msg[o]!;
    if (len === 0) return o + 1;
    if ((len & 0xc0) === 0xc0) {
      // A pointer ends the name here; where it points is irrelevant to skipping
      // but it must at least lie inside the message and point backwards.
      if (o + 1 >= end) return -1;
      const target = ((len & 0x3f) << 8) | msg[o + 1]!;
      if (target >= o) return -1;
      return o + 2;
    }
    if ((len & 0xc0) !== 0) return -1; // 0x40/0x80 label types are obsolete or reserved
    total += len + 1;
    if (total > MAX_NAME_WIRE_LENGTH) return -1;
    o += len + 1;
  }
}
