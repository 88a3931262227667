/**
 * Runs the Falco language conformance cases (parse, eval, load) against this engine. Used
 * by `npm run conformance` and by the test suite. The cases file is given by path: the
 * project never reads it at run time otherwise.
 */
import { syscallFields } from '../fields/syscall/table.ts';
import { type StaticEvent, staticTable } from '../fields/static.ts';
import type { FieldTable } from '../fields/types.ts';
import { printNode } from './ast.ts';
import { EvalContext, SlotRegistry, compileNode } from './compile.ts';
import { conditionWarnings } from './compiler.ts';
import { loadRules } from './loader.ts';
import { parseCondition, unescapeDoubleQuoted } from './parser.ts';

export interface ConformanceCase {
  id: string;
  kind: 'parse' | 'eval' | 'load';
  input: unknown;
  event?: StaticEvent;
  expected: unknown;
  source?: string;
  note?: string;
}

export interface CaseResult { id: string; ok: boolean; detail: string }

export function runCase(c: ConformanceCase, tables: Map<string, FieldTable<unknown>>): CaseResult {
  try {
    switch (c.kind) {
      case 'parse': return { id: c.id, ...runParse(c) };
      case 'eval': return { id: c.id, ...runEval(c) };
      case 'load': return { id: c.id, ...runLoad(c, tables) };
    }
  } catch (e) {
    return { id: c.id, ok: false, detail: 'crashed: ' + (e as Error).stack };
  }
}

function runParse(c: ConformanceCase): { ok: boolean; detail: string } {
  const exp = c.expected as string | { ast?: string; error?: string; value?: string };
  let input = c.input as string | { repeat?: string; times?: number; unescape_double_quoted?: string };
  try {
    if (typeof input === 'object' && input.unescape_double_quoted !== undefined) {
      const v = unescapeDoubleQuoted(input.unescape_double_quoted);
      const ok = exp === 'accept' || (typeof exp === 'object' && exp.value === v);
      return { ok, detail: `value ${JSON.stringify(v)}` };
    }
    if (typeof input === 'object') input = input.repeat!.repeat(input.times!);
    const printed = printNode(parseCondition(input));
    const ok = exp === 'accept' || (typeof exp === 'object' && exp.ast === printed);
    return { ok, detail: `parsed as ${printed}` };
  } catch (e) {
    const msg = (e as Error).message;
    const ok = exp === 'reject' || (typeof exp === 'object' && exp.error !== undefined && msg.includes(exp.error));
    return { ok, detail: `error: ${msg}` };
  }
}

function runEval(c: ConformanceCase): { ok: boolean; detail: string } {
  const ev = c.event ?? {};
  const exp = c.expected as boolean | { compiles?: boolean; warnings?: number; compile_error?: string };
  const table = staticTable(ev, syscallFields as FieldTable<unknown>) as FieldTable<unknown>;
  let result: boolean;
  let warnings = 0;
  try {
    const ast = parseCondition(c.input as string);
    const pred = compileNode(ast, { table, slots: new SlotRegistry() });
    warnings = conditionWarnings(ast, table).length;
    result = pred(ev, new EvalContext());
  } catch (e) {
    const msg = (e as Error).message;
    const ok = typeof exp === 'object' && (exp.compiles === false || (exp.compile_error !== undefined && msg.includes(exp.compile_error)));
    return { ok, detail: `does not compile: ${msg}` };
  }
  if (typeof exp === 'boolean') return { ok: result === exp, detail: `evaluated to ${result}` };
  const ok = exp.compiles === true && (exp.warnings === undefined || exp.warnings === warnings);
  return { ok, detail: `compiles with ${warnings} warning(s)` };
}

function runLoad(c: ConformanceCase, tables: Map<string, FieldTable<unknown>>): { ok: boolean; detail: string } {
  const exp = c.expected as Record<string, unknown>;
  const res = loadRules([{ name: c.id + '.yaml', text: c.input as string }], { tables });
  const errors = res.diagnostics.filter((d) => d.severity === 'error');
  const warnings = res.diagnostics.filter((d) => d.severity === 'warning');
  const problems: string[] = [];
  const has = (list: typeof errors, s: string) => list.some((d) => d.message.includes(s));
  if (exp.ok !== res.ok) problems.push(`ok=${res.ok}`);
  if (typeof exp.error === 'string' && !has(errors, exp.error)) problems.push(`missing error '${exp.error}'`);
  if (Array.isArray(exp.error_any) && !exp.error_any.some((s: string) => has(errors, s))) problems.push('missing any of errors');
  if (typeof exp.error_code === 'string' && !errors.some((d) => d.code === exp.error_code)) problems.push(`missing error code ${exp.error_code}`);
  if (typeof exp.warning === 'string' && !has(warnings, exp.warning)) problems.push(`missing warning '${exp.warning}'`);
  if (typeof exp.warning_code === 'string' && !warnings.some((d) => d.code === exp.warning_code)) problems.push(`missing warning code ${exp.warning_code}`);
  if (typeof exp.no_warning === 'string' && has(warnings, exp.no_warning)) problems.push(`unexpected warning '${exp.no_warning}'`);
  if (typeof exp.warnings === 'number' && warnings.length !== exp.warnings) problems.push(`${warnings.length} warnings`);
  if (Array.isArray(exp.warnings)) {
    for (const w of exp.warnings as string[]) if (!has(warnings, w)) problems.push(`missing warning '${w}'`);
  }
  const byName = new Map(res.rules.map((r) => [r.name, r]));
  if (exp.compiled_condition) {
    for (const [name, cond] of Object.entries(exp.compiled_condition as Record<string, string>)) {
      const got = byName.get(name)?.compiledCondition;
      if (got !== cond) problems.push(`compiled ${name}: ${got}`);
    }
  }
  if (typeof exp.enabled_rules === 'number') {
    const n = res.rules.filter((r) => r.enabled).length;
    if (n !== exp.enabled_rules) problems.push(`${n} enabled rules`);
  }
  if (exp.rule_info) {
    for (const [name, info] of Object.entries(exp.rule_info as Record<string, Record<string, unknown>>)) {
      const r = byName.get(name);
      if (!r) { problems.push(`no rule ${name}`); continue; }
      const actual: Record<string, unknown> = {
        condition: r.conditionText, output: r.outputText.trim(), desc: r.desc, priority: r.priorityName, tags: r.tags,
        capture: r.capture, capture_duration: r.captureDuration, output_compiled: r.outputText, enabled: r.enabled,
      };
      for (const [k, v] of Object.entries(info)) {
        if (JSON.stringify(actual[k]) !== JSON.stringify(v)) problems.push(`${name}.${k} = ${JSON.stringify(actual[k])}`);
      }
    }
  }
  if (exp.list_items) {
    for (const [name, items] of Object.entries(exp.list_items as Record<string, string[]>)) {
      if (JSON.stringify(res.lists.get(name)) !== JSON.stringify(items)) problems.push(`list ${name} = ${JSON.stringify(res.lists.get(name))}`);
    }
  }
  const detail = problems.length
    ? problems.join('; ') + ' | diagnostics: ' + res.diagnostics.map((d) => `${d.severity} ${d.code} ${d.message}`).join(' / ')
    : 'as expected';
  return { ok: problems.length === 0, detail };
}
