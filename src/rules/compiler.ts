/**
 * Stage 3 of rule loading: turn the collected lists, macros and rules into compiled rules.
 *
 * Per rule, as Falco does: (1) exceptions appended to the condition text, (2) list names
 * substituted textually, (3) parse, (4) macros expanded on the AST, (5) warning passes,
 * (6) compile against the source's field table, (7) output template compiled.
 */
import type { FieldTable } from '../fields/types.ts';
import { isFieldError } from '../fields/types.ts';
import { type Node, type Origin, TRANSFORMERS, printNode, walk } from './ast.ts';
import type { Collector, ExceptionDef, ListDef, MacroDef, RuleDef } from './collector.ts';
import { PRIORITIES, isListComp } from './collector.ts';
import { CompileError, type Pred, SlotRegistry, compileNode } from './compile.ts';
import type { Diagnostics, Location } from './diagnostics.ts';
import { type CompiledOutput, compileOutput } from './output.ts';
import { ParseError, parseCondition, parseFieldExprAt } from './parser.ts';
import { regexIsTrivial } from './values.ts';
import { keyValues } from './keyvalues.ts';
import { compileNodeCodegen } from './codegen.ts';
import { EVENT_CODE_WARN_THRESHOLD, SYSCALL_EVENT_CODE_TOTAL, eventCodesFor } from '../fields/syscall/catalog.ts';

export interface CompiledRule {
  name: string;
  desc: string;
  source: string;
  priority: number;
  priorityName: string;
  tags: string[];
  enabled: boolean;
  /** Load order position (a redefined rule keeps its first place). */
  index: number;
  /** The condition text after appends (before exceptions and list substitution). */
  conditionText: string;
  /** The fully expanded condition, printed as Falco prints it. */
  compiledCondition: string;
  ast: Node;
  pred: Pred;
  output: CompiledOutput;
  outputText: string;
  exceptionFields: string[];
  warnEvttypes: boolean;
  capture: boolean;
  captureDuration: number;
  extra: Record<string, unknown>;
  loc: Location;
}

export interface CompileRulesOptions {
  diags: Diagnostics;
  tables: Map<string, FieldTable<unknown>>;
  /** One registry per source, shared by all its rules (memo slots). */
  slots: Map<string, SlotRegistry>;
  /** Compile conditions to generated functions instead of closures (see codegen.ts). */
  codegen?: boolean;
}

const MAX_DEPTH = 1000;

// ---- list substitution ---------------------------------------------------------------------

interface Edit { newStart: number; newLen: number; oldStart: number; oldLen: number }

/** Undo a sequence of edits to map an offset back to the text before them. */
function unmap(edits: Edit[], offset: number): number {
  let off = offset;
  for (let i = edits.length - 1; i >= 0; i--) {
    const e = edits[i]!;
    if (off < e.newStart) continue;
    if (off >= e.newStart + e.newLen) off = off - e.newLen + e.oldLen;
    else off = e.oldStart;
  }
  return off;
}

const BLANKS = ' \t\n\r';
const DELIMS = BLANKS + '(),=';

function listItemText(v: string): string {
  if (/\s/.test(v) && !v.startsWith('"') && !v.startsWith("'")) return '"' + v + '"';
  return v;
}

/** Substitute every list name, in definition order, as Falco does (textually). */
export function substituteLists(cond: string, lists: ListDef[], expanded: Map<string, string[]>): { text: string; edits: Edit[] } {
  let cnd = cond;
  const edits: Edit[] = [];
  for (const list of lists) {
    if (!cnd.includes(list.name)) continue;
    let start = cnd.indexOf(list.name);
    while (start !== -1) {
      let end = start + list.name.length;
      const before = start === 0 || DELIMS.includes(cnd[start - 1]!);
      const after = end >= cnd.length || DELIMS.includes(cnd[end]!);
      if (before && after) {
        while (start > 0 && BLANKS.includes(cnd[start - 1]!)) start--;
        while (end < cnd.length && BLANKS.includes(cnd[end]!)) end++;
        const sub = (expanded.get(list.name) ?? list.items).map(listItemText).join(', ');
        if (sub === '') {
          if (start > 0 && cnd[start - 1] === ',') start--;
          else if (end < cnd.length && cnd[end] === ',') end++;
        }
        let next = '';
        if (start > 0) next += cnd.slice(0, start) + ' ';
        const subStart = next.length;
        next += sub + ' ';
        next += cnd.slice(end);
        // The replaced text [start, end) became ' ' (when start > 0) + items + ' '.
        edits.push({ newStart: start, newLen: next.length - cnd.length + (end - start), oldStart: start, oldLen: end - start });
        cnd = next;
        start = subStart + sub.length;
        list.used = true;
      }
      start = cnd.indexOf(list.name, start + 1);
    }
  }
  return { text: cnd, edits };
}

/** Flatten list items that name earlier lists. */
export function expandLists(lists: ListDef[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const byName = new Map(lists.map((l) => [l.name, l]));
  const sorted = [...lists].sort((a, b) => a.index - b.index);
  for (const l of sorted) {
    const items: string[] = [];
    for (const it of l.items) {
      const ref = byName.get(it);
      if (ref && ref !== l && ref.index < l.visibility) {
        ref.used = true;
        items.push(...(out.get(ref.name) ?? ref.items));
      } else items.push(it);
    }
    out.set(l.name, items);
  }
  return out;
}

// ---- exceptions ----------------------------------------------------------------------------

function quoteExceptionValue(v: string): string {
  if (/\s/.test(v) && !v.startsWith("'") && !v.startsWith('"')) return '"' + v + '"';
  return v;
}

function renderValue(v: unknown, comp: string): string {
  if (Array.isArray(v)) return '(' + v.map((x) => quoteExceptionValue(String(x))).join(', ') + ')';
  const s = quoteExceptionValue(String(v));
  if (isListComp(comp) && !s.startsWith('(')) return '(' + s + ')';
  return s;
}

/** The text Falco appends for one exception (`' and not (...)'`), or '' when it has no values. */
export function exceptionCondition(ex: ExceptionDef): string {
  if (ex.values.length === 0) return '';
  if (!Array.isArray(ex.fields)) {
    const comp = (typeof ex.comps === 'string' ? ex.comps : 'in').trim();
    const vals = ex.values.map((v) => quoteExceptionValue(String(v))).join(', ');
    return `(${String(ex.fields).trim()} ${comp} (${vals}))`;
  }
  const fields = ex.fields;
  const comps = (Array.isArray(ex.comps) ? ex.comps : fields.map(() => '=')).map((c) => c.trim());
  const tuples = ex.values.map((tuple) => {
    const t = tuple as unknown[];
    return '(' + fields.map((f, i) => `${f.trim()} ${comps[i]} ${renderValue(t[i], comps[i]!)}`).join(' and ') + ')';
  });
  return '(' + tuples.join(' or ') + ')';
}

// ---- compiler ------------------------------------------------------------------------------

export class RuleCompiler {
  private readonly listDefs: ListDef[];
  private readonly expandedLists: Map<string, string[]>;
  private readonly macroAsts = new Map<string, Node | null>();
  private readonly expanded = new Map<string, Node>();

  constructor(private readonly col: Collector, private readonly opts: CompileRulesOptions) {
    this.listDefs = [...col.lists.values()].sort((a, b) => a.index - b.index);
    this.expandedLists = expandLists(this.listDefs);
  }

  compileAll(): CompiledRule[] {
    const { diags } = this.opts;
    this.parseMacros();
    const out: CompiledRule[] = [];
    const rules = [...this.col.rules.values()].sort((a, b) => a.index - b.index);
    for (const r of rules) {
      const c = this.compileRule(r);
      if (c) out.push(c);
    }
    // Unused macros and lists (referenced by nothing compiled).
    for (const m of this.col.macros.values()) {
      if (!m.used) diags.warn('LOAD_UNUSED_MACRO', 'Macro not referred to by any other rule/macro', { item: { kind: 'macro', name: m.name }, loc: m.loc });
    }
    for (const l of this.col.lists.values()) {
      if (!l.used) diags.warn('LOAD_UNUSED_LIST', 'List not referred to by any other rule/macro', { item: { kind: 'list', name: l.name }, loc: l.loc });
    }
    return out;
  }

  private origin(kind: 'rule' | 'macro', name: string, part: string, locate: (o: number) => Location | undefined): Origin {
    return {
      item: { kind, name }, part,
      locate: (o) => {
        const l = locate(o);
        return l ? { file: l.file, line: l.line, col: l.col, lineText: l.lineText ?? '' } : undefined;
      },
    };
  }

  private parseMacros(): void {
    for (const m of this.col.macros.values()) {
      const { text, edits } = substituteLists(m.condition.value, this.listDefs, this.expandedLists);
      const origin = this.origin('macro', m.name, 'condition', (o) => m.condition.locate(unmap(edits, o)));
      try {
        this.macroAsts.set(m.name, parseCondition(text, { maxDepth: MAX_DEPTH, origin }));
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
        this.macroAsts.set(m.name, null);
        this.opts.diags.error('LOAD_ERR_COMPILE_CONDITION', e.message, { item: { kind: 'macro', name: m.name }, part: 'condition', loc: origin.locate!(e.pos) ?? m.loc });
      }
    }
    // Resolve references between macros now, so that unused warnings see them.
    for (const m of this.col.macros.values()) {
      if (this.macroAsts.get(m.name)) {
        try { this.expandMacro(m, []); } catch (e) { if (!(e instanceof CompileError)) throw e; }
      }
    }
  }

  /** The macro's AST with its own references expanded (macros it can see: defined earlier). */
  private expandMacro(m: MacroDef, stack: string[]): Node {
    const hit = this.expanded.get(m.name);
    if (hit) return hit;
    if (stack.includes(m.name)) throw new CompileError(`reference loop in macro '${m.name}'`);
    if (stack.length > MAX_DEPTH) throw new CompileError(`macros nested more than ${MAX_DEPTH} deep (at macro '${m.name}')`);
    const ast = this.macroAsts.get(m.name);
    if (!ast) throw new CompileError(`macro '${m.name}' has errors`);
    const out = this.expand(ast, (ref) => ref.index < m.visibility, [...stack, m.name]);
    this.expanded.set(m.name, out);
    return out;
  }

  private expand(n: Node, visible: (m: MacroDef) => boolean, stack: string[]): Node {
    switch (n.kind) {
      case 'ident': {
        const m = this.col.macros.get(n.name);
        if (!m || !visible(m)) throw new CompileError(`Undefined macro '${n.name}' used in filter.`, n);
        m.used = true;
        return this.expandMacro(m, stack);
      }
      case 'and':
      case 'or': {
        let changed = false;
        const children = n.children.map((c) => { const x = this.expand(c, visible, stack); if (x !== c) changed = true; return x; });
        return changed ? { ...n, children } : n;
      }
      case 'not': {
        const child = this.expand(n.child, visible, stack);
        return child === n.child ? n : { ...n, child };
      }
      case 'check':
        return n;
    }
  }

  private compileRule(r: RuleDef): CompiledRule | undefined {
    const { diags } = this.opts;
    const ref = { kind: 'rule', name: r.name };
    const table = this.opts.tables.get(r.source);
    if (!table) return undefined;
    let slots = this.opts.slots.get(r.source);
    if (!slots) { slots = new SlotRegistry(); this.opts.slots.set(r.source, slots); }

    // Exception fields must be fields of the rule's source.
    const exceptionFields: string[] = [];
    for (const ex of r.exceptions) {
      const fields = Array.isArray(ex.fields) ? ex.fields : ex.fields !== undefined ? [ex.fields] : [];
      for (const f of fields) {
        const parsed = parseFieldExprAt(f.trim(), 0);
        const ok = parsed && parsed.end === f.trim().length && (() => {
          try { compileNode({ kind: 'check', lhs: parsed.expr, op: 'exists', pos: 0 }, { table, slots: new SlotRegistry() }); return true; } catch { return false; }
        })();
        if (!ok) {
          diags.error('LOAD_ERR_COMPILE_CONDITION', `'${f}' is not a supported filter field`, { item: ref, part: 'exceptions', loc: ex.loc });
          return undefined;
        }
        if (!exceptionFields.includes(f.trim())) exceptionFields.push(f.trim());
      }
    }

    // (1) exceptions, (2) lists.
    const cond = r.condition.value;
    let text = cond;
    let prefix = 0;
    const exTexts = r.exceptions.map(exceptionCondition).filter((t) => t !== '');
    if (r.exceptions.length > 0) {
      text = '(' + cond + ') ' + exTexts.map((t) => 'and not ' + t).join(' ');
      prefix = 1;
    }
    const { text: substituted, edits } = substituteLists(text, this.listDefs, this.expandedLists);
    const exLoc = r.exceptions[0]?.loc;
    const origin = this.origin('rule', r.name, 'condition', (o) => {
      const x = unmap(edits, o);
      if (x >= prefix && x <= prefix + cond.length) return r.condition.locate(x - prefix);
      return exLoc ?? r.conditionLoc ?? r.loc;
    });
    const fail = (e: Error & { pos?: number; node?: { pos: number; origin?: Origin } }, code: 'LOAD_ERR_COMPILE_CONDITION' | 'LOAD_ERR_COMPILE_OUTPUT', part: string) => {
      const unknown = /nonexistent field|unknown filter|not a supported filter field/.test(e.message);
      if (r.skipIfUnknownFilter && unknown) {
        diags.warn('LOAD_UNKNOWN_FILTER', `Rule skipped: ${e.message}`, { item: ref, part, loc: r.loc });
        return undefined;
      }
      let loc: Location | undefined;
      const node = e instanceof CompileError ? e.node : undefined;
      if (node?.origin?.locate) loc = node.origin.locate(node.pos);
      else if (node && part === 'condition') loc = origin.locate!(node.pos);
      else if (e instanceof ParseError) loc = origin.locate!(e.pos);
      const where = node?.origin?.item && node.origin.item.name !== r.name ? ` (in macro '${node.origin.item.name}')` : '';
      diags.error(code, e.message + where, { item: ref, part, loc: loc ?? r.conditionLoc ?? r.loc });
      return undefined;
    };

    // (3) parse, (4) expand.
    let ast: Node;
    try {
      ast = parseCondition(substituted, { maxDepth: MAX_DEPTH, origin });
      ast = this.expand(ast, () => true, []);
    } catch (e) {
      if (e instanceof ParseError || e instanceof CompileError) return fail(e, 'LOAD_ERR_COMPILE_CONDITION', 'condition');
      if (e instanceof RangeError) return fail(new CompileError('condition is nested too deeply to compile'), 'LOAD_ERR_COMPILE_CONDITION', 'condition');
      throw e;
    }

    // (6) compile.
    let pred: Pred;
    try {
      pred = this.opts.codegen ? compileNodeCodegen(ast, { table, slots }) : compileNode(ast, { table, slots });
    } catch (e) {
      if (e instanceof CompileError) return fail(e, 'LOAD_ERR_COMPILE_CONDITION', 'condition');
      if (e instanceof RangeError) return fail(new CompileError('condition is nested too deeply to compile'), 'LOAD_ERR_COMPILE_CONDITION', 'condition');
      throw e;
    }
    // (5) warnings (after a successful compile, so they are about a rule that loads).
    for (const w of conditionWarnings(ast, table)) {
      const loc = w.node.origin?.locate?.(w.node.pos) ?? r.conditionLoc ?? r.loc;
      diags.warn(w.code, w.message, { item: ref, part: 'condition', loc });
    }

    if (r.source === 'syscall' && r.warnEvttypes) {
      const set = keyValues(ast, { fields: new Set(['evt.type', 'syscall.type']), evtNumInvariants: true });
      const codes = set.neg
        ? SYSCALL_EVENT_CODE_TOTAL - eventCodesFor(set.vals).size
        : eventCodesFor(set.vals).size;
      if (codes > EVENT_CODE_WARN_THRESHOLD) {
        diags.warn('LOAD_NO_EVTTYPE', 'Rule matches too many evt.type values. This has a significant performance penalty.', { item: ref, part: 'condition', loc: r.conditionLoc ?? r.loc });
      }
    }

    // (7) output.
    let output: CompiledOutput;
    const outText = r.output.value.replace(/%container\.info/g, () => {
      diags.warn('LOAD_DEPRECATED_ITEM', `%container.info is deprecated and not supported anymore, and it is replaced by the empty string`, { item: ref, part: 'output', loc: r.outputLoc ?? r.loc });
      return '';
    });
    try {
      output = compileOutput(outText, table, slots);
    } catch (e) {
      if (e instanceof CompileError) {
        const loc = e.node ? r.output.locate(e.node.pos) : undefined;
        if (r.skipIfUnknownFilter) {
          diags.warn('LOAD_UNKNOWN_FILTER', `Rule skipped: ${e.message}`, { item: ref, part: 'output', loc: r.loc });
          return undefined;
        }
        diags.error('LOAD_ERR_COMPILE_OUTPUT', e.message, { item: ref, part: 'output', loc: loc ?? r.outputLoc ?? r.loc });
        return undefined;
      }
      throw e;
    }
    for (const f of output.fields) {
      if (DEPRECATED_FIELD.test(f)) {
        diags.warn('LOAD_DEPRECATED_ITEM', `usage of deprecated field '${f}' has been detected in the rule output`, { item: ref, part: 'output', loc: r.outputLoc ?? r.loc });
      }
    }

    return {
      name: r.name, desc: r.desc, source: r.source, priority: r.priority, priorityName: PRIORITIES[r.priority]!,
      tags: r.tags, enabled: r.enabled, index: r.index, conditionText: cond,
      compiledCondition: printNode(ast), ast, pred, output, outputText: outText,
      exceptionFields, warnEvttypes: r.warnEvttypes, capture: r.capture, captureDuration: r.captureDuration,
      extra: r.extra, loc: r.loc,
    };
  }
}

const DEPRECATED_FIELD = /^(evt\.dir|evt\.latency(\.s|\.ns|\.human)?|evt\.wait_latency)$/;
const NA_OPS = new Set(['=', '==', '!=', 'in', 'intersects', 'pmatch']);
const TRANSFORMER_PREFIX = new RegExp('^(' + [...TRANSFORMERS, 'val'].join('|') + ')\\(');

export interface ConditionWarning {
  code: 'LOAD_COMPILE_CONDITION' | 'LOAD_UNSAFE_NA_CHECK' | 'LOAD_DEPRECATED_ITEM';
  message: string;
  node: { pos: number; origin?: Origin };
}

/** Warnings libs' compiler gives on a condition that compiles (LOAD_COMPILE_CONDITION etc.). */
export function conditionWarnings(ast: Node, table: FieldTable<unknown>): ConditionWarning[] {
  const out: ConditionWarning[] = [];
  const isField = (v: string): boolean => {
    const s = v.replace(/\s/g, '');
    const p = parseFieldExprAt(s, 0);
    if (!p || p.end !== s.length || p.expr.kind !== 'field') return false;
    return !isFieldError(table.resolve(p.expr.name, p.expr.arg));
  };
  walk(ast, (n) => {
    if (n.kind !== 'check') return;
    const lhsName = n.lhs.kind === 'field' ? n.lhs.name : '';
    if (n.lhs.kind === 'field' && DEPRECATED_FIELD.test(n.lhs.name)) {
      out.push({ code: 'LOAD_DEPRECATED_ITEM', message: `usage of deprecated field '${n.lhs.name}' has been detected in the rule condition`, node: n });
    }
    const values: string[] = [];
    if (n.rhs?.kind === 'value') values.push(n.rhs.value);
    else if (n.rhs?.kind === 'list') values.push(...n.rhs.values.map((v) => v.value));
    for (const v of values) {
      if (TRANSFORMER_PREFIX.test(v.replace(/^\s+/, ''))) {
        out.push({ code: 'LOAD_COMPILE_CONDITION', message: `'${v}' may be a valid field transformer misused as a const string value`, node: n });
      } else if (isField(v)) {
        out.push({ code: 'LOAD_COMPILE_CONDITION', message: `'${v}' may be a valid field misused as a const string value`, node: n });
      }
      if (v === '<NA>' && NA_OPS.has(n.op) && /^(ka|jevt)\./.test(lhsName)) {
        out.push({ code: 'LOAD_UNSAFE_NA_CHECK', message: `using '<NA>' in a comparison with a k8s_audit field is unsafe: a missing value makes the check false`, node: n });
      }
    }
    if (n.op === 'regex' && n.rhs?.kind === 'value' && regexIsTrivial(n.rhs.value)) {
      out.push({ code: 'LOAD_COMPILE_CONDITION', message: `regex check with '${n.rhs.value}' may be optimized with simpler operators such as '=', 'contains', 'startswith', 'endswith'`, node: n });
    }
  });
  return out;
}
