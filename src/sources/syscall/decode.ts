/**
 * Decoding of bpftrace's `-f json` output into records (see script.ts for the protocol).
 *
 * Quirks handled here:
 * - bpftrace 0.17 escapes every byte >= 0x80 of a `%s` string as `\uffffffXX` (a sign-extended
 *   char), which is not what JSON means; those are turned back into the bytes they stand for
 *   and the string is decoded as UTF-8.
 * - `%r` buffers (argv) print non-printable bytes as `\xNN` but leave `\` itself alone, so a
 *   literal `\x41` in an argument cannot be told from an escaped byte; it is read as the byte.
 * - Lost events arrive as `{"type": "lost_events", "data": {"events": N}}`.
 */

export interface Rec {
  code: string;
  /** CLOCK_MONOTONIC ns as text (exact) and as a number (for ordering). */
  tsText: string;
  ts: number;
  pid: number;
  tid: number;
  /** Parent pid (real_parent's tgid) when the record was made. */
  ppid: number;
  /** The process's exec counter (kernel self_exec_id): which image the record belongs to. */
  xid: number;
  /** Fixed fields after the common ones, as text. */
  f: string[];
  /** The trailing free-form string, when the code has one. */
  s?: string;
  /** Arrival order, to keep the sort stable among equal timestamps. */
  seq: number;
  /** Strings of the record's P records, once taken (a record that waits keeps its own). */
  pend?: string[];
}

/** Number of fixed fields after `code ts pid tid ppid xid`, and whether a string follows. */
export const LAYOUT: Readonly<Record<string, [fixed: number, str: boolean]>> = {
  E: [25, false], A: [1, true], Y: [1, true], n: [22, false], N: [0, true], W: [0, true], G: [1, true], e: [2, true], F: [2, false], X: [0, false],
  o: [5, true], x: [1, false], r: [3, false], U: [4, true], R: [5, true], M: [4, true], H: [4, true], T: [3, true],
  m: [3, true], S: [3, true], L: [5, true], K: [4, true], D: [3, true], P: [1, true], s: [4, false], c: [21, false],
  b: [6, false], a: [19, false], l: [3, false], d: [5, false], u: [7, false], z: [1, false], g: [3, false], p: [5, false],
};

/** ts pid tid ppid xid */
const COMMON = 5;

export type Line =
  | { kind: 'rec'; rec: Rec }
  | { kind: 'self'; pid: number }
  | { kind: 'lost'; events: number }
  | { kind: 'attached'; probes: number }
  | { kind: 'other' }
  | { kind: 'bad'; why: string };

const HIGH_BYTE = /\\uffffff([0-9a-f]{2})/g;

/** Parse one line of bpftrace's JSON output. */
export function parseLine(line: string, seq: number): Line {
  let fixBytes = false;
  if (line.includes('\\uffffff')) {
    line = line.replace(HIGH_BYTE, '\\u00$1');
    fixBytes = true;
  }
  let obj: { type?: unknown; data?: unknown };
  try {
    obj = JSON.parse(line) as { type?: unknown; data?: unknown };
  } catch {
    return { kind: 'bad', why: 'not JSON' };
  }
  if (obj.type === 'printf' && typeof obj.data === 'string') {
    let data = obj.data;
    if (fixBytes) data = Buffer.from(data, 'latin1').toString('utf8');
    return parseRecord(data, seq);
  }
  if (obj.type === 'lost_events') {
    const n = (obj.data as { events?: unknown } | undefined)?.events;
    return { kind: 'lost', events: typeof n === 'number' ? n : 0 };
  }
  if (obj.type === 'attached_probes') {
    const n = (obj.data as { probes?: unknown } | undefined)?.probes;
    return { kind: 'attached', probes: typeof n === 'number' ? n : 0 };
  }
  return { kind: 'other' };
}

/** Parse the text of one printf record (trailing newline included or not). */
export function parseRecord(data: string, seq: number): Line {
  if (data.endsWith('\n')) data = data.slice(0, -1);
  const code = data[0] ?? '';
  if (code === 'I') return { kind: 'self', pid: Number(data.slice(2)) };
  const layout = LAYOUT[code];
  if (!layout || data[1] !== '\t') return { kind: 'bad', why: `unknown record '${data.slice(0, 20)}'` };
  const [fixed, hasStr] = layout;
  const want = COMMON + fixed;
  const f: string[] = [];
  let pos = 2;
  for (let i = 0; i < want; i++) {
    const tab = data.indexOf('\t', pos);
    if (tab < 0) {
      if (i === want - 1 && !hasStr) {
        f.push(data.slice(pos));
        pos = data.length + 1;
        break;
      }
      return { kind: 'bad', why: `record '${code}' has too few fields` };
    }
    f.push(data.slice(pos, tab));
    pos = tab + 1;
  }
  const tsText = f[0]!;
  const rec: Rec = {
    code, tsText, ts: Number(tsText), pid: Number(f[1]), tid: Number(f[2]), ppid: Number(f[3]), xid: Number(f[4]),
    f: f.slice(COMMON), seq,
  };
  if (hasStr) rec.s = pos <= data.length ? data.slice(pos) : '';
  return { kind: 'rec', rec };
}

/** Bytes of a `%r` buffer: `\xNN` escapes decoded, everything else as UTF-8 text. */
export function decodeBuf(s: string): Buffer {
  if (!s.includes('\\x')) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let last = 0;
  for (let i = s.indexOf('\\x'); i >= 0; i = s.indexOf('\\x', i)) {
    const hex = s.slice(i + 2, i + 4);
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      if (i > last) parts.push(Buffer.from(s.slice(last, i), 'utf8'));
      parts.push(Buffer.from([parseInt(hex, 16)]));
      i += 4;
      last = i;
    } else {
      i += 2;
    }
  }
  if (last < s.length) parts.push(Buffer.from(s.slice(last), 'utf8'));
  return Buffer.concat(parts);
}

/** NUL-separated strings (argv) from a buffer; a trailing NUL does not make an empty last one. */
export function splitNul(b: Buffer): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0) {
      out.push(b.toString('utf8', start, i));
      start = i + 1;
    }
  }
  if (start < b.length) out.push(b.toString('utf8', start));
  return out;
}

/** A 64-bit value printed with %llx / %x, as a bigint. */
export function hexBig(s: string | undefined): bigint {
  if (!s) return 0n;
  try {
    return BigInt('0x' + s);
  } catch {
    return 0n;
  }
}
