/**
 * Output templates: `user=%user.name file=%fd.name`. Compiled once per rule into literal
 * pieces and field getters; rendering an alert is then concatenation only.
 *
 * A token is `%`, an optional decimal width, then the longest prefix of the following text
 * that is a known field (or transformer expression) of the rule's source. A field that
 * cannot be extracted prints `<NA>`. There is no `%%` escape (as in Falco).
 */
import type { FieldTable } from '../fields/types.ts';
import { type FieldExpr, printField } from './ast.ts';
import { CompileError, type EvalContext, type Getter, SlotRegistry, compileOperand } from './compile.ts';
import { parseFieldExprAt } from './parser.ts';

interface Piece {
  text?: string;
  get?: Getter;
  key?: string;
  width?: number;
  toText?: (v: unknown) => string;
  toJson?: (v: unknown) => unknown;
}

export interface CompiledOutput {
  /** The template as written (trimmed). */
  template: string;
  /** Field expressions referenced, as written, in order of first use. */
  fields: string[];
  render(ev: unknown, ctx: EvalContext): { text: string; fields: Record<string, unknown> };
}

export function textOf(v: unknown): string {
  if (v === undefined || v === null) return '<NA>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Uint8Array) return Buffer.from(v).toString('latin1');
  if (Array.isArray(v)) return '(' + v.map(textOf).join(',') + ')';
  return JSON.stringify(v);
}

function jsonOf(v: unknown): unknown {
  if (v === undefined) return null;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('latin1');
  return v;
}

/**
 * Compile an output template. Unknown fields raise CompileError with the offset of the
 * `%` token in `pos`.
 */
export function compileOutput(template: string, table: FieldTable<unknown>, slots: SlotRegistry = new SlotRegistry()): CompiledOutput {
  const pieces: Piece[] = [];
  const fields: string[] = [];
  let lit = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i]!;
    if (c !== '%') { lit += c; i++; continue; }
    const tokStart = i;
    let j = i + 1;
    let width: number | undefined;
    const wm = /^\d+/.exec(template.slice(j));
    if (wm) { width = Number(wm[0]); j += wm[0].length; }
    if (j >= template.length) throw new CompileError(`invalid output format: '%' at end of string`, { pos: tokStart });
    const parsed = longestField(template, j, table);
    if (!parsed) {
      const bad = /^[^\s%]*/.exec(template.slice(j))![0];
      throw new CompileError(`invalid output format '${template}': unknown filter '${bad}'`, { pos: tokStart });
    }
    if (lit) { pieces.push({ text: lit }); lit = ''; }
    const op = compileOperand(parsed.expr, { table, slots });
    const key = printField(parsed.expr);
    if (!fields.includes(key)) fields.push(key);
    pieces.push({ get: op.get, key, width, toText: op.field?.toText?.bind(op.field), toJson: op.field?.toJson?.bind(op.field) });
    i = parsed.end;
  }
  if (lit) pieces.push({ text: lit });

  return {
    template,
    fields,
    render(ev, ctx) {
      let text = '';
      const out: Record<string, unknown> = {};
      for (const p of pieces) {
        if (p.text !== undefined) { text += p.text; continue; }
        const v = p.get!(ev, ctx);
        let s = v === undefined ? '<NA>' : p.toText ? p.toText(v) : textOf(v);
        if (p.width !== undefined) s = s.length > p.width ? s.slice(0, p.width) : s.padEnd(p.width);
        text += s;
        out[p.key!] = v === undefined ? null : p.toJson ? p.toJson(v) : jsonOf(v);
      }
      return { text, fields: out };
    },
  };
}

/** The longest field expression at `pos` that the table knows. */
function longestField(t: string, pos: number, table: FieldTable<unknown>): { expr: FieldExpr; end: number } | undefined {
  const first = parseFieldExprAt(t, pos);
  if (!first) return undefined;
  if (resolves(first.expr, table)) return first;
  if (first.expr.kind !== 'field') return undefined;
  // Back off one name segment at a time: `%proc.name.` or `%fd.name.suffix`.
  let name = first.expr.name;
  while (name.includes('.')) {
    name = name.slice(0, name.lastIndexOf('.'));
    const shorter = parseFieldExprAt(t, pos, pos + name.length);
    if (shorter && resolves(shorter.expr, table)) return shorter;
  }
  return undefined;
}

function resolves(e: FieldExpr, table: FieldTable<unknown>): boolean {
  try {
    compileOperand(e, { table, slots: new SlotRegistry() });
    return true;
  } catch {
    return false;
  }
}
