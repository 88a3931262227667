/**
 * The detection engine: rulesets indexed per source and by key fields, evaluation, alerts.
 *
 * Index first, evaluate second: at load time each rule's condition is analysed for the values
 * of the source's key fields it can match (`evt.type` for syscalls; `ka.verb` and
 * `ka.target.resource` for audit events). At run time the event's key values select a
 * precomputed candidate list (cached per combination), and only those rules run, in load
 * order, sharing one memoised field cache per event.
 */
import type { VigilEvent } from '../events/event.ts';
import { formatIso8601, formatTime, getHostname } from '../fields/generic.ts';
import type { FieldTable } from '../fields/types.ts';
import { isFieldError } from '../fields/types.ts';
import { EvalContext, type Getter, SlotRegistry } from '../rules/compile.ts';
import type { CompiledRule } from '../rules/compiler.ts';
import type { Diagnostic } from '../rules/diagnostics.ts';
import { type LoadResult, type RulesSource, loadRuleFiles, loadRules } from '../rules/loader.ts';
import { ALL, type KeyAnalysis, MISSING, type ValueSet, contains, keyValues } from '../rules/keyvalues.ts';

export type RuleMatching = 'first' | 'all';

export interface Alert {
  /** Event time, ns since the epoch. */
  time: bigint;
  rule: string;
  priority: string;
  /** 0 (Emergency) .. 7 (Debug). */
  priorityNum: number;
  source: string;
  /** Falco's full text line: `<time>: <Priority> <message>`. */
  output: string;
  /** The rendered rule output alone. */
  message: string;
  output_fields: Record<string, unknown>;
  tags: string[];
  hostname: string;
  event: VigilEvent;
  /** Vigil rule extras (mitigation, ...), when the rule has any. */
  extra?: Record<string, unknown>;
}

/** Per-source description of key fields to bucket rules by. */
export const INDEX_KEYS: Record<string, { fields: string[][]; evtNumInvariants?: boolean }> = {
  syscall: { fields: [['evt.type', 'syscall.type']], evtNumInvariants: true },
  k8s_audit: { fields: [['ka.verb'], ['ka.target.resource'], ['ka.target.subresource']] },
};

interface SourceSet {
  table: FieldTable<unknown>;
  ctx: EvalContext;
  rules: CompiledRule[];
  /** Per rule, per key: the values it can match. */
  sets: ValueSet[][];
  keyGetters: Getter[];
  cache: Map<string, CompiledRule[]>;
  evaluated: number;
}

export interface EngineOptions {
  tables: Map<string, FieldTable<unknown>>;
  ruleMatching?: RuleMatching;
  /** Rules less severe than this (a larger number) are loaded but not run. Default Debug (7). */
  minPriority?: number;
  hostname?: string;
  /** Compile conditions to generated functions (default) or closures; both are benchmarked. */
  codegen?: boolean;
}

export class Engine {
  private sources = new Map<string, SourceSet>();
  private rules: CompiledRule[] = [];
  ruleMatching: RuleMatching;
  minPriority: number;
  private hostname: string;
  /** Matches per rule, for metrics. */
  readonly matches = new Map<string, number>();
  private disabled = new Set<string>();

  /** Rule evaluations that threw (a malformed event), per rule. */
  readonly errors = new Map<string, number>();
  /** Called once per rule the first time its evaluation throws. */
  onError?: (rule: string, err: Error, ev: VigilEvent) => void;

  constructor(readonly opts: EngineOptions) {
    this.ruleMatching = opts.ruleMatching ?? 'first';
    this.minPriority = opts.minPriority ?? 7;
    this.hostname = opts.hostname ?? getHostname();
  }

  loadFiles(paths: string[]): LoadResult {
    return this.install(loadRuleFiles(paths, { tables: this.opts.tables, codegen: this.opts.codegen }));
  }

  loadSources(files: RulesSource[]): LoadResult {
    return this.install(loadRules(files, { tables: this.opts.tables, codegen: this.opts.codegen ?? true }));
  }

  /** All compiled rules, in load order. */
  get allRules(): readonly CompiledRule[] {
    return this.rules;
  }

  /** Rules that run: enabled, at or above the minimum priority, not disabled by name/tag. */
  isActive(r: CompiledRule): boolean {
    return r.enabled && r.priority <= this.minPriority && !this.disabled.has(r.name);
  }

  /** Disable rules by exact name, `*` wildcard, or tag (`tag:<t>`); rebuilds the index. */
  disable(selectors: string[]): void {
    for (const sel of selectors) {
      for (const r of this.rules) {
        if (sel.startsWith('tag:') ? r.tags.includes(sel.slice(4)) : wildcard(sel).test(r.name)) this.disabled.add(r.name);
      }
    }
    this.rebuild();
  }

  private install(res: LoadResult): LoadResult {
    if (!res.ok) return res;
    this.rules = [...res.rules].sort((a, b) => a.index - b.index);
    this.rebuild(res.slots);
    return res;
  }

  private rebuild(slots?: Map<string, SlotRegistry>): void {
    const prev = this.sources;
    this.sources = new Map();
    for (const [source, table] of this.opts.tables) {
      const rules = this.rules.filter((r) => r.source === source && this.isActive(r));
      const keys = INDEX_KEYS[source];
      const reg = slots?.get(source) ?? new SlotRegistry();
      const keyGetters: Getter[] = [];
      const analyses: KeyAnalysis[] = [];
      for (const names of keys?.fields ?? []) {
        const f = table.resolve(names[0]!, undefined);
        if (isFieldError(f)) continue;
        keyGetters.push(reg.getter(f));
        analyses.push({ fields: new Set(names), evtNumInvariants: keys?.evtNumInvariants });
      }
      const sets = rules.map((r) => analyses.map((a) => keyValues(r.ast, a)));
      this.sources.set(source, {
        table, ctx: prev.get(source)?.ctx ?? new EvalContext(), rules, sets, keyGetters, cache: new Map(), evaluated: 0,
      });
    }
  }

  /** The rules an event with these key values may match, in load order. */
  private candidates(s: SourceSet, ev: unknown): CompiledRule[] {
    if (s.keyGetters.length === 0) return s.rules;
    let key = '';
    const vals: string[] = [];
    for (const g of s.keyGetters) {
      const v = g(ev, s.ctx);
      const sv = v === undefined ? MISSING : String(v);
      vals.push(sv);
      key += sv + '\u0001';
    }
    let hit = s.cache.get(key);
    if (hit) return hit;
    hit = [];
    for (let i = 0; i < s.rules.length; i++) {
      const rs = s.sets[i]!;
      let ok = true;
      for (let j = 0; j < vals.length; j++) if (!contains(rs[j]!, vals[j]!)) { ok = false; break; }
      if (ok) hit.push(s.rules[i]!);
    }
    if (s.cache.size > 50_000) s.cache.clear();
    s.cache.set(key, hit);
    return hit;
  }

  /**
   * Evaluate one event; returns the alerts it raises (empty array when none). With
   * `first`, only the first matching rule in load order alerts.
   */
  process(ev: VigilEvent): Alert[] {
    const s = this.sources.get(ev.source);
    if (!s) return [];
    s.ctx.next();
    const cands = this.candidates(s, ev);
    let out: Alert[] | undefined;
    for (let i = 0; i < cands.length; i++) {
      const r = cands[i]!;
      s.evaluated++;
      let hit: boolean;
      let alert: Alert;
      try {
        hit = r.pred(ev, s.ctx);
        if (!hit) continue;
        alert = this.alert(r, ev, s.ctx);
      } catch (e) {
        // A malformed event must not stop detection: count it, say it once per rule, go on.
        const n = (this.errors.get(r.name) ?? 0) + 1;
        this.errors.set(r.name, n);
        if (n === 1) this.onError?.(r.name, e as Error, ev);
        continue;
      }
      (out ??= []).push(alert);
      this.matches.set(r.name, (this.matches.get(r.name) ?? 0) + 1);
      if (this.ruleMatching === 'first') break;
    }
    return out ?? [];
  }

  /** Rules evaluated so far per source (to measure what the index saves). */
  evaluatedCount(source: string): number {
    return this.sources.get(source)?.evaluated ?? 0;
  }

  candidateCount(ev: VigilEvent): number {
    const s = this.sources.get(ev.source);
    if (!s) return 0;
    s.ctx.next();
    return this.candidates(s, ev).length;
  }

  private alert(r: CompiledRule, ev: VigilEvent, ctx: EvalContext): Alert {
    const { text, fields } = r.output.render(ev, ctx);
    const output_fields: Record<string, unknown> = { 'evt.time': ev.timeNs };
    for (const k of Object.keys(fields).sort()) output_fields[k] = fields[k];
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(output_fields).sort()) sorted[k] = output_fields[k];
    const a: Alert = {
      time: ev.timeNs, rule: r.name, priority: r.priorityName, priorityNum: r.priority, source: r.source,
      output: `${formatTime(ev.timeNs)}: ${r.priorityName} ${text}`, message: text, output_fields: sorted,
      tags: r.tags, hostname: this.hostname, event: ev,
    };
    if (Object.keys(r.extra).length) a.extra = r.extra;
    return a;
  }
}

function wildcard(sel: string): RegExp {
  return new RegExp('^' + sel.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
}

/** Falco's JSON alert, keys in Falco's (sorted) order; bigints printed as JSON integers. */
export function alertToJson(a: Alert): string {
  const obj = {
    hostname: a.hostname, output: a.output, output_fields: a.output_fields, priority: a.priority, rule: a.rule,
    source: a.source, tags: a.tags, time: formatIso8601(a.time),
  };
  return stringifyBig(obj);
}

/** JSON.stringify that writes bigints as plain integers. */
export function stringifyBig(v: unknown): string {
  const marks: string[] = [];
  const s = JSON.stringify(v, (_k, x) => {
    if (typeof x === 'bigint') { marks.push(x.toString()); return `\u0000big${marks.length - 1}\u0000`; }
    return x;
  });
  if (marks.length === 0) return s;
  return s.replace(/"\\u0000big(\d+)\\u0000"/g, (_m, i: string) => marks[Number(i)]!);
}

export type { Diagnostic };
export { ALL };
