/**
 * A search condition, compiled the way a rule's condition is: the text goes through the rules
 * loader as the condition of a one-rule file (with the lists and macros of any rules files
 * given), so list substitution, macro expansion, field resolution and evaluation are the very
 * code a `vigil replay` of the same condition runs. Search results are the rule engine's
 * answer by construction; the SQL plan (sql.ts) only narrows which rows are looked at.
 */
import { readFileSync } from 'node:fs';
import type { AuditEvent } from '../events/k8saudit.ts';
import type { SyscallEvent } from '../events/syscall.ts';
import { defaultTables } from '../engine/tables.ts';
import type { Node } from '../rules/ast.ts';
import { EvalContext, type Pred } from '../rules/compile.ts';
import { formatDiagnostic } from '../rules/diagnostics.ts';
import { type RulesSource, loadRules } from '../rules/loader.ts';
import { ParseError, parseCondition } from '../rules/parser.ts';

/** A condition a person typed that does not compile; `message` is ready to print. */
export class ConditionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConditionError';
  }
}

export interface CompiledCondition<E = AuditEvent> {
  text: string;
  /** Expanded AST (macros inlined, lists substituted). */
  ast: Node;
  /** True when the event matches, exactly as a rule with this condition would fire. */
  test(ev: E): boolean;
}

/** The event each rules source's conditions are evaluated on. */
export interface ConditionEvents {
  k8s_audit: AuditEvent;
  syscall: SyscallEvent;
}

const SEARCH_RULE = 'vigil search condition';

/**
 * Compile `text` against the fields of `source` (`k8s_audit` by default, `syscall` for stored
 * syscall events). `rulesFiles` lend their lists and macros (their rules are compiled too and
 * ignored). Throws ConditionError with a `condition:1:col` diagnostic and a caret, or the
 * rules file's own diagnostics.
 */
export function compileCondition<S extends keyof ConditionEvents = 'k8s_audit'>(
  text: string, rulesFiles: readonly string[] = [], source: S = 'k8s_audit' as S,
): CompiledCondition<ConditionEvents[S]> {
  if (text.trim() === '') throw new ConditionError('condition: empty condition');
  // Parse alone first: a syntax error then points into the condition as typed.
  if (rulesFiles.length === 0) {
    try {
      parseCondition(text, { maxDepth: 1000 });
    } catch (e) {
      if (e instanceof ParseError) throw new ConditionError(caret(text, e.pos, e.message));
      throw e;
    }
  }
  const files: RulesSource[] = [];
  for (const f of rulesFiles) {
    try {
      files.push({ name: f, text: readFileSync(f, 'utf8') });
    } catch (e) {
      throw new ConditionError(`${f}: cannot read rules file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const quoted = JSON.stringify(text);
  const prefix = '  condition: ';
  const yaml = `- rule: ${SEARCH_RULE}\n  desc: search\n  source: ${source}\n  priority: DEBUG\n  output: search\n${prefix}${quoted}\n`;
  const SEARCH_FILE = '<search>';
  files.push({ name: SEARCH_FILE, text: yaml });
  const res = loadRules(files, { tables: defaultTables() });
  const errors = res.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    const lines = errors.map((d) => {
      if (d.loc?.file === SEARCH_FILE) {
        // Map back into the condition when it needed no escaping in the YAML text.
        const off = d.loc.col - 1 - prefix.length - 1;
        const where = d.item?.name && d.item.name !== SEARCH_RULE ? ` (in macro '${d.item.name}')` : '';
        if (quoted === '"' + text + '"' && off >= 0 && off <= text.length) return caret(text, off, d.message + where);
        return `condition: ${d.message}${where}`;
      }
      return formatDiagnostic(d);
    });
    throw new ConditionError(lines.join('\n'));
  }
  const rule = res.rules.find((r) => r.name === SEARCH_RULE);
  if (!rule) throw new ConditionError('condition: could not be compiled');
  const pred: Pred = rule.pred;
  const ctx = new EvalContext();
  return {
    text,
    ast: rule.ast,
    test(ev: ConditionEvents[S]): boolean {
      ctx.next();
      if (source === 'k8s_audit') return pred(ev, ctx);
      // As the engine does (engine.ts process): an evaluation that throws on a malformed
      // event is no match.
      try {
        return pred(ev, ctx);
      } catch {
        return false;
      }
    },
  };
}

/** `condition:1:COL: message`, the condition and a caret (multi-line conditions: line of pos). */
function caret(text: string, pos: number, message: string): string {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = text.indexOf('\n', pos) < 0 ? text.length : text.indexOf('\n', pos);
  const col = pos - lineStart + 1;
  return `condition:${line}:${col}: ${message}\n  ${text.slice(lineStart, lineEnd)}\n  ${' '.repeat(col - 1)}^`;
}
