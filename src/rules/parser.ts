/**
 * Parser of the Falco condition language: a hand-written recursive descent over the raw
 * text (lexing is done on demand, because what a token is depends on where it stands: `not`
 * is a keyword before a blank and part of an identifier in `not_macro`).
 *
 * Grammar (precedence: not > and > or; and/or chains are n-ary):
 *
 *   Expr      := OrExpr
 *   OrExpr    := AndExpr ( 'or' (BLANK AndExpr | '(' Expr ')') )*
 *   AndExpr   := NotExpr ( 'and' (BLANK NotExpr | '(' Expr ')') )*
 *   NotExpr   := ('not' BLANK+ | 'not' &'(')* Check        -- consecutive nots cancel in pairs
 *   Check     := '(' Expr ')' | Field Cond | Transformer Cond | Identifier
 *   Cond      := 'exists'
 *              | NumOp (Number | RhsTransformer)
 *              | StrOp BLANK+ Modifier BLANK+ ListValue
 *              | StrOp (StrValue | RhsTransformer)
 *              | ListOp (ListValue | RhsTransformer)
 *   ListValue := '(' [StrValue (',' StrValue)*] ')' | Identifier
 *   StrValue  := QuotedStr | BareStr
 *   RhsTransformer := 'val(' Field ')' [FieldArg] | Transformer
 *   Transformer    := TName '(' TArg (',' TArg)* ')' [FieldArg]
 *   TArg      := Transformer | Field | QuotedStr | Number | '(' [TArg (',' TArg)*] ')'
 *   Field     := FieldName [FieldArg]
 *   FieldName := [a-zA-Z]+[a-zA-Z0-9_]* ('.' [a-zA-Z]+[a-zA-Z0-9_]*)+
 *   FieldArg  := '[' (QuotedStr | [^][\s"']+) ']'
 *   Identifier:= [a-zA-Z]+[a-zA-Z0-9_]*
 *   Number    := 0[xX][0-9a-fA-F]+ | [+-]?[0-9]+\.?[0-9]*([eE][+-][0-9]+)?
 *   BareStr   := [^()"'\s=,]+
 *   QuotedStr := '"' ... '"' | "'" ... "'"   -- escapes \b \f \n \r \t \\ \/ \xHH, \" or \'
 *   NumOp     := '<=' | '<' | '>=' | '>'
 *   StrOp     := '==' | '=' | '!=' | glob | iglob | contains | icontains | bcontains
 *              | startswith | bstartswith | endswith | regex      -- words need a blank after
 *   ListOp    := in | intersects | pmatch                          -- no blank needed
 *   Modifier  := oneof | anyof | allof
 *   TName     := tolower | toupper | b64 | basename | len | join | concat | getopt
 *   BLANK     := ' ' | '\t' | '\b' | '\r' | '\n'
 *
 * Only a parse of the whole input is accepted.
 */
import {
  type CheckNode, type FieldExpr, type FieldRef, type Node, type Origin, type TransformerArg,
  type TransformerExpr, type ValueExpr, TRANSFORMERS,
} from './ast.ts';

export class ParseError extends Error {
  constructor(message: string, readonly pos: number) {
    super(message);
  }
}

export interface ParseOptions {
  /** Nesting limit; libs' parser default is 100, Falco's rule loader uses 1000. */
  maxDepth?: number;
  origin?: Origin;
}

const BLANK = new Set([' ', '\t', '\b', '\r', '\n']);
const RE_FIELDNAME = /[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+/y;
const RE_IDENT = /[a-zA-Z]+[a-zA-Z0-9_]*/y;
const RE_NUMBER = /(?:0[xX][0-9a-fA-F]+|[+-]?[0-9]+\.?[0-9]*(?:[eE][+-][0-9]+)?)/y;
const RE_BARESTR = /[^()"'\s\b=,]+/y;
const RE_BAREARG = /[^\][\s\b"']+/y;
const TRANSFORMER_SET = new Set<string>(TRANSFORMERS);

/** Word operators need a blank after them; symbol operators do not. Longest first. */
const OPERATORS: { op: string; word: boolean }[] = [
  { op: '==', word: false }, { op: '=', word: false }, { op: '!=', word: false },
  { op: '<=', word: false }, { op: '<', word: false }, { op: '>=', word: false }, { op: '>', word: false },
  { op: 'bstartswith', word: true }, { op: 'startswith', word: true }, { op: 'endswith', word: true },
  { op: 'icontains', word: true }, { op: 'bcontains', word: true }, { op: 'contains', word: true },
  { op: 'iglob', word: true }, { op: 'glob', word: true }, { op: 'regex', word: true },
  { op: 'intersects', word: false }, { op: 'in', word: false }, { op: 'pmatch', word: false },
  { op: 'exists', word: false },
];
const NUM_OPS = new Set(['<=', '<', '>=', '>']);
const LIST_OPS = new Set(['in', 'intersects', 'pmatch']);
const MODIFIERS = ['oneof', 'anyof', 'allof'] as const;

export function parseCondition(text: string, opts: ParseOptions = {}): Node {
  return new Parser(text, opts).parseAll();
}

/** Unescape the body of a double-quoted string (exported for tests). */
export function unescapeDoubleQuoted(body: string): string {
  const p = new Parser('"' + body + '"', {});
  const v = p.quoted();
  if (p.pos !== body.length + 2) throw new ParseError('unterminated string', p.pos);
  return v;
}

class Parser {
  pos = 0;
  private depth = 0;
  private readonly maxDepth: number;
  private readonly origin?: Origin;
  /** Last token consumed, for "unexpected token after '<tok>'" messages. */
  private last = '';

  constructor(private readonly s: string, opts: ParseOptions) {
    this.maxDepth = opts.maxDepth ?? 100;
    this.origin = opts.origin;
  }

  parseAll(): Node {
    if (this.s.length === 0) throw new ParseError('filter input string is empty', 0);
    const n = this.expr();
    this.blanks();
    if (this.pos < this.s.length) {
      throw new ParseError(`unexpected token after '${this.last}', expecting 'or', 'and'`, this.pos);
    }
    return n;
  }

  // ---- lexing helpers ---------------------------------------------------------------

  private blanks(): boolean {
    const start = this.pos;
    while (this.pos < this.s.length && BLANK.has(this.s[this.pos]!)) this.pos++;
    return this.pos > start;
  }

  private isBlankAt(i: number): boolean {
    return i < this.s.length && BLANK.has(this.s[i]!);
  }

  private startsWith(tok: string, at = this.pos): boolean {
    return this.s.startsWith(tok, at);
  }

  private match(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    const m = re.exec(this.s);
    return m ? m[0] : undefined;
  }

  private fail(msg: string): never {
    throw new ParseError(msg, this.pos);
  }

  private enter(): void {
    if (++this.depth > this.maxDepth) this.fail(`exceeded max depth limit of ${this.maxDepth}`);
  }

  private leave(): void {
    this.depth--;
  }

  private node<T extends Node>(n: T): T {
    if (this.origin) n.origin = this.origin;
    return n;
  }

  /** Keyword `and`/`or` here, followed by a blank or `(` (which is not consumed). */
  private keyword(word: string): boolean {
    if (!this.startsWith(word)) return false;
    const after = this.pos + word.length;
    if (this.isBlankAt(after) || this.s[after] === '(') {
      this.pos = after;
      this.last = word;
      return true;
    }
    return false;
  }

  // ---- expressions ------------------------------------------------------------------

  private expr(): Node {
    this.enter();
    const start = this.pos;
    const children = [this.andExpr()];
    for (;;) {
      const save = this.pos;
      this.blanks();
      if (!this.keyword('or')) { this.pos = save; break; }
      children.push(this.andOperand());
    }
    this.leave();
    return children.length === 1 ? children[0]! : this.node({ kind: 'or', children, pos: start });
  }

  private andExpr(): Node {
    this.blanks();
    const start = this.pos;
    const children = [this.notExpr()];
    for (;;) {
      const save = this.pos;
      this.blanks();
      if (!this.keyword('and')) { this.pos = save; break; }
      children.push(this.notOperand());
    }
    return children.length === 1 ? children[0]! : this.node({ kind: 'and', children, pos: start });
  }

  /** After `or`: a blank then an and-expression, or a parenthesised expression. */
  private andOperand(): Node {
    if (this.s[this.pos] === '(') return this.andExprFrom();
    this.blanks();
    if (this.pos >= this.s.length) this.fail(`expected an expression after 'or'`);
    return this.andExpr();
  }

  private andExprFrom(): Node {
    return this.andExpr();
  }

  /** After `and`: a blank then a not-expression, or a parenthesised expression. */
  private notOperand(): Node {
    this.blanks();
    if (this.pos >= this.s.length) this.fail(`expected an expression after 'and'`);
    return this.notExpr();
  }

  private notExpr(): Node {
    this.blanks();
    const start = this.pos;
    let negations = 0;
    for (;;) {
      if (!this.startsWith('not')) break;
      const after = this.pos + 3;
      if (this.isBlankAt(after)) {
        this.pos = after;
        this.blanks();
        negations++;
        this.last = 'not';
      } else if (this.s[after] === '(') {
        this.pos = after;
        negations++;
        this.last = 'not';
        break;
      } else break;
    }
    if (negations > 0 && this.pos >= this.s.length) this.fail(`expected an expression after 'not'`);
    const inner = this.check();
    return negations % 2 === 1 ? this.node({ kind: 'not', child: inner, pos: start }) : inner;
  }

  private check(): Node {
    const start = this.pos;
    if (this.s[this.pos] === '(') {
      this.pos++;
      this.last = '(';
      const inner = this.expr();
      this.blanks();
      if (this.s[this.pos] !== ')') this.fail(`expected a ')' token`);
      this.pos++;
      this.last = ')';
      return inner;
    }
    // A transformer on the left-hand side.
    const word = this.match(RE_IDENT);
    if (word !== undefined && this.s[this.pos + word.length] === '(') {
      if (word === 'val') this.fail(`'val' can only be used on the right-hand side of a comparison`);
      if (!TRANSFORMER_SET.has(word)) this.fail(`unknown transformer '${word}'`);
      const lhs = this.transformer();
      return this.cond(lhs, start);
    }
    const fname = this.match(RE_FIELDNAME);
    if (fname !== undefined) {
      const lhs = this.field();
      return this.cond(lhs, start);
    }
    if (word !== undefined) {
      this.pos += word.length;
      this.last = word;
      return this.node({ kind: 'ident', name: word, pos: start });
    }
    if (this.pos >= this.s.length) this.fail('unexpected end of input, expecting a condition');
    this.fail(`expected a field, a macro name or '(' but found '${this.s.slice(this.pos, this.pos + 10)}'`);
  }

  /** A field or a transformer at pos (used by output templates and exception fields). */
  fieldExpr(): FieldExpr | undefined {
    const word = this.match(RE_IDENT);
    if (word !== undefined && this.s[this.pos + word.length] === '(' && TRANSFORMER_SET.has(word)) return this.transformer();
    if (this.match(RE_FIELDNAME) !== undefined) return this.field();
    return undefined;
  }

  private field(): FieldRef {
    const start = this.pos;
    const name = this.match(RE_FIELDNAME)!;
    this.pos += name.length;
    this.last = name;
    const f: FieldRef = { kind: 'field', name, pos: start };
    if (this.s[this.pos] === '[') {
      const { arg, quoted } = this.fieldArg();
      f.arg = arg;
      if (quoted) f.argQuoted = true;
      this.last = name + '[' + arg + ']';
    }
    return f;
  }

  private fieldArg(): { arg: string; quoted: boolean } {
    this.pos++; // [
    let arg: string;
    let quoted = false;
    const c = this.s[this.pos];
    if (c === '"' || c === "'") {
      arg = this.quoted();
      quoted = true;
    } else {
      const bare = this.match(RE_BAREARG);
      if (bare === undefined) this.fail('expected a valid field argument: a quoted string or a bare string');
      arg = bare;
      this.pos += bare.length;
    }
    if (this.s[this.pos] !== ']') this.fail(`expected a ']' token`);
    this.pos++;
    return { arg, quoted };
  }

  private transformer(): TransformerExpr {
    const start = this.pos;
    const name = this.match(RE_IDENT)!;
    this.pos += name.length + 1; // name(
    this.last = name + '(';
    this.enter();
    const args: TransformerArg[] = [];
    this.blanks();
    args.push(this.tArg());
    for (;;) {
      this.blanks();
      if (this.s[this.pos] === ',') {
        this.pos++;
        this.blanks();
        args.push(this.tArg());
        continue;
      }
      break;
    }
    if (this.s[this.pos] !== ')') this.fail(`expected a ')' token`);
    this.pos++;
    this.leave();
    const t: TransformerExpr = { kind: 'transformer', name, args, pos: start };
    if (this.s[this.pos] === '[') {
      const { arg, quoted } = this.fieldArg();
      t.arg = arg;
      if (quoted) t.argQuoted = true;
    }
    this.last = ')';
    return t;
  }

  private tArg(): TransformerArg {
    const start = this.pos;
    const c = this.s[this.pos];
    if (c === '"' || c === "'") return { kind: 'string', value: this.quoted(), quoted: true, pos: start };
    if (c === '(') {
      this.pos++;
      this.enter();
      const items: TransformerArg[] = [];
      this.blanks();
      if (this.s[this.pos] !== ')') {
        items.push(this.tArg());
        for (;;) {
          this.blanks();
          if (this.s[this.pos] !== ',') break;
          this.pos++;
          this.blanks();
          items.push(this.tArg());
        }
      }
      this.blanks();
      if (this.s[this.pos] !== ')') this.fail(`expected a ')' token`);
      this.pos++;
      this.leave();
      return { kind: 'tlist', items, pos: start };
    }
    const word = this.match(RE_IDENT);
    if (word !== undefined && this.s[this.pos + word.length] === '(') {
      if (!TRANSFORMER_SET.has(word)) this.fail(`unknown transformer '${word}'`);
      return this.transformer();
    }
    if (this.match(RE_FIELDNAME) !== undefined) return this.field();
    const num = this.match(RE_NUMBER);
    if (num !== undefined) {
      this.pos += num.length;
      return { kind: 'string', value: num, quoted: false, pos: start };
    }
    this.fail('expected a field, a transformer, a quoted string or a number as transformer argument');
  }

  private cond(lhs: FieldExpr, start: number): CheckNode {
    this.blanks();
    let op: string | undefined;
    for (const cand of OPERATORS) {
      if (!this.startsWith(cand.op)) continue;
      const after = this.pos + cand.op.length;
      if (cand.word && !this.isBlankAt(after)) continue;
      // `intersects` and `in` share a prefix; `in` must not eat an identifier like `inx`.
      if (cand.op === 'in' || cand.op === 'pmatch' || cand.op === 'intersects') {
        const next = this.s[after];
        if (next !== undefined && /[a-zA-Z0-9_.]/.test(next)) continue;
      }
      op = cand.op;
      this.pos = after;
      break;
    }
    if (op === undefined) this.fail(`expected an operator after '${this.last}'`);
    this.last = op;
    const node: CheckNode = this.node({ kind: 'check', lhs, op, pos: start });
    if (op === 'exists') return node;

    if (NUM_OPS.has(op)) {
      this.blanks();
      const rhs = this.rhsTransformer();
      if (rhs) { node.rhs = rhs; return node; }
      const vstart = this.pos;
      const num = this.match(RE_NUMBER);
      if (num === undefined) this.fail(`expected a number after '${op}'`);
      this.pos += num.length;
      this.last = num;
      node.rhs = { kind: 'value', value: num, quoted: false, pos: vstart };
      return node;
    }

    if (LIST_OPS.has(op)) {
      this.blanks();
      const rhs = this.rhsTransformer();
      if (rhs) { node.rhs = rhs; return node; }
      node.rhs = this.listValue();
      return node;
    }

    // String operators: optional modifier, which needs a blank on both sides.
    const hadBlank = this.blanks();
    if (hadBlank) {
      for (const m of MODIFIERS) {
        if (!this.startsWith(m)) continue;
        const after = this.pos + m.length;
        if (!this.isBlankAt(after)) continue;
        let j = after;
        while (this.isBlankAt(j)) j++;
        const next = this.s[j];
        let isList = next === '(';
        if (!isList && next !== undefined) {
          RE_IDENT.lastIndex = j;
          const w = RE_IDENT.exec(this.s)?.[0];
          isList = w !== undefined && !(['and', 'or', 'not'].includes(w) && (this.isBlankAt(j + w.length) || this.s[j + w.length] === '(' || j + w.length === this.s.length));
        }
        if (isList) {
          this.pos = j;
          node.modifier = m;
          node.rhs = this.listValue();
          return node;
        }
      }
    }
    const rhs = this.rhsTransformer();
    if (rhs) { node.rhs = rhs; return node; }
    node.rhs = this.strValue();
    return node;
  }

  /** `val(field)` or a transformer, if one starts here. */
  private rhsTransformer(): ValueExpr | undefined {
    const word = this.match(RE_IDENT);
    if (word === undefined || this.s[this.pos + word.length] !== '(') return undefined;
    const start = this.pos;
    if (word === 'val') {
      this.pos += 4;
      if (this.match(RE_FIELDNAME) === undefined) this.fail(`'val' takes exactly one field`);
      const field = this.field();
      if (this.s[this.pos] !== ')') this.fail(`expected a ')' token`);
      this.pos++;
      const v: ValueExpr = { kind: 'val', field, pos: start };
      if (this.s[this.pos] === '[') v.arg = this.fieldArg().arg;
      this.last = ')';
      return v;
    }
    if (!TRANSFORMER_SET.has(word)) return undefined;
    return this.transformer();
  }

  private strValue(): ValueExpr {
    const start = this.pos;
    const c = this.s[this.pos];
    if (c === '"' || c === "'") {
      const v = this.quoted();
      this.last = this.s.slice(start, this.pos);
      return { kind: 'value', value: v, quoted: true, pos: start };
    }
    const bare = this.match(RE_BARESTR);
    if (bare === undefined) this.fail(`expected a value after '${this.last}'`);
    this.pos += bare.length;
    this.last = bare;
    return { kind: 'value', value: bare, quoted: false, pos: start };
  }

  private listValue(): ValueExpr {
    const start = this.pos;
    if (this.s[this.pos] !== '(') {
      const w = this.match(RE_IDENT);
      if (w === undefined) this.fail(`expected a list after '${this.last}'`);
      this.pos += w.length;
      this.last = w;
      return { kind: 'listref', name: w, pos: start };
    }
    this.pos++;
    const values: { value: string; quoted: boolean; pos: number }[] = [];
    this.blanks();
    if (this.s[this.pos] !== ')') {
      for (;;) {
        this.blanks();
        const v = this.strValue() as { kind: 'value'; value: string; quoted: boolean; pos: number };
        values.push({ value: v.value, quoted: v.quoted, pos: v.pos });
        this.blanks();
        if (this.s[this.pos] === ',') { this.pos++; continue; }
        break;
      }
    }
    if (this.s[this.pos] !== ')') this.fail(`expected a ')' token to close the list`);
    this.pos++;
    this.last = ')';
    return { kind: 'list', values, pos: start };
  }

  /** A quoted string at pos, unescaped; pos moves past the closing quote. */
  quoted(): string {
    const q = this.s[this.pos]!;
    const start = this.pos;
    this.pos++;
    let out = '';
    for (;;) {
      if (this.pos >= this.s.length) throw new ParseError('unterminated quoted string', start);
      const ch = this.s[this.pos]!;
      if (ch === q) { this.pos++; return out; }
      if (ch !== '\\') { out += ch; this.pos++; continue; }
      const e = this.s[this.pos + 1];
      this.pos += 2;
      switch (e) {
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case ' ': out += '\\ '; break; // legacy: a backslash before a blank is kept
        case '"':
          if (q !== '"') throw new ParseError(`invalid \\" escape in '-quoted string`, this.pos - 2);
          out += '"';
          break;
        case "'":
          if (q !== "'") throw new ParseError(`invalid \\' escape in "-quoted string`, this.pos - 2);
          out += "'";
          break;
        case 'x': {
          const hex = this.s.slice(this.pos, this.pos + 2);
          if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new ParseError('invalid \\x escape: expected two hex digits', this.pos - 2);
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 2;
          break;
        }
        default:
          throw new ParseError(`unsupported string escape sequence: \\${e ?? ''}`, this.pos - 2);
      }
    }
  }
}

/**
 * Parse a field or transformer expression starting at `pos` (for output templates and
 * exception fields). Returns the expression and where it ends, or undefined when none
 * starts there. `fieldNameEnd` can shorten a field name to try a shorter prefix.
 */
export function parseFieldExprAt(text: string, pos: number, fieldNameEnd?: number): { expr: FieldExpr; end: number } | undefined {
  const p = new Parser(fieldNameEnd !== undefined ? text.slice(0, fieldNameEnd) : text, {});
  p.pos = pos;
  try {
    const expr = p.fieldExpr();
    if (!expr) return undefined;
    return { expr, end: p.pos };
  } catch {
    return undefined;
  }
}
