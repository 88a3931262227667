/**
 * Compile an expanded condition AST into a JavaScript predicate over one source's events.
 *
 * Conditions become trees of closures. Every field read goes through a memo slot shared by
 * all rules of a ruleset, so a field is extracted at most once per event however many rules
 * read it (the slot is valid while `ctx.gen` equals the generation stamped on it).
 *
 * This is the reference compiler. `codegen.ts` writes the and/or/not tree out as one generated
 * function per rule and inlines the commonest string checks, calling these closures for the
 * rest; `npm run bench` measures both on the upstream syscall ruleset, and generated code was
 * about 1.4x faster (docs/engine.md), so the engine uses it by default.
 */
import type { FieldTable, FieldType, ResolvedField } from '../fields/types.ts';
import { isFieldError } from '../fields/types.ts';
import type { CheckNode, FieldExpr, FieldRef, Node, TransformerExpr, ValueExpr } from './ast.ts';
import {
  type Category, ValueError, bytesEqual, bytesIndexOf, categoryOf, cmpNum, compileRegex, globToRegExp,
  hexToBytes, ipKey, netContains, operatorAllowed, parseBool, parseNet, parseNumber, pathMatcher, strToBytes,
  toBytes, toNumeric,
} from './values.ts';

/** Per-event evaluation state: memoised field values. One per ruleset, reused across events. */
export class EvalContext {
  vals: unknown[] = [];
  gens: Uint32Array = new Uint32Array(64);
  gen = 1;

  /** Start a new event: every memoised value becomes stale. */
  next(): void {
    this.gen = (this.gen + 1) >>> 0;
    if (this.gen === 0) { this.gens.fill(0); this.gen = 1; }
  }
}

export type Pred = (ev: unknown, ctx: EvalContext) => boolean;
export type Getter = (ev: unknown, ctx: EvalContext) => unknown;

export class CompileError extends Error {
  constructor(message: string, readonly node?: { pos: number; origin?: Node['origin'] }) {
    super(message);
  }
}

/** Memo slots shared by the rules of one ruleset (per source). */
export class SlotRegistry {
  private readonly byText = new Map<string, { slot: number; getter: Getter }>();
  private count = 0;

  getter(field: ResolvedField<unknown>): Getter {
    const hit = this.byText.get(field.text);
    if (hit) return hit.getter;
    const slot = this.count++;
    const extract = field.extract.bind(field);
    const getter: Getter = (ev, ctx) => {
      if (slot < ctx.gens.length && ctx.gens[slot] === ctx.gen) return ctx.vals[slot];
      const v = extract(ev);
      if (slot >= ctx.gens.length) {
        const g = new Uint32Array(Math.max(ctx.gens.length * 2, slot + 1));
        g.set(ctx.gens);
        ctx.gens = g;
      }
      ctx.vals[slot] = v;
      ctx.gens[slot] = ctx.gen;
      return v;
    };
    this.byText.set(field.text, { slot, getter });
    return getter;
  }

  get size(): number { return this.count; }
}

/** A compiled operand: how to get its value and what it is. */
interface Operand {
  get: Getter;
  type: FieldType;
  isList: boolean;
  matchAny: boolean;
  /** The plain field behind it, when there is one. */
  field?: ResolvedField<unknown>;
  text: string;
}

export interface CompileOptions {
  table: FieldTable<unknown>;
  slots: SlotRegistry;
}

export function compileNode(n: Node, opts: CompileOptions): Pred {
  switch (n.kind) {
    case 'and': {
      const parts = n.children.map((c) => compileNode(c, opts));
      if (parts.length === 2) {
        const [a, b] = parts as [Pred, Pred];
        return (ev, ctx) => a(ev, ctx) && b(ev, ctx);
      }
      return (ev, ctx) => {
        for (let i = 0; i < parts.length; i++) if (!parts[i]!(ev, ctx)) return false;
        return true;
      };
    }
    case 'or': {
      const parts = n.children.map((c) => compileNode(c, opts));
      if (parts.length === 2) {
        const [a, b] = parts as [Pred, Pred];
        return (ev, ctx) => a(ev, ctx) || b(ev, ctx);
      }
      return (ev, ctx) => {
        for (let i = 0; i < parts.length; i++) if (parts[i]!(ev, ctx)) return true;
        return false;
      };
    }
    case 'not': {
      const c = compileNode(n.child, opts);
      return (ev, ctx) => !c(ev, ctx);
    }
    case 'ident':
      throw new CompileError(`Undefined macro '${n.name}' used in filter.`, n);
    case 'check':
      try {
        return compileCheck(n, opts);
      } catch (e) {
        if (e instanceof CompileError) {
          // Keep the sub-node's position but the check's origin (macro or rule text).
          throw e.node ? new CompileError(e.message, { pos: e.node.pos, origin: e.node.origin ?? n.origin }) : new CompileError(e.message, n);
        }
        if (e instanceof ValueError) throw new CompileError(e.message, n);
        throw e;
      }
  }
}

export function resolveField(f: FieldRef, table: FieldTable<unknown>): ResolvedField<unknown> {
  const r = table.resolve(f.name, f.arg);
  if (isFieldError(r)) throw new CompileError(r.error, { pos: f.pos });
  return r;
}

export function compileOperand(f: FieldExpr, opts: CompileOptions): Operand {
  if (f.kind === 'field') {
    const rf = resolveField(f, opts.table);
    let get = opts.slots.getter(rf);
    if (isStringType(rf.type) && !rf.isList && !rf.matchAny) {
      // Events decoded from JSON may carry a number or a bool where a string is declared
      // (a recorded `evt.arg.mode: 0`): compare its text rather than fail.
      const raw = get;
      get = (ev, ctx) => {
        const v = raw(ev, ctx);
        return typeof v === 'string' || v === undefined ? v : v === null ? undefined : textOfValue(v);
      };
    }
    return { get, type: rf.type, isList: rf.isList, matchAny: !!rf.matchAny, field: rf, text: rf.text };
  }
  return compileTransformer(f, opts);
}

function textOfValue(v: unknown): string {
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function isStringType(t: FieldType): boolean {
  return t === 'string' || t === 'fspath' || t === 'fsrelpath';
}

function mapValue(v: unknown, isList: boolean, fn: (x: unknown) => unknown): unknown {
  if (v === undefined) return undefined;
  if (isList) {
    const arr = v as unknown[];
    const out: unknown[] = [];
    for (const x of arr) {
      const y = fn(x);
      if (y === undefined) return undefined;
      out.push(y);
    }
    return out;
  }
  return fn(v);
}

function compileTransformer(t: TransformerExpr, opts: CompileOptions): Operand {
  const name = t.name;
  if (t.arg !== undefined && name !== 'getopt') {
    throw new CompileError(`transformer '${name}' does not support field arguments`, { pos: t.pos });
  }
  if (name === 'tolower' || name === 'toupper' || name === 'b64' || name === 'basename' || name === 'len') {
    if (t.args.length !== 1) throw new CompileError(`transformer '${name}' takes exactly one argument`, { pos: t.pos });
    const a = t.args[0]!;
    if (a.kind !== 'field' && a.kind !== 'transformer') {
      throw new CompileError(`transformer '${name}' expects a field or a transformer as argument`, { pos: t.pos });
    }
    const inner = compileOperand(a, opts);
    const text = `${name}(${inner.text})`;
    const g = inner.get;
    const L = inner.isList;
    switch (name) {
      case 'tolower':
      case 'toupper': {
        if (!isStringType(inner.type)) throw new CompileError(`transformer '${name}' does not support field type '${inner.type}'`, { pos: t.pos });
        const up = name === 'toupper';
        const fn = (x: unknown) => (up ? asciiUpper(x as string) : asciiLower(x as string));
        return { ...inner, text, field: undefined, get: (ev, ctx) => mapValue(g(ev, ctx), L, fn) };
      }
      case 'b64': {
        if (!isStringType(inner.type) && inner.type !== 'bytebuf') throw new CompileError(`transformer 'b64' does not support field type '${inner.type}'`, { pos: t.pos });
        const asBytes = inner.type === 'bytebuf';
        const fn = (x: unknown) => {
          const s = typeof x === 'string' ? x : Buffer.from(x as Uint8Array).toString('latin1');
          const clean = s.replace(/=+$/, '');
          if (!/^[A-Za-z0-9+/]*$/.test(clean) || clean.length % 4 === 1) return undefined;
          const buf = Buffer.from(clean, 'base64');
          return asBytes ? Uint8Array.from(buf) : buf.toString('latin1');
        };
        return { ...inner, text, field: undefined, get: (ev, ctx) => mapValue(g(ev, ctx), L, fn) };
      }
      case 'basename': {
        if (!isStringType(inner.type)) throw new CompileError(`transformer 'basename' does not support field type '${inner.type}'`, { pos: t.pos });
        const fn = (x: unknown) => { const s = x as string; return s.slice(s.lastIndexOf('/') + 1); };
        return { ...inner, text, field: undefined, get: (ev, ctx) => mapValue(g(ev, ctx), L, fn) };
      }
      case 'len': {
        if (!L && !isStringType(inner.type) && inner.type !== 'bytebuf') {
          throw new CompileError(`transformer 'len' does not support field type '${inner.type}'`, { pos: t.pos });
        }
        const get: Getter = (ev, ctx) => {
          const v = g(ev, ctx);
          if (v === undefined) return undefined;
          if (L) return (v as unknown[]).length;
          if (typeof v === 'string') { const z = v.indexOf('\0'); return Buffer.byteLength(z >= 0 ? v.slice(0, z) : v); }
          return (v as Uint8Array).length;
        };
        return { get, type: 'uint64', isList: false, matchAny: inner.matchAny, text };
      }
    }
  }
  if (name === 'join' || name === 'concat') {
    return compileJoinConcat(t, opts);
  }
  if (name === 'getopt') {
    return compileGetopt(t, opts);
  }
  throw new CompileError(`unknown transformer '${name}'`, { pos: t.pos });
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}
function asciiUpper(s: string): string {
  return s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

/** Text form of any operand value, as join/concat see it. */
function valueText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('latin1');
  return String(v);
}

function compileTArgGetter(a: TransformerExpr['args'][number], opts: CompileOptions): { get: Getter; isList: boolean } {
  switch (a.kind) {
    case 'string': { const v = a.value; return { get: () => v, isList: false }; }
    case 'field':
    case 'transformer': { const o = compileOperand(a, opts); return { get: o.get, isList: o.isList }; }
    case 'tlist': {
      const items = a.items.map((x) => compileTArgGetter(x, opts));
      return {
        isList: true,
        get: (ev, ctx) => {
          const out: unknown[] = [];
          for (const it of items) {
            const v = it.get(ev, ctx);
            if (v === undefined) return undefined;
            if (it.isList) out.push(...(v as unknown[])); else out.push(v);
          }
          return out;
        },
      };
    }
  }
}

function compileJoinConcat(t: TransformerExpr, opts: CompileOptions): Operand {
  const text = `${t.name}(...)`;
  if (t.name === 'join') {
    if (t.args.length !== 2 || t.args[0]!.kind !== 'string' || t.args[1]!.kind !== 'tlist') {
      throw new CompileError(`transformer 'join' expects a separator string and a list: join(sep, (a, b, ...))`, { pos: t.pos });
    }
    const sep = (t.args[0] as { value: string }).value;
    const list = compileTArgGetter(t.args[1]!, opts);
    return {
      type: 'string', isList: false, matchAny: false, text,
      get: (ev, ctx) => {
        const v = list.get(ev, ctx) as unknown[] | undefined;
        return v === undefined ? undefined : v.map(valueText).join(sep);
      },
    };
  }
  if (t.args.length < 2) throw new CompileError(`transformer 'concat' needs at least two arguments`, { pos: t.pos });
  const parts = t.args.map((a) => compileTArgGetter(a, opts));
  if (parts.some((p) => p.isList)) throw new CompileError(`transformer 'concat' does not accept list arguments`, { pos: t.pos });
  return {
    type: 'string', isList: false, matchAny: false, text,
    get: (ev, ctx) => {
      let out = '';
      for (const p of parts) {
        const v = p.get(ev, ctx);
        if (v === undefined) return undefined;
        out += p.isList ? (v as unknown[]).map(valueText).join('') : valueText(v);
      }
      return out;
    },
  };
}

function compileGetopt(t: TransformerExpr, opts: CompileOptions): Operand {
  if (t.args.length !== 2 || t.args[1]!.kind !== 'string') {
    throw new CompileError(`transformer 'getopt' expects a list field and an option string`, { pos: t.pos });
  }
  const src = compileTArgGetter(t.args[0]!, opts);
  const optstring = (t.args[1] as { value: string }).value;
  const want = t.arg;
  const takesArg = new Set<string>();
  for (let i = 0; i < optstring.length; i++) if (optstring[i + 1] === ':') takesArg.add(optstring[i]!);
  return {
    type: 'string', isList: want === undefined, matchAny: false, text: `getopt(...)`,
    get: (ev, ctx) => {
      const v = src.get(ev, ctx);
      if (v === undefined) return undefined;
      const args = (src.isList ? (v as unknown[]) : String(v).split(' ')).map(valueText);
      const found = new Map<string, string>();
      for (let i = 0; i < args.length; i++) {
        const a = args[i]!;
        if (a === '--') break;
        // POSIX getopt: the first operand that is not an option ends the scan.
        if (!a.startsWith('-') || a === '-') break;
        for (let j = 1; j < a.length; j++) {
          const o = a[j]!;
          if (!optstring.includes(o)) break;
          if (takesArg.has(o)) {
            const val = j + 1 < a.length ? a.slice(j + 1) : args[++i] ?? '';
            found.set(o, val);
            break;
          }
          found.set(o, '');
        }
      }
      if (want === undefined) return [...found.keys()];
      return found.get(want);
    },
  };
}

// ---------------------------------------------------------------------------------------
// Checks

type Test = (v: unknown) => boolean;

function compileCheck(n: CheckNode, opts: CompileOptions): Pred {
  const lhs = compileOperand(n.lhs, opts);
  const op = n.op;
  const cat = categoryOf(lhs.type);
  const listLike = lhs.isList && !lhs.matchAny;

  const notAllowed = operatorAllowed(cat, listLike, op);
  if (notAllowed) throw new CompileError(notAllowed, n);

  const get = lhs.get;
  if (op === 'exists') return (ev, ctx) => get(ev, ctx) !== undefined;

  const rhs = n.rhs!;
  // Field-to-field and transformer right-hand sides.
  if (rhs.kind === 'val' || rhs.kind === 'transformer') {
    return compileFieldRhs(n, lhs, rhs, opts);
  }

  if (n.modifier) return compileModifier(n, lhs, cat, opts);

  const isSetOp = op === 'in' || op === 'intersects' || op === 'pmatch';
  if (isSetOp) {
    const values = listValues(rhs);
    if (op === 'pmatch') {
      if (cat !== 'string') throw new CompileError(`'pmatch' operator not supported for ${cat} filters`, n);
      const pm = pathMatcher(values);
      return wrapScalar(get, lhs, (v) => pm.test(v as string));
    }
    const member = memberTest(values, lhs.type, cat);
    if (listLike) {
      if (op === 'in') {
        return (ev, ctx) => {
          const v = get(ev, ctx) as unknown[] | undefined;
          if (v === undefined) return false;
          for (let i = 0; i < v.length; i++) if (!member(v[i])) return false;
          return true;
        };
      }
      return (ev, ctx) => {
        const v = get(ev, ctx) as unknown[] | undefined;
        if (v === undefined) return false;
        for (let i = 0; i < v.length; i++) if (member(v[i])) return true;
        return false;
      };
    }
    return wrapScalar(get, lhs, member);
  }

  if (rhs.kind !== 'value') throw new CompileError(`operator '${op}' expects a single value, not a list`, n);
  const test = scalarTest(op, rhs.value, lhs.type, cat);
  return wrapScalar(get, lhs, test);
}

/** Apply a per-value test, honouring missing values and any-of fields. */
function wrapScalar(get: Getter, lhs: Operand, test: Test): Pred {
  if (lhs.matchAny) {
    return (ev, ctx) => {
      const v = get(ev, ctx);
      if (v === undefined) return false;
      const arr = v as unknown[];
      for (let i = 0; i < arr.length; i++) if (test(arr[i])) return true;
      return false;
    };
  }
  return (ev, ctx) => {
    const v = get(ev, ctx);
    return v !== undefined && test(v);
  };
}

function listValues(rhs: ValueExpr): string[] {
  switch (rhs.kind) {
    case 'list': return rhs.values.map((v) => v.value);
    case 'value': return [rhs.value];
    case 'listref': return [rhs.name];
    default: return [];
  }
}

function checkNul(s: string, cat: Category): void {
  if (cat !== 'bytebuf' && s.includes('\0')) throw new ValueError('filter value cannot contain a NUL byte');
}

/** Membership test for `in` / `intersects` with constants parsed to the field's type. */
function memberTest(values: string[], type: FieldType, cat: Category): Test {
  for (const v of values) checkNul(v, cat);
  switch (cat) {
    case 'string': {
      const set = new Set(values);
      return (v) => set.has(v as string);
    }
    case 'numeric': {
      const nums = values.map((v) => parseNumber(v, type));
      const set = new Set(nums.map((x) => String(x)));
      return (v) => { const n = toNumeric(v); return n !== undefined && set.has(String(n)); };
    }
    case 'bool': {
      const set = new Set(values.map(parseBool));
      return (v) => set.has(toBool(v));
    }
    case 'bytebuf': {
      const bufs = values.map(strToBytes);
      return (v) => { const b = toBytes(v); return b !== undefined && bufs.some((x) => bytesEqual(b, x)); };
    }
    case 'ip': {
      const keys = new Set(values.map((v) => { const k = ipKey(v); if (!k) throw new ValueError(`${v} is not a valid IP address`); return k; }));
      return (v) => { const k = ipKey(String(v)); return k !== undefined && keys.has(k); };
    }
    case 'net': {
      const nets = values.map((v) => { const n = parseNet(v); if (!n) throw new ValueError(`${v} is not a valid network`); return n; });
      return (v) => { const k = ipKey(String(v)); return k !== undefined && nets.some((n) => netContains(n, k)); };
    }
  }
}

function toBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  return v === 'true' || v === '1';
}

/** A test for one scalar operator against one constant. */
export function scalarTest(op: string, raw: string, type: FieldType, cat: Category): Test {
  checkNul(raw, cat);
  switch (cat) {
    case 'string': return stringTest(op, raw);
    case 'numeric': {
      const r = parseNumber(raw, type);
      switch (op) {
        case '=': case '==': return (v) => { const n = toNumeric(v); return n !== undefined && cmpNum(n, r) === 0; };
        case '!=': return (v) => { const n = toNumeric(v); return n !== undefined && cmpNum(n, r) !== 0; };
        case '<': return (v) => { const n = toNumeric(v); return n !== undefined && cmpNum(n, r) < 0; };
        case '<=': return (v) => { const n = toNumeric(v); return n !== undefined && cmpNum(n, r) <= 0; };
        case '>': return (v) => { const n = toNumeric(v); return n !== undefined && cmpNum(n, r) > 0; };
        case '>=': return (v) => { const n = toNumeric(v); return n !== undefined && cmpNum(n, r) >= 0; };
      }
      break;
    }
    case 'bool': {
      const b = parseBool(raw);
      if (op === '!=') return (v) => toBool(v) !== b;
      return (v) => toBool(v) === b;
    }
    case 'bytebuf': {
      if (op === 'bcontains' || op === 'bstartswith') {
        const needle = hexToBytes(raw);
        if (op === 'bcontains') return (v) => { const b = toBytes(v); return b !== undefined && bytesIndexOf(b, needle) >= 0; };
        return (v) => { const b = toBytes(v); return b !== undefined && b.length >= needle.length && bytesEqual(b.subarray(0, needle.length), needle); };
      }
      const r = strToBytes(raw);
      switch (op) {
        case '=': case '==': return (v) => { const b = toBytes(v); return b !== undefined && bytesEqual(b, r); };
        case '!=': return (v) => { const b = toBytes(v); return b !== undefined && !bytesEqual(b, r); };
        case 'contains': return (v) => { const b = toBytes(v); return b !== undefined && bytesIndexOf(b, r) >= 0; };
        case 'startswith': return (v) => { const b = toBytes(v); return b !== undefined && b.length >= r.length && bytesEqual(b.subarray(0, r.length), r); };
        case 'endswith': return (v) => { const b = toBytes(v); return b !== undefined && b.length >= r.length && bytesEqual(b.subarray(b.length - r.length), r); };
      }
      break;
    }
    case 'ip': {
      const k = ipKey(raw);
      if (!k) throw new ValueError(`${raw} is not a valid IP address`);
      if (op === '!=') return (v) => ipKey(String(v)) !== k;
      return (v) => ipKey(String(v)) === k;
    }
    case 'net': {
      const net = parseNet(raw);
      if (!net) throw new ValueError(`${raw} is not a valid network`);
      if (op === '!=') return (v) => { const k = ipKey(String(v)); return k !== undefined && !netContains(net, k); };
      return (v) => { const k = ipKey(String(v)); return k !== undefined && netContains(net, k); };
    }
  }
  throw new ValueError(`'${op}' operator not supported for ${cat} filters`);
}

function stringTest(op: string, r: string): Test {
  switch (op) {
    case '=': case '==': return (v) => v === r;
    case '!=': return (v) => v !== r;
    case '<': return (v) => (v as string) < r;
    case '<=': return (v) => (v as string) <= r;
    case '>': return (v) => (v as string) > r;
    case '>=': return (v) => (v as string) >= r;
    case 'contains': return (v) => (v as string).includes(r);
    case 'icontains': { const lr = r.toLowerCase(); return (v) => (v as string).toLowerCase().includes(lr); }
    case 'startswith': return (v) => (v as string).startsWith(r);
    case 'endswith': return (v) => (v as string).endsWith(r);
    case 'glob': { const re = globToRegExp(r); return (v) => re.test(v as string); }
    case 'iglob': { const re = globToRegExp(r, true); return (v) => re.test(v as string); }
    case 'regex': { const re = compileRegex(r); return (v) => re.test(v as string); }
  }
  throw new ValueError(`'${op}' operator not supported for string filters`);
}

function compileModifier(n: CheckNode, lhs: Operand, cat: Category, _opts: CompileOptions): Pred {
  const op = n.op;
  if ((cat === 'ip' || cat === 'net') && op !== '=' && op !== '==' && op !== '!=') {
    throw new CompileError(`'${op} ${n.modifier}' operator not supported for ${cat} filters`, n);
  }
  const values = listValues(n.rhs!);
  const tests = values.map((v) => scalarTest(op, v, lhs.type, cat));
  const mod = n.modifier!;
  const agg: Test = (v) => {
    if (tests.length === 0) return false;
    let hits = 0;
    for (const t of tests) {
      if (t(v)) {
        hits++;
        if (mod === 'anyof') return true;
        if (mod === 'oneof' && hits > 1) return false;
      } else if (mod === 'allof') return false;
    }
    return mod === 'allof' ? true : mod === 'oneof' ? hits === 1 : hits > 0;
  };
  return wrapScalar(lhs.get, lhs, agg);
}

function compileFieldRhs(n: CheckNode, lhs: Operand, rhs: ValueExpr, opts: CompileOptions): Pred {
  const op = n.op;
  let r: Operand;
  if (rhs.kind === 'val') {
    if (rhs.arg !== undefined) throw new CompileError(`transformer 'val' does not support field arguments`, n);
    r = compileOperand(rhs.field, opts);
    if (r.field?.info.noRhs || lhs.field?.info.noRhs) {
      const which = r.field?.info.noRhs ? r.text : lhs.text;
      throw new CompileError(`field '${which}' doesn't support right-hand side fields`, n);
    }
  } else {
    r = compileOperand(rhs as TransformerExpr, opts);
  }
  if (op === 'pmatch' || op === 'regex') throw new CompileError(`operator '${op}' does not support right-hand side fields`, n);
  if (categoryOf(lhs.type) === 'net') throw new CompileError(`ip network fields do not support right-hand side fields`, n);
  if (r.type !== lhs.type || r.isList !== lhs.isList) {
    throw new CompileError(
      `field '${lhs.text}' has type '${lhs.type}${lhs.isList ? ' (list)' : ''}' while the right-hand side field '${r.text}' has incompatible type '${r.type}${r.isList ? ' (list)' : ''}'`, n);
  }
  const cat = categoryOf(lhs.type);
  const lget = lhs.get;
  const rget = r.get;
  const cmp = dynamicCompare(op, cat);
  return (ev, ctx) => {
    const a = lget(ev, ctx);
    if (a === undefined) return false;
    const b = rget(ev, ctx);
    if (b === undefined) return false;
    if (op === 'in' || op === 'intersects') {
      const set = Array.isArray(b) ? b : [b];
      const as = Array.isArray(a) ? a : [a];
      if (op === 'in') return as.every((x) => set.some((y) => cmp(x, y)));
      return as.some((x) => set.some((y) => cmp(x, y)));
    }
    if (lhs.matchAny && Array.isArray(a)) return a.some((x) => cmp(x, b));
    return cmp(a, b);
  };
}

/** Compare two event values of the same category (field-to-field comparisons). */
function dynamicCompare(op: string, cat: Category): (a: unknown, b: unknown) => boolean {
  const base = op === 'in' || op === 'intersects' ? '=' : op;
  return (a, b) => {
    switch (cat) {
      case 'numeric': {
        const x = toNumeric(a), y = toNumeric(b);
        if (x === undefined || y === undefined) return false;
        const c = cmpNum(x, y);
        return base === '=' || base === '==' ? c === 0 : base === '!=' ? c !== 0 : base === '<' ? c < 0 : base === '<=' ? c <= 0 : base === '>' ? c > 0 : c >= 0;
      }
      case 'string': return stringTest(base, String(b))(a);
      case 'bool': return base === '!=' ? toBool(a) !== toBool(b) : toBool(a) === toBool(b);
      case 'ip': { const e = ipKey(String(a)) === ipKey(String(b)); return base === '!=' ? !e : e; }
      case 'bytebuf': {
        const x = toBytes(a)!, y = toBytes(b)!;
        if (base === 'contains') return bytesIndexOf(x, y) >= 0;
        if (base === 'startswith') return x.length >= y.length && bytesEqual(x.subarray(0, y.length), y);
        const e = bytesEqual(x, y);
        return base === '!=' ? !e : e;
      }
      default: return false;
    }
  };
}
