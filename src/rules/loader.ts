/**
 * Load rules files as one set: read (stage 1) → collect (stage 2) → compile (stage 3).
 * Diagnostics are gathered across the whole load; `ok` is false when any is an error.
 */
import { readFileSync } from 'node:fs';
import type { FieldTable } from '../fields/types.ts';
import { Collector } from './collector.ts';
import { SlotRegistry } from './compile.ts';
import { type CompiledRule, RuleCompiler } from './compiler.ts';
import { type Diagnostic, Diagnostics } from './diagnostics.ts';
import { readRulesText } from './reader.ts';

export interface RulesSource {
  /** Name shown in diagnostics (the path as given). */
  name: string;
  text: string;
}

export interface LoadOptions {
  tables: Map<string, FieldTable<unknown>>;
  /** Plugin versions Vigil stands in for (for `required_plugin_versions`). */
  plugins?: Record<string, string>;
  /** Memo slot registries per source (shared with an existing engine, or fresh). */
  slots?: Map<string, SlotRegistry>;
  /** Generated functions instead of closures for conditions (measured in bench/). */
  codegen?: boolean;
}

export interface LoadResult {
  ok: boolean;
  diagnostics: Diagnostic[];
  rules: CompiledRule[];
  /** Lists after appends and flattening, by name. */
  lists: Map<string, string[]>;
  macros: Map<string, string>;
  requiredEngineVersion: string;
  slots: Map<string, SlotRegistry>;
}

/** The plugins whose sources and fields Vigil implements itself. */
export const PROVIDED_PLUGINS: Record<string, string> = {
  k8saudit: '0.18.0', 'k8saudit-eks': '0.18.0', 'k8saudit-gke': '0.18.0', 'k8saudit-aks': '0.18.0', 'k8saudit-ovh': '0.18.0',
  json: '0.7.4', container: '0.7.1',
};

export function loadRules(files: RulesSource[], opts: LoadOptions): LoadResult {
  const diags = new Diagnostics();
  const col = new Collector({ diags, sources: new Set(opts.tables.keys()), plugins: opts.plugins ?? PROVIDED_PLUGINS });
  for (const f of files) {
    col.add(readRulesText(f.name, f.text, { diags }));
  }
  const slots = opts.slots ?? new Map<string, SlotRegistry>();
  // Compile even after errors, so that every problem is reported at once; a load with
  // errors is refused as a whole (ok: false) by its callers.
  const rules: CompiledRule[] = new RuleCompiler(col, { diags, tables: opts.tables, slots, codegen: opts.codegen }).compileAll();
  return {
    ok: !diags.hasErrors,
    diagnostics: diags.list,
    rules,
    lists: new Map([...col.lists.values()].map((l) => [l.name, l.items])),
    macros: new Map([...col.macros.values()].map((m) => [m.name, m.condition.value])),
    requiredEngineVersion: col.requiredEngineVersion,
    slots,
  };
}

/** Read files from disk and load them; unreadable files are LOAD_ERR_FILE_READ errors. */
export function loadRuleFiles(paths: string[], opts: LoadOptions): LoadResult {
  const files: RulesSource[] = [];
  const readErrors: Diagnostic[] = [];
  for (const p of paths) {
    try {
      files.push({ name: p, text: readFileSync(p, 'utf8') });
    } catch (e) {
      readErrors.push({ severity: 'error', code: 'LOAD_ERR_FILE_READ', message: `Could not read rules file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, loc: { file: p, line: 1, col: 1 } });
    }
  }
  const res = loadRules(files, opts);
  if (readErrors.length) return { ...res, ok: false, diagnostics: [...readErrors, ...res.diagnostics] };
  return res;
}
