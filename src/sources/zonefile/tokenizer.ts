/**
 * RFC 1035 §5.1 master-file lexing: entries are lines, except that
 * parentheses continue an entry over line ends; ';' starts a comment outside
 * quotes; a line starting with white space reuses the previous owner.
 */

export interface Token {
  readonly text: string;
  readonly quoted: boolean;
  readonly line: number;
}

export interface Entry {
  readonly line: number;
  readonly blankOwner: boolean;
  readonly tokens: Token[];
}

export class ZoneSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

export function tokenize(text: string): Entry[] {
  const entries: Entry[] = [];
  let line = 1;
  let depth = 0;
  let parenLine = 0;
  let current: Entry | null = null;
  let i = 0;
  let atLineStart = true;
  const n = text.length;

  const push = (token: Token, startsWithBlank: boolean): void => {
    if (current === null) {
      current = { line: token.line, blankOwner: startsWithBlank, tokens: [] };
      entries.push(current);
    }
    current.tokens.push(token);
  };

  let lineStartedBlank = false;
  while (i < n) {
    const ch = text[i]!;
    if (atLineStart) {
      lineStartedBlank = ch === ' ' || ch === '\t';
      atLineStart = false;
    }
    if (ch === '\n') {
      line++;
      i++;
      atLineStart = true;
      if (depth === 0) current = null;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      i++;
      continue;
    }
    if (ch === ';') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (ch === '(') {
      if (depth === 0) parenLine = line;
      depth++;
      i++;
      continue;
    }
    if (ch === ')') {
      if (depth === 0) throw new ZoneSyntaxError(line, 'unbalanced ")"');
      depth--;
      i++;
      continue;
    }
    const startedBlank = current === null ? lineStartedBlank : false;
    if (ch === '"') {
      const startLine = line;
      let value = '';
      i++;
      for (;;) {
        if (i >= n) throw new ZoneSyntaxError(startLine, 'unterminated quoted string');
        const c = text[i]!;
        if (c === '"') {
          i++;
          break;
        }
        if (c === '\\' && i + 1 < n) {
          value += c + text[i + 1]!;
          i += 2;
          continue;
        }
        if (c === '\n') line++;
        value += c;
        i++;
      }
      push({ text: value, quoted: true, line: startLine }, startedBlank);
      continue;
    }
    let value = '';
    while (i < n) {
      const c = text[i]!;
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === ';' || c === '(' || c === ')' || c === '"') break;
      if (c === '\\' && i + 1 < n) {
        value += c + text[i + 1]!;
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    push({ text: value, quoted: false, line }, startedBlank);
  }
  if (depth > 0) throw new ZoneSyntaxError(parenLine, 'unbalanced "(": no closing ")"');
  return entries;
}

/** Decodes \X and \DDD escapes of a character-string into bytes. */
export function unescapeString(text: string, line: number): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) {
      const digits = text.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(digits)) {
        const v = Number(digits);
        if (v > 255) throw new ZoneSyntaxError(line, `escape \\${digits} is out of range`);
        out.push(v);
        i += 3;
      } else if (i + 1 < text.length) {
        out.push(text.charCodeAt(i + 1) & 0xff);
        i++;
      }
      continue;
    }
    if (c > 0x7f) {
      for (const b of Buffer.from(text[i]!, 'utf8')) out.push(b);
      continue;
    }
    out.push(c);
  }
  return Buffer.from(out);
}
