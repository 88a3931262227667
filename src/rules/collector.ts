/**
 * Stage 2 of rule loading: merge the items of every file, in load order, into one set of
 * lists, macros and rules. Implements redefinition (content replaced, position kept),
 * legacy `append: true`, `override:` (append/replace per key), standalone `enabled`, and
 * the visibility index that later decides which lists and macros an item can see.
 */
import type { Diagnostics, Location } from './diagnostics.ts';
import type { ExceptionItem, Item, ListItem, MacroItem, RuleItem, Text } from './reader.ts';

/** Text assembled from pieces (a condition and its appends), each mapping back to its file. */
export class Pieces {
  constructor(readonly parts: Text[] = []) {}

  get value(): string {
    return this.parts.map((p) => p.value).join(' ');
  }

  append(t: Text): Pieces {
    if (t.value === '') return this;
    return new Pieces([...this.parts, t]);
  }

  locate(offset: number): Location | undefined {
    let base = 0;
    for (const p of this.parts) {
      if (offset <= base + p.value.length) return p.locate(offset - base);
      base += p.value.length + 1;
    }
    const last = this.parts[this.parts.length - 1];
    return last ? last.locate(last.value.length) : undefined;
  }
}

export interface ListDef {
  name: string;
  items: string[];
  index: number;
  visibility: number;
  used: boolean;
  loc: Location;
}

export interface MacroDef {
  name: string;
  condition: Pieces;
  index: number;
  visibility: number;
  used: boolean;
  loc: Location;
}

export interface ExceptionDef {
  name: string;
  fields?: string | string[];
  comps?: string | string[];
  values: unknown[];
  loc: Location;
}

export interface RuleDef {
  name: string;
  source: string;
  condition: Pieces;
  output: Pieces;
  desc: string;
  priority: number;
  tags: string[];
  exceptions: ExceptionDef[];
  enabled: boolean;
  warnEvttypes: boolean;
  skipIfUnknownFilter: boolean;
  capture: boolean;
  captureDuration: number;
  extra: Record<string, unknown>;
  index: number;
  visibility: number;
  loc: Location;
  conditionLoc?: Location;
  outputLoc?: Location;
}

export const PRIORITIES = ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'] as const;
export type PriorityName = (typeof PRIORITIES)[number];

/** Priority name (any case, `info` too) to its number, or undefined. */
export function parsePriority(s: string): number | undefined {
  const v = s.trim().toLowerCase();
  if (v === 'info') return 6;
  const i = PRIORITIES.findIndex((p) => p.toLowerCase() === v);
  return i >= 0 ? i : undefined;
}

export const ENGINE_VERSION = '0.63.0';

const APPENDABLE = new Set(['condition', 'output', 'desc', 'tags', 'exceptions']);
const REPLACEABLE = new Set(['condition', 'output', 'desc', 'priority', 'capture', 'capture_duration', 'tags', 'exceptions',
  'enabled', 'warn_evttypes', 'skip-if-unknown-filter']);

const LIST_NAME = /^[^()"'\s=,]+$/;
const MACRO_NAME = /^[a-zA-Z]+[a-zA-Z0-9_]*$/;

export interface CollectOptions {
  diags: Diagnostics;
  /** Sources that have a field table; rules of other sources are skipped with a warning. */
  sources: Set<string>;
  /** Plugins (name → version) this build provides, for `required_plugin_versions`. */
  plugins: Record<string, string>;
}

export class Collector {
  readonly lists = new Map<string, ListDef>();
  readonly macros = new Map<string, MacroDef>();
  readonly rules = new Map<string, RuleDef>();
  requiredEngineVersion = '0.0.0';
  private counter = 0;

  constructor(private readonly opts: CollectOptions) {}

  add(items: Item[]): void {
    // Falco stops a file at its first error; Vigil goes on (skipping the bad item) so that
    // one run reports every problem. The load fails either way.
    for (const item of items) this.addItem(item);
  }

  private err(message: string, item: { kind: string; name: string } | undefined, loc: Location, part?: string): void {
    this.opts.diags.error('LOAD_ERR_VALIDATE', message, { loc, ...(item ? { item } : {}), ...(part ? { part } : {}) });
  }

  private addItem(item: Item): void {
    const index = ++this.counter;
    switch (item.kind) {
      case 'required_engine_version': return this.engineVersion(item.version, item.loc);
      case 'required_plugin_versions': {
        for (const p of item.plugins) {
          const ok = [p, ...p.alternatives].some((a) => {
            const have = this.opts.plugins[a.name];
            return have !== undefined && semverCompatible(have, a.version);
          });
          if (!ok) {
            this.err(`Plugin '${p.name}' version '${p.version}' is required, but Vigil does not provide a compatible one`, undefined, item.loc);
          }
        }
        return;
      }
      case 'list': return this.list(item, index);
      case 'macro': return this.macro(item, index);
      case 'rule': return this.rule(item, index);
    }
  }

  private engineVersion(v: string, loc: Location): void {
    let norm: string;
    if (/^\d+$/.test(v)) norm = `0.${Number(v)}.0`;
    else if (/^\d+\.\d+\.\d+$/.test(v)) norm = v;
    else {
      this.opts.diags.error('LOAD_ERR_VALIDATE', `Unable to parse engine version '${v}' as a semver string. Expected "x.y.z" semver format.`, { loc });
      return;
    }
    if (!semverCompatible(ENGINE_VERSION, norm)) {
      this.opts.diags.error('LOAD_ERR_VALIDATE', `Rules require engine version ${norm}, but engine version is ${ENGINE_VERSION}`, { loc });
      return;
    }
    if (semverCmp(norm, this.requiredEngineVersion) > 0) this.requiredEngineVersion = norm;
  }

  private checkAppendOverride(item: ListItem | MacroItem | RuleItem, key: string): 'append' | 'replace' | 'define' | undefined {
    const ref = { kind: item.kind, name: item.name };
    if (item.append === true && item.override) {
      this.err(`Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.`, ref, item.loc);
      return undefined;
    }
    if (item.append === true) return 'append';
    if (!item.override) return 'define';
    for (const [k, op] of item.override) {
      if (k !== key) {
        this.err(`Unexpected key '${k}' under 'override': only '${key}' can be overridden on a ${item.kind}`, ref, item.loc);
        return undefined;
      }
      if (op !== 'append' && op !== 'replace') {
        this.err(`Invalid override operation for key '${k}': '${op}'. Allowed values are: append, replace`, ref, item.loc);
        return undefined;
      }
      return op;
    }
    return 'define';
  }

  private list(item: ListItem, index: number): void {
    const ref = { kind: 'list', name: item.name };
    if (item.append === true) {
      this.opts.diags.warn('LOAD_DEPRECATED_ITEM', `'append' key is deprecated. Add an 'append' entry (e.g. 'items: append') under 'override' instead.`, { item: ref, loc: item.loc });
    }
    const mode = this.checkAppendOverride(item, 'items');
    if (!mode) return;
    if (!LIST_NAME.test(item.name)) {
      this.opts.diags.warn('LOAD_INVALID_LIST_NAME', `List has an invalid name. List names should match a regular expression: ${LIST_NAME.source}`, { item: ref, loc: item.loc });
    }
    const prev = this.lists.get(item.name);
    if (mode === 'append') {
      if (!prev) {
        this.err(`List uses 'append' or 'override.items: append' but no list by that name already exists`, ref, item.loc);
        return;
      }
      prev.items = [...prev.items, ...item.items];
      prev.visibility = index;
      return;
    }
    if (prev) {
      prev.items = [...item.items];
      prev.visibility = index;
      prev.loc = item.loc;
    } else {
      this.lists.set(item.name, { name: item.name, items: [...item.items], index, visibility: index, used: false, loc: item.loc });
    }
  }

  private macro(item: MacroItem, index: number): void {
    const ref = { kind: 'macro', name: item.name };
    if (item.append === true) {
      this.opts.diags.warn('LOAD_DEPRECATED_ITEM', `'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.`, { item: ref, loc: item.loc });
    }
    const mode = this.checkAppendOverride(item, 'condition');
    if (!mode) return;
    if (!MACRO_NAME.test(item.name)) {
      this.opts.diags.warn('LOAD_INVALID_MACRO_NAME', `Macro has an invalid name. Macro names should match a regular expression: ${MACRO_NAME.source}`, { item: ref, loc: item.loc });
    }
    const prev = this.macros.get(item.name);
    const cond = item.condition!;
    if (mode === 'append') {
      if (!prev) {
        this.err(`Macro uses 'append' or 'override.condition: append' but no macro by that name already exists`, ref, item.loc);
        return;
      }
      prev.condition = prev.condition.append(cond);
      prev.visibility = index;
      return;
    }
    if (prev) {
      prev.condition = new Pieces([cond]);
      prev.visibility = index;
      prev.loc = item.loc;
    } else {
      this.macros.set(item.name, { name: item.name, condition: new Pieces([cond]), index, visibility: index, used: false, loc: item.loc });
    }
  }

  private rule(item: RuleItem, index: number): void {
    const ref = { kind: 'rule', name: item.name };
    const diags = this.opts.diags;
    if (item.append === true) {
      diags.warn('LOAD_DEPRECATED_ITEM', `'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.`, { item: ref, loc: item.loc });
      if (item.override) {
        this.err(`Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.`, ref, item.loc);
        return;
      }
    }
    const prev = this.rules.get(item.name);
    const sourceKnown = (s: string | undefined) => s === undefined || s === '' || this.opts.sources.has(s);

    if (item.append === true) return this.ruleLegacyAppend(item, prev, index);
    if (item.override) return this.ruleOverride(item, prev, index);

    const defining = ['condition', 'output', 'desc', 'priority'].some((k) => item.has.has(k));
    if (!defining) {
      if (!item.has.has('enabled')) {
        this.err(`Item has no mapping for key 'condition'`, ref, item.loc);
        return;
      }
      diags.warn('LOAD_DEPRECATED_ITEM', `The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace').`, { item: ref, loc: item.loc });
      if (!prev) {
        if (!sourceKnown(item.source)) return;
        this.err(`Rule has 'enabled' key but no rule by that name already exists`, ref, item.loc);
        return;
      }
      prev.enabled = item.enabled!;
      return;
    }
    for (const k of ['condition', 'output', 'desc', 'priority']) {
      if (!item.has.has(k)) {
        this.err(`Item has no mapping for key '${k}'`, ref, item.loc);
        return;
      }
    }
    const priority = parsePriority(item.priority!);
    if (priority === undefined) {
      this.err('Invalid priority', ref, item.keyLocs.get('priority') ?? item.loc, 'priority');
      return;
    }
    const source = item.source || 'syscall';
    if (!this.opts.sources.has(source)) {
      diags.warn('LOAD_UNKNOWN_SOURCE', `Unknown source ${source}, skipping`, { item: ref, loc: item.loc });
      return;
    }
    if (prev && prev.source !== source) {
      this.err('Rule has been re-defined with a different source', ref, item.loc);
      return;
    }
    const exceptions = this.exceptions(item, [], true);
    if (!exceptions) return;
    const def: RuleDef = {
      name: item.name, source,
      condition: new Pieces([item.condition!]),
      output: new Pieces([item.output!]),
      desc: item.desc ?? '', priority,
      tags: uniqSorted(item.tags ?? []),
      exceptions,
      enabled: item.enabled ?? true,
      warnEvttypes: item.warnEvttypes ?? true,
      skipIfUnknownFilter: item.skipIfUnknownFilter ?? false,
      capture: item.capture ?? false,
      captureDuration: item.captureDuration ?? 0,
      extra: item.extra,
      index: prev ? prev.index : index,
      visibility: index,
      loc: item.loc,
      conditionLoc: item.keyLocs.get('condition'),
      outputLoc: item.keyLocs.get('output'),
    };
    this.rules.set(item.name, def);
  }

  private sourceMismatch(item: RuleItem, prev: RuleDef): boolean {
    if (item.source && item.source !== prev.source) {
      this.err('Rule has been re-defined with a different source', { kind: 'rule', name: item.name }, item.loc);
      return true;
    }
    return false;
  }

  private ruleLegacyAppend(item: RuleItem, prev: RuleDef | undefined, index: number): void {
    const ref = { kind: 'rule', name: item.name };
    if (!item.has.has('condition') && !item.has.has('exceptions')) {
      this.err(`Appended rule must have exceptions or condition property`, ref, item.loc);
      return;
    }
    if (!prev) {
      if (item.source && !this.opts.sources.has(item.source)) {
        this.opts.diags.warn('LOAD_UNKNOWN_SOURCE', `Unknown source ${item.source}, skipping`, { item: ref, loc: item.loc });
        return;
      }
      this.err(`Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists`, ref, item.loc);
      return;
    }
    if (this.sourceMismatch(item, prev)) return;
    if (item.condition) prev.condition = prev.condition.append(item.condition);
    if (item.exceptions) {
      const ex = this.exceptions(item, prev.exceptions, false);
      if (!ex) return;
      prev.exceptions = ex;
    }
    prev.visibility = index;
  }

  private ruleOverride(item: RuleItem, prev: RuleDef | undefined, index: number): void {
    const ref = { kind: 'rule', name: item.name };
    const ov = item.override!;
    const appends: string[] = [];
    const replaces: string[] = [];
    for (const [k, op] of ov) {
      if (op === 'append') {
        if (!APPENDABLE.has(k)) {
          this.err(REPLACEABLE.has(k) ? `Key '${k}' cannot be appended to, use 'replace' instead` : `Key '${k}' cannot be appended to`, ref, item.loc, 'override');
          return;
        }
        appends.push(k);
      } else if (op === 'replace') {
        if (!REPLACEABLE.has(k)) {
          this.err(`Key '${k}' cannot be replaced`, ref, item.loc, 'override');
          return;
        }
        replaces.push(k);
      } else {
        this.err(`Invalid override operation for key '${k}': '${op}'. Allowed values are: append, replace`, ref, item.loc, 'override');
        return;
      }
      if (!item.has.has(k)) {
        this.err(`An ${op} override for '${k}' was specified but '${k}' is not defined`, ref, item.loc, 'override');
        return;
      }
    }
    for (const k of item.has) {
      if ((APPENDABLE.has(k) || REPLACEABLE.has(k)) && !ov.has(k)) {
        this.err(`Unexpected key '${k}': no corresponding entry under 'override' is defined.`, ref, item.keyLocs.get(k) ?? item.loc, 'override');
        return;
      }
    }
    if (!prev) {
      if (item.source && !this.opts.sources.has(item.source)) {
        this.opts.diags.warn('LOAD_UNKNOWN_SOURCE', `Unknown source ${item.source}, skipping`, { item: ref, loc: item.loc });
        return;
      }
      if (appends.length > 0) {
        this.err(`Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists`, ref, item.loc);
      } else {
        this.err(`An 'override.<key>: replace' to a rule was requested but no rule by that name already exists`, ref, item.loc);
      }
      return;
    }
    if (this.sourceMismatch(item, prev)) return;
    if (replaces.length === 0 && appends.length === 0) {
      this.err('The rule must have at least one field that can be replaced', ref, item.loc, 'override');
      return;
    }
    // Append first, then replace.
    for (const k of appends) {
      switch (k) {
        case 'condition': prev.condition = prev.condition.append(item.condition!); break;
        case 'output': prev.output = prev.output.append(item.output!); break;
        case 'desc': if (item.desc) prev.desc = prev.desc + ' ' + item.desc; break;
        case 'tags': prev.tags = uniqSorted([...prev.tags, ...(item.tags ?? [])]); break;
        case 'exceptions': {
          const ex = this.exceptions(item, prev.exceptions, false);
          if (!ex) return;
          prev.exceptions = ex;
          break;
        }
      }
    }
    for (const k of replaces) {
      switch (k) {
        case 'condition': prev.condition = new Pieces([item.condition!]); prev.conditionLoc = item.keyLocs.get('condition'); break;
        case 'output': prev.output = new Pieces([item.output!]); prev.outputLoc = item.keyLocs.get('output'); break;
        case 'desc': prev.desc = item.desc ?? ''; break;
        case 'priority': {
          const p = parsePriority(item.priority ?? '');
          if (p === undefined) {
            this.err('Invalid priority', ref, item.keyLocs.get('priority') ?? item.loc, 'priority');
            return;
          }
          prev.priority = p;
          break;
        }
        case 'tags': prev.tags = uniqSorted(item.tags ?? []); break;
        case 'exceptions': {
          const ex = this.exceptions(item, [], true);
          if (!ex) return;
          prev.exceptions = ex;
          break;
        }
        case 'enabled': prev.enabled = item.enabled!; break;
        case 'warn_evttypes': prev.warnEvttypes = item.warnEvttypes!; break;
        case 'skip-if-unknown-filter': prev.skipIfUnknownFilter = item.skipIfUnknownFilter!; break;
        case 'capture': prev.capture = item.capture!; break;
        case 'capture_duration': prev.captureDuration = item.captureDuration!; break;
      }
    }
    prev.visibility = index;
  }

  /** Validate an item's exceptions and merge them onto `base` (append) or define them. */
  private exceptions(item: RuleItem, base: ExceptionDef[], define: boolean): ExceptionDef[] | undefined {
    const ref = { kind: 'rule', name: item.name };
    const out = base.map((e) => ({ ...e, values: [...e.values] }));
    const seen = new Set<string>();
    for (const ex of item.exceptions ?? []) {
      const name = ex.name!;
      const fail = (msg: string) => { this.err(msg, ref, ex.loc, 'exceptions'); return undefined; };
      if (seen.has(name)) {
        this.opts.diags.warn('LOAD_EXCEPTION_NAME_NOT_UNIQUE', `Multiple definitions of exception '${name}' in the same rule`, { item: ref, loc: ex.loc, part: 'exceptions' });
      }
      seen.add(name);
      const existing = define ? undefined : out.find((e) => e.name === name);
      if (existing) {
        if (ex.has.has('fields')) return fail('Can not append exception fields to existing exception, only values');
        if (ex.has.has('comps')) return fail('Can not append exception comps to existing exception, only values');
        if (!ex.values || ex.values.length === 0) {
          this.opts.diags.warn('LOAD_APPEND_NO_VALUES', 'Overriding/appending exception with no values', { item: ref, loc: ex.loc, part: 'exceptions' });
        }
        existing.values.push(...(ex.values ?? []));
        continue;
      }
      if (!define && !ex.has.has('values')) {
        this.opts.diags.warn('LOAD_APPEND_NO_VALUES', 'Overriding/appending exception with no values', { item: ref, loc: ex.loc, part: 'exceptions' });
      }
      if (define && ex.fields === undefined) return fail(`Item has no mapping for key 'fields'`);
      const msg = validateException(ex);
      if (msg) return fail(msg);
      out.push({ name, fields: ex.fields, comps: ex.comps, values: ex.values ?? [], loc: ex.loc });
    }
    return out;
  }
}

const LIST_COMPS = new Set(['in', 'intersects', 'pmatch']);
const SCALAR_COMPS = new Set(['=', '==', '!=', '<', '<=', '>', '>=', 'contains', 'icontains', 'bcontains', 'startswith',
  'bstartswith', 'endswith', 'glob', 'iglob', 'regex', 'in', 'intersects', 'pmatch']);
const MODIFIABLE = new Set(['=', '==', '!=', 'contains', 'icontains', 'startswith', 'endswith', 'glob', 'iglob', 'regex']);

export function isModifierComp(c: string): boolean {
  const m = /^(\S+)\s+(oneof|anyof|allof)$/.exec(c.trim());
  return !!m && MODIFIABLE.has(m[1]!);
}

export function isListComp(c: string): boolean {
  return LIST_COMPS.has(c.trim()) || isModifierComp(c);
}

function validateException(ex: ExceptionItem): string | undefined {
  if (ex.fields === undefined) return 'Rule exception item must have fields property with a list of fields';
  if (Array.isArray(ex.fields)) {
    const comps = ex.comps === undefined ? ex.fields.map(() => '=') : ex.comps;
    if (!Array.isArray(comps)) return 'Fields and comps lists must have equal length';
    if (comps.length !== ex.fields.length) return 'Fields and comps lists must have equal length';
    for (const c of comps) {
      const t = c.trim();
      if (!SCALAR_COMPS.has(t) && !isModifierComp(t)) return `'${c}' is not a supported comparison operator`;
    }
    for (const v of ex.values ?? []) {
      if (!Array.isArray(v)) return 'Expected values array to contain a list of lists';
      if (v.length !== ex.fields.length) return 'Fields and values lists must have equal length';
    }
  } else {
    if (ex.comps !== undefined && Array.isArray(ex.comps)) return 'Fields and comps must both be strings';
    const c = (ex.comps ?? 'in').trim();
    if (!LIST_COMPS.has(c) && !isModifierComp(c)) {
      return 'When fields is a single value, comps must be one of (in, pmatch, intersects) or a modifier operator (e.g. startswith oneof)';
    }
    for (const v of ex.values ?? []) {
      if (Array.isArray(v)) return 'Expected values array to contain a list of strings';
    }
  }
  return undefined;
}

function uniqSorted(tags: string[]): string[] {
  return [...new Set(tags)].sort();
}

export function semverCmp(a: string, b: string): number {
  const pa = a.split(/[.-]/).slice(0, 3).map(Number);
  const pb = b.split(/[.-]/).slice(0, 3).map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** `have` satisfies requirement `need`: same major version and not older. */
export function semverCompatible(have: string, need: string): boolean {
  const ma = have.split('.')[0], mb = need.split('.')[0];
  return ma === mb && semverCmp(have, need) >= 0;
}
