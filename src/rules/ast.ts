/**
 * AST of the Falco condition language. Every node carries `pos`, the offset of its first
 * character in the text that was parsed, and `origin`, which says what text that was (a
 * rule's condition, a macro's, an exception...) so that diagnostics on expanded macros still
 * point at the macro.
 */

export interface Origin {
  /** What the parsed text belongs to, e.g. `rule 'Terminal shell in container'`. */
  item?: { kind: 'rule' | 'macro' | 'list' | 'search'; name: string };
  /** `condition`, `output`, `exceptions`, ... */
  part?: string;
  /** Map an offset in the parsed text to a file position; set by the loader. */
  locate?(offset: number): { file: string; line: number; col: number; lineText: string } | undefined;
}

export type Node = AndNode | OrNode | NotNode | IdentNode | CheckNode;

export interface AndNode { kind: 'and'; children: Node[]; pos: number; origin?: Origin }
export interface OrNode { kind: 'or'; children: Node[]; pos: number; origin?: Origin }
export interface NotNode { kind: 'not'; child: Node; pos: number; origin?: Origin }
/** A bare identifier: a macro reference. */
export interface IdentNode { kind: 'ident'; name: string; pos: number; origin?: Origin }

export interface CheckNode {
  kind: 'check';
  lhs: FieldExpr;
  /** Operator as written, canonical spelling (`=` and `==` stay distinct for printing). */
  op: string;
  /** `oneof` | `anyof` | `allof` (operator modifiers). */
  modifier?: 'oneof' | 'anyof' | 'allof';
  /** Absent only for `exists`. */
  rhs?: ValueExpr;
  pos: number;
  origin?: Origin;
}

/** A field read: `proc.name`, `proc.aname[2]`, `evt.arg["a b"]`. */
export interface FieldRef {
  kind: 'field';
  name: string;
  /** Bracket argument; `''` for `[""]`, undefined when none. */
  arg?: string;
  /** The argument was quoted in the source (for printing). */
  argQuoted?: boolean;
  pos: number;
}

/** `tolower(x)`, `join(',', (a, b))`, `getopt(proc.args, "t:")[t]`. */
export interface TransformerExpr {
  kind: 'transformer';
  name: string;
  args: TransformerArg[];
  /** Field argument after the closing parenthesis (only getopt accepts one). */
  arg?: string;
  argQuoted?: boolean;
  pos: number;
}

export type TransformerArg =
  | FieldRef
  | TransformerExpr
  | { kind: 'string'; value: string; quoted: boolean; pos: number }
  | { kind: 'tlist'; items: TransformerArg[]; pos: number };

export type FieldExpr = FieldRef | TransformerExpr;

export type ValueExpr =
  /** A constant: bare word, quoted string or number (as written, unescaped). */
  | { kind: 'value'; value: string; quoted: boolean; pos: number }
  /** `(a, b, "c d")`. */
  | { kind: 'list'; values: { value: string; quoted: boolean; pos: number }[]; pos: number }
  /** A list name used without parentheses (`x in my_list` when no list substitution applied). */
  | { kind: 'listref'; name: string; pos: number }
  /** `val(field)`. */
  | { kind: 'val'; field: FieldRef; arg?: string; pos: number }
  /** A right-hand transformer. */
  | TransformerExpr;

export const TRANSFORMERS = ['tolower', 'toupper', 'b64', 'basename', 'len', 'join', 'concat', 'getopt'] as const;

export const LIST_OPS = new Set(['in', 'intersects', 'pmatch']);
export const NUM_OPS = new Set(['<', '<=', '>', '>=']);
export const STR_OPS = new Set([
  '==', '=', '!=', 'glob', 'iglob', 'contains', 'icontains', 'bcontains',
  'startswith', 'bstartswith', 'endswith', 'regex',
]);
/** Operators that may take `oneof` / `anyof` / `allof`. */
export const MODIFIABLE_OPS = new Set(['==', '=', '!=', 'contains', 'icontains', 'startswith', 'endswith', 'glob', 'iglob', 'regex']);

// ---------------------------------------------------------------------------------------
// Printing, as libs' as_string does: and/or in parentheses, single checks bare.

const NEEDS_QUOTE = /[\s=\\"'\x00-\x1f\x7f]/;

export function quoteValue(v: string): string {
  if (v !== '' && !NEEDS_QUOTE.test(v)) return v;
  let out = '"';
  for (const ch of v) {
    switch (ch) {
      case '"': out += '\\"'; break;
      case '\\': out += '\\\\'; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      case '\t': out += '\\t'; break;
      case '\b': out += '\\b'; break;
      case '\f': out += '\\f'; break;
      default: {
        const c = ch.charCodeAt(0);
        out += c < 0x20 || c === 0x7f ? '\\x' + c.toString(16).padStart(2, '0') : ch;
      }
    }
  }
  return out + '"';
}

function printArg(arg: string | undefined, quoted?: boolean): string {
  if (arg === undefined) return '';
  if (quoted && (arg === '' || /[\s\]\["']/.test(arg))) return '[' + quoteValue(arg).replace(/^'|'$/g, '"') + ']';
  if (arg === '') return '[""]';
  return '[' + arg + ']';
}

export function printField(f: FieldExpr): string {
  if (f.kind === 'field') return f.name + printArg(f.arg, f.argQuoted);
  return f.name + '(' + f.args.map(printTArg).join(',') + ')' + printArg(f.arg, f.argQuoted);
}

function printTArg(a: TransformerArg): string {
  switch (a.kind) {
    case 'field':
    case 'transformer':
      return printField(a);
    case 'string':
      return quoteValue(a.value);
    case 'tlist':
      return '(' + a.items.map(printTArg).join(', ') + ')';
  }
}

export function printValue(v: ValueExpr): string {
  switch (v.kind) {
    case 'value': return quoteValue(v.value);
    case 'list': return '(' + v.values.map((x) => quoteValue(x.value)).join(', ') + ')';
    case 'listref': return v.name;
    case 'val': return 'val(' + printField(v.field) + ')' + printArg(v.arg);
    case 'transformer': return printField(v);
  }
}

export function printNode(n: Node): string {
  switch (n.kind) {
    case 'and': return '(' + n.children.map(printNode).join(' and ') + ')';
    case 'or': return '(' + n.children.map(printNode).join(' or ') + ')';
    case 'not': return 'not ' + printNode(n.child);
    case 'ident': return n.name;
    case 'check': {
      const lhs = printField(n.lhs);
      if (n.op === 'exists') return lhs + ' exists';
      const op = n.modifier ? n.op + ' ' + n.modifier : n.op;
      return lhs + ' ' + op + ' ' + printValue(n.rhs!);
    }
  }
}

/** Deep copy (macro expansion inserts a fresh copy of the macro's AST at each use). */
export function cloneNode(n: Node): Node {
  // Origins hold functions (Origin.locate), which structuredClone cannot copy: copy the
  // data, then re-attach the origins.
  const clone = JSON.parse(JSON.stringify(n, (k, v) => (k === 'origin' ? undefined : v))) as Node;
  reattach(n, clone);
  return clone;
}

function reattach(src: Node, dst: Node): void {
  dst.origin = src.origin;
  if (src.kind === 'and' || src.kind === 'or') {
    (src.children).forEach((c, i) => reattach(c, (dst as AndNode).children[i]!));
  } else if (src.kind === 'not') {
    reattach(src.child, (dst as NotNode).child);
  }
}

/** Visit every node depth-first. */
export function walk(n: Node, fn: (n: Node) => void): void {
  fn(n);
  if (n.kind === 'and' || n.kind === 'or') for (const c of n.children) walk(c, fn);
  else if (n.kind === 'not') walk(n.child, fn);
}
