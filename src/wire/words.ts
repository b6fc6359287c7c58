/**
 * 16-bit big-endian words at positions the caller has already checked. Buffer's readUInt16BE and writeUInt16BE
 * check the range again, a call with its own checks for each of a message's dozen words on the answer path;
 * these compile to two byte accesses.
 */
export function readWord(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

export function writeWord(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >> 8;
  bytes[at + 1] = value;
}
