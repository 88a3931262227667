/**
 * Typed comparisons of the condition language: value parsing per field type, globbing, path
 * prefixes, IP addresses and networks. Everything here is decided once at compile time and
 * returns small closures; nothing parses per event except where the event's own value must
 * be read (an IP address field, for instance).
 */
import type { FieldType } from '../fields/types.ts';

export type Category = 'numeric' | 'bool' | 'string' | 'bytebuf' | 'ip' | 'net';

export function categoryOf(t: FieldType): Category {
  switch (t) {
    case 'string': case 'fspath': case 'fsrelpath': return 'string';
    case 'bool': return 'bool';
    case 'bytebuf': return 'bytebuf';
    case 'ipaddr': case 'ipv4addr': case 'ipv6addr': return 'ip';
    case 'ipnet': case 'ipv4net': case 'ipv6net': return 'net';
    default: return 'numeric';
  }
}

/** Which operators each category accepts (libs' compatibility matrix). */
const ALLOWED: Record<Category, Set<string>> = {
  numeric: new Set(['=', '==', '!=', '<', '<=', '>', '>=', 'in', 'intersects', 'exists']),
  bool: new Set(['=', '==', '!=', 'in', 'intersects', 'exists']),
  string: new Set(['=', '==', '!=', '<', '<=', '>', '>=', 'contains', 'icontains', 'startswith', 'endswith',
    'glob', 'iglob', 'regex', 'in', 'intersects', 'pmatch', 'exists']),
  bytebuf: new Set(['=', '==', '!=', 'contains', 'startswith', 'endswith', 'bcontains', 'bstartswith', 'in', 'intersects', 'exists']),
  ip: new Set(['=', '==', '!=', 'in', 'intersects', 'exists']),
  net: new Set(['=', '==', '!=', 'in', 'intersects', 'exists']),
};
const LIST_ALLOWED = new Set(['in', 'intersects', 'exists']);

export function operatorAllowed(cat: Category, isList: boolean, op: string): string | undefined {
  if (isList) return LIST_ALLOWED.has(op) ? undefined : `'${op}' operator not supported for list filters`;
  if (ALLOWED[cat].has(op)) return undefined;
  const name = cat === 'numeric' ? 'numeric' : cat === 'ip' ? 'ip address' : cat === 'net' ? 'ip network' : cat;
  return `'${op}' operator not supported for ${name} filters`;
}

export class ValueError extends Error {}

const INT_BITS: Partial<Record<FieldType, [number, boolean]>> = {
  int8: [8, true], int16: [16, true], int32: [32, true], int64: [64, true],
  uint8: [8, false], uint16: [16, false], uint32: [32, false], uint64: [64, false],
  abstime: [64, false], reltime: [64, false], port: [16, false], l4proto: [8, false],
  sockfamily: [8, false], mode: [32, false], flags8: [8, false], flags16: [16, false], flags32: [32, false],
  errno: [64, true], fd: [64, true], pid: [64, true], uid: [32, false], gid: [32, false],
  sigtype: [8, false], syscallid: [16, false], sigset: [32, false],
};

/** A small services table for port names (`fd.sport = http`), as getservbyname would answer. */
const SERVICES: Record<string, number> = {
  ftp: 21, ssh: 22, telnet: 23, smtp: 25, domain: 53, dns: 53, http: 80, www: 80, kerberos: 88, pop3: 110,
  sunrpc: 111, ntp: 123, imap: 143, snmp: 161, ldap: 389, https: 443, smtps: 465, syslog: 514, ldaps: 636,
  imaps: 993, pop3s: 995, mysql: 3306, postgresql: 5432, redis: 6379, 'http-alt': 8080,
};

/** Parse a constant for a numeric field, with sscanf-like strictness (decimal integers). */
export function parseNumber(text: string, type: FieldType): number | bigint {
  // Doubles are parsed like integers, as libs does: `thread.cpu = 1.0` does not compile.
  if (type === 'port' && /^[a-zA-Z][\w-]*$/.test(text)) {
    const p = SERVICES[text.toLowerCase()];
    if (p === undefined) throw new ValueError(`${text} is not a valid port name`);
    return p;
  }
  if (!/^[+-]?\d+$/.test(text)) throw new ValueError(`${text} is not a valid number`);
  let v = BigInt(text);
  const bits = INT_BITS[type];
  if (bits) {
    const [n, signed] = bits;
    const mod = 1n << BigInt(n);
    if (!signed && v < 0n) v = ((v % mod) + mod) % mod; // %u wraps negative input
    if (signed && n < 64) {
      // keep the value as written; the field itself is within range
    }
  }
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

export function cmpNum(a: number | bigint, b: number | bigint): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  const x = typeof a === 'bigint' ? a : BigInt(Math.trunc(a));
  const y = typeof b === 'bigint' ? b : BigInt(Math.trunc(b));
  return x < y ? -1 : x > y ? 1 : 0;
}

export function toNumeric(v: unknown): number | bigint | undefined {
  if (typeof v === 'number' || typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && /^[+-]?\d+$/.test(v)) {
    const b = BigInt(v);
    return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  }
  if (typeof v === 'string' && v.trim() !== '' && !isNaN(Number(v))) return Number(v);
  return undefined;
}

export function parseBool(text: string): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new ValueError(`unrecognized boolean value ${text}`);
}

export function hexToBytes(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new ValueError('bcontains and bstartswith operator support hex strings only');
  }
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

export function strToBytes(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'latin1'));
}

export function bytesIndexOf(hay: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function toBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return strToBytes(v);
  return undefined;
}

// ---- glob (fnmatch without FNM_PATHNAME) --------------------------------------------------

const globCache = new Map<string, RegExp>();

export function globToRegExp(pattern: string, caseInsensitive = false): RegExp {
  const key = (caseInsensitive ? 'i:' : 's:') + pattern;
  const hit = globCache.get(key);
  if (hit) return hit;
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '[') {
      const end = findClassEnd(pattern, i);
      if (end < 0) { re += '\\['; continue; }
      let body = pattern.slice(i + 1, end);
      let neg = false;
      if (body.startsWith('!') || body.startsWith('^')) { neg = true; body = body.slice(1); }
      body = body.replace(/\\/g, '\\\\').replace(/\]/g, '\\]').replace(/\[:(\w+):\]/g, (_m, n: string) => POSIX_CLASSES[n] ?? '');
      re += '[' + (neg ? '^' : '') + body + ']';
      i = end;
    } else re += escapeRe(c);
  }
  re += '$';
  const out = new RegExp(re, caseInsensitive ? 'i' : '');
  if (globCache.size < 10000) globCache.set(key, out);
  return out;
}

function findClassEnd(p: string, start: number): number {
  let j = start + 1;
  if (p[j] === '!' || p[j] === '^') j++;
  if (p[j] === ']') j++;
  for (; j < p.length; j++) {
    if (p[j] === '[' && p[j + 1] === ':') {
      const close = p.indexOf(':]', j + 2);
      if (close > 0) { j = close + 1; continue; }
    }
    if (p[j] === ']') return j;
  }
  return -1;
}

const POSIX_CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z', digit: '0-9', alnum: 'a-zA-Z0-9', upper: 'A-Z', lower: 'a-z', space: ' \\t\\n\\r\\f\\v',
  xdigit: '0-9a-fA-F', punct: '!-\\/:-@\\[-`{-~', word: '\\w', blank: ' \\t', cntrl: '\\x00-\\x1f\\x7f',
  print: ' -~', graph: '!-~',
};

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? '\\' + c : c;
}

// ---- regex (RE2, full match) ---------------------------------------------------------------

export function compileRegex(pattern: string): RegExp {
  // RE2 spellings that JavaScript writes differently.
  let p = pattern.replace(/\(\?P</g, '(?<').replace(/\\z/g, '$').replace(/\\A/g, '^');
  p = p.replace(/\[:(\w+):\]/g, (m, n: string) => POSIX_CLASSES[n] ?? m);
  try {
    return new RegExp('^(?:' + p + ')$');
  } catch (e) {
    throw new ValueError(`invalid regex pattern: ${(e as Error).message}`);
  }
}

/** Whether a regex has nothing a simpler operator could not do (libs' warning). */
export function regexIsTrivial(pattern: string): boolean {
  let p = pattern;
  if (p.startsWith('^')) p = p.slice(1);
  if (p.endsWith('$') && !p.endsWith('\\$')) p = p.slice(0, -1);
  for (const pre of ['.*', '.+', '.?']) if (p.startsWith(pre)) { p = p.slice(2); break; }
  for (const suf of ['.*', '.+', '.?']) if (p.endsWith(suf)) { p = p.slice(0, -2); break; }
  return !/[\\^$.|?*+()[\]{}]/.test(p);
}

// ---- pmatch -------------------------------------------------------------------------------

export interface PathMatcher { test(path: string): boolean }

export function pathMatcher(patterns: string[]): PathMatcher {
  const exact = new Set<string>();
  const globbed: RegExp[][] = [];
  for (const pat of patterns) {
    const comps = pat.split('/').filter((c) => c !== '');
    if (comps.some((c) => /[*?[]/.test(c))) globbed.push(comps.map((c) => globToRegExp(c)));
    else exact.add('/' + comps.join('/'));
  }
  return {
    test(path: string): boolean {
      const comps = path.split('/').filter((c) => c !== '');
      let prefix = '';
      if (exact.has('/')) return true;
      for (const c of comps) {
        prefix += '/' + c;
        if (exact.has(prefix)) return true;
      }
      for (const g of globbed) {
        if (g.length > comps.length) continue;
        let ok = true;
        for (let i = 0; i < g.length; i++) if (!g[i]!.test(comps[i]!)) { ok = false; break; }
        if (ok) return true;
      }
      return false;
    },
  };
}

// ---- IP addresses ---------------------------------------------------------------------------

/** Canonical key of an IP address: `4:<8 hex>` or `6:<32 hex>`; undefined when invalid. */
export function ipKey(text: string): string | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return '4:' + v4.toString(16).padStart(8, '0');
  const v6 = parseIPv6(text);
  if (v6 !== undefined) return '6:' + v6;
  return undefined;
}

function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return undefined;
    v = v * 256 + o;
  }
  return v;
}

/** IPv6 text to 32 hex digits. */
function parseIPv6(s: string): string | undefined {
  if (!s.includes(':')) return undefined;
  let text = s;
  let tail = '';
  const lastColon = text.lastIndexOf(':');
  const maybe4 = text.slice(lastColon + 1);
  if (maybe4.includes('.')) {
    const v4 = parseIPv4(maybe4);
    if (v4 === undefined) return undefined;
    const h = v4.toString(16).padStart(8, '0');
    tail = h.slice(0, 4) + ':' + h.slice(4);
    text = text.slice(0, lastColon + 1) + tail;
  }
  const parts = text.split('::');
  if (parts.length > 2) return undefined;
  const head = parts[0] ? parts[0].split(':') : [];
  const rest = parts.length === 2 && parts[1] ? parts[1].split(':') : [];
  const groups = parts.length === 2 ? 8 - head.length - rest.length : 0;
  if (parts.length === 1 && head.length !== 8) return undefined;
  if (groups < 0 || (parts.length === 2 && groups < 1)) return undefined;
  const all = [...head, ...Array(groups).fill('0'), ...rest];
  if (all.length !== 8) return undefined;
  let out = '';
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    out += g.toLowerCase().padStart(4, '0');
  }
  return out;
}

export interface Net { family: '4' | '6'; bits: string; prefix: number }

function keyBits(key: string): string {
  const hex = key.slice(2);
  let bits = '';
  for (const h of hex) bits += parseInt(h, 16).toString(2).padStart(4, '0');
  return bits;
}

export function parseNet(text: string): Net | undefined {
  const slash = text.lastIndexOf('/');
  if (slash < 0) {
    const k = ipKey(text);
    if (!k) return undefined;
    const fam = k[0] as '4' | '6';
    return { family: fam, bits: keyBits(k), prefix: fam === '4' ? 32 : 128 };
  }
  const k = ipKey(text.slice(0, slash));
  const p = text.slice(slash + 1);
  if (!k || !/^\d+$/.test(p)) return undefined;
  const fam = k[0] as '4' | '6';
  const prefix = Number(p);
  if (prefix > (fam === '4' ? 32 : 128)) return undefined;
  return { family: fam, bits: keyBits(k), prefix };
}

export function netContains(net: Net, addrKey: string): boolean {
  if (addrKey[0] !== net.family) return false;
  return keyBits(addrKey).slice(0, net.prefix) === net.bits.slice(0, net.prefix);
}
