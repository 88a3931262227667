/**
 * Stage 1 of rule loading: read a rules file's YAML (keeping positions) into typed items.
 * Nothing here knows about other files; the collector (stage 2) merges items across files
 * and the compiler (stage 3) turns conditions into predicates.
 *
 * YAML is read with the failsafe schema (every scalar a string), so that `items: [0755,
 * 1.0]` stay the text that was written, as yaml-cpp gives it to Falco; booleans and numbers
 * are converted per key here.
 */
import { LineCounter, type Node as YNode, Scalar, YAMLMap, YAMLSeq, isMap, isScalar, isSeq, parseAllDocuments } from 'yaml';
import type { Diagnostics, Location } from './diagnostics.ts';

export interface SourceLocator {
  /** Location of an offset in the file text. */
  at(offset: number): Location;
}

/** A scalar with where it came from; `locate` maps an offset inside the value to the file. */
export interface Text {
  value: string;
  locate(offset: number): Location;
}

export interface ExceptionItem {
  name?: string;
  fields?: string | string[];
  comps?: string | string[];
  values?: unknown[];
  /** Keys present on the item. */
  has: Set<string>;
  loc: Location;
}

export interface RuleItem {
  kind: 'rule';
  name: string;
  condition?: Text;
  output?: Text;
  desc?: string;
  priority?: string;
  source?: string;
  enabled?: boolean;
  tags?: string[];
  exceptions?: ExceptionItem[];
  exceptionsLoc?: Location;
  append?: boolean;
  override?: Map<string, string>;
  warnEvttypes?: boolean;
  skipIfUnknownFilter?: boolean;
  capture?: boolean;
  captureDuration?: number;
  /** Keys present (null values included), for override checks. */
  has: Set<string>;
  /** Vigil extension keys kept as given (`mitigation`, ...). */
  extra: Record<string, unknown>;
  loc: Location;
  keyLocs: Map<string, Location>;
}

export interface MacroItem {
  kind: 'macro';
  name: string;
  condition?: Text;
  append?: boolean;
  override?: Map<string, string>;
  has: Set<string>;
  loc: Location;
}

export interface ListItem {
  kind: 'list';
  name: string;
  items: string[];
  append?: boolean;
  override?: Map<string, string>;
  has: Set<string>;
  loc: Location;
}

export interface EngineVersionItem { kind: 'required_engine_version'; version: string; loc: Location }
export interface PluginVersionsItem {
  kind: 'required_plugin_versions';
  plugins: { name: string; version: string; alternatives: { name: string; version: string }[] }[];
  loc: Location;
}

export type Item = RuleItem | MacroItem | ListItem | EngineVersionItem | PluginVersionsItem;

const ALLOWED_KEYS: Record<string, Set<string>> = {
  required_engine_version: new Set(['required_engine_version']),
  required_plugin_versions: new Set(['required_plugin_versions']),
  list: new Set(['list', 'items', 'append', 'override']),
  macro: new Set(['macro', 'condition', 'append', 'override']),
  rule: new Set(['rule', 'condition', 'output', 'desc', 'priority', 'source', 'enabled', 'capture', 'capture_duration',
    'warn_evttypes', 'skip-if-unknown-filter', 'tags', 'exceptions', 'override', 'append']),
};

/** Keys Vigil reads on rules besides Falco's (documented in docs/rules-language.md). */
export const VIGIL_RULE_KEYS = new Set(['mitigation', 'references']);

class ItemError extends Error {
  constructor(message: string, readonly node?: YNode | null) {
    super(message);
  }
}

export interface ReadOptions {
  diags: Diagnostics;
}

/** Read one rules file's text into items, in order. Stops at the first structural error. */
export function readRulesText(file: string, input: string, opts: ReadOptions): Item[] {
  const { diags } = opts;
  // yaml-cpp (Falco) skips a leading byte order mark; the yaml package does not.
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const lc = new LineCounter();
  const lines = text.split('\n');
  // Our own line index: yaml's LineCounter misses newlines inside its error-recovery tokens.
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  const at = (offset: number): Location => {
    const o = Math.max(0, Math.min(offset, text.length));
    let lo = 0, hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= o) lo = mid; else hi = mid - 1;
    }
    return { file, line: lo + 1, col: o - starts[lo]! + 1, lineText: lines[lo] ?? '' };
  };
  const items: Item[] = [];
  let docs;
  try {
    docs = parseAllDocuments(text, { schema: 'failsafe', lineCounter: lc, keepSourceTokens: true, uniqueKeys: false });
  } catch (e) {
    diags.error('LOAD_ERR_YAML_PARSE', (e as Error).message, { loc: at(0) });
    return items;
  }
  const list = Array.isArray(docs) ? docs : [];
  for (const doc of list) {
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        diags.error('LOAD_ERR_YAML_PARSE', err.message.split('\n')[0]!, { loc: at(err.pos[0]) });
      }
      return items;
    }
    const contents = doc.contents;
    if (contents === null || (isScalar(contents) && isNullScalar(contents))) continue;
    if (!isSeq(contents)) {
      diags.error('LOAD_ERR_YAML_VALIDATE', isScalar(contents) ? 'Rules content is not yaml' : 'Rules content is not yaml array of objects',
        { loc: at(contents.range?.[0] ?? 0) });
      return items;
    }
    for (const node of (contents as YAMLSeq).items) {
      if (node === null || (isScalar(node) && isNullScalar(node))) continue;
      const loc = at((node as YNode).range?.[0] ?? 0);
      if (!isMap(node)) {
        diags.error('LOAD_ERR_YAML_VALIDATE', 'Unexpected element type. Each element should be a yaml associative array.', { loc });
        continue;
      }
      try {
        const item = readItem(node, at, text, diags, loc);
        if (item) items.push(item);
      } catch (e) {
        if (!(e instanceof ItemError)) throw e;
        const where = e.node?.range ? at(e.node.range[0]) : loc;
        const kind = itemKind(node);
        const name = kind && kind !== 'required_engine_version' && kind !== 'required_plugin_versions' ? scalarText(node.get(kind, true) as YNode) : undefined;
        diags.error('LOAD_ERR_YAML_VALIDATE', e.message, { loc: where, ...(kind && name !== undefined ? { item: { kind, name } } : {}) });
        // Falco stops reading the file here; Vigil reports the item and reads on, so that one
        // run shows every problem (the load has failed either way).
      }
    }
  }
  return items;
}

function isNullScalar(s: Scalar): boolean {
  if (s.type !== 'PLAIN' && s.type !== undefined) return false;
  const v = String(s.value ?? '');
  return v === '' || v === '~' || v === 'null' || v === 'Null' || v === 'NULL';
}

function scalarText(n: YNode | null | undefined): string | undefined {
  if (!n || !isScalar(n) || isNullScalar(n)) return undefined;
  return String(n.value);
}

function itemKind(m: YAMLMap): string | undefined {
  for (const k of ['required_engine_version', 'required_plugin_versions', 'list', 'macro', 'rule']) {
    if (m.has(k)) return k;
  }
  return undefined;
}

type Get = (key: string) => YNode | null | undefined;

function readItem(m: YAMLMap, at: (o: number) => Location, text: string, diags: Diagnostics, loc: Location): Item | undefined {
  const kind = itemKind(m);
  const keys: string[] = [];
  const nodes = new Map<string, YNode | null>();
  for (const pair of m.items) {
    const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    keys.push(k);
    nodes.set(k, (pair.value as YNode | null) ?? null);
  }
  if (!kind) {
    diags.warn('LOAD_UNKNOWN_ITEM', 'Unknown top level item', { loc });
    return undefined;
  }
  const get: Get = (k) => nodes.get(k);
  const has = new Set(keys);
  const allowed = ALLOWED_KEYS[kind]!;
  const nameOf = kind === 'rule' || kind === 'macro' || kind === 'list' ? scalarText(get(kind)) : undefined;
  for (const k of keys) {
    if (!allowed.has(k) && !(kind === 'rule' && VIGIL_RULE_KEYS.has(k))) {
      const pair = m.items.find((p) => isScalar(p.key) && p.key.value === k);
      const kl = pair && isScalar(pair.key) && pair.key.range ? at(pair.key.range[0]) : loc;
      diags.warn('LOAD_UNKNOWN_KEY', `Unknown key '${k}'. The key will be ignored.`, {
        loc: kl, ...(nameOf !== undefined ? { item: { kind, name: nameOf } } : {}),
      });
    }
  }

  switch (kind) {
    case 'required_engine_version': {
      const v = decodeString(get, 'required_engine_version', true)!;
      return { kind, version: v, loc };
    }
    case 'required_plugin_versions':
      return { kind, plugins: readPluginVersions(get('required_plugin_versions')), loc };
    case 'list': {
      const name = decodeString(get, 'list', true)!;
      const itemsNode = get('items');
      if (itemsNode === undefined) throw new ItemError(`Item has no mapping for key 'items'`, m);
      if (itemsNode === null || (isScalar(itemsNode) && isNullScalar(itemsNode))) throw new ItemError(`Mapping for key 'items' is empty`, itemsNode);
      if (!isSeq(itemsNode)) throw new ItemError('Value is not a sequence', itemsNode);
      const items: string[] = [];
      for (const it of itemsNode.items) {
        if (!isScalar(it)) throw new ItemError('sequence value is not scalar', it as YNode);
        items.push(String(it.value ?? ''));
      }
      const item: ListItem = { kind, name, items, has, loc };
      readAppendOverride(item, get);
      return item;
    }
    case 'macro': {
      const name = decodeString(get, 'macro', true)!;
      const item: MacroItem = { kind, name, has, loc };
      readAppendOverride(item, get);
      const cond = get('condition');
      if (cond === undefined) throw new ItemError(`Item has no mapping for key 'condition'`, m);
      item.condition = decodeText(cond, 'condition', at, text, false);
      return item;
    }
    case 'rule':
      return readRule(m, get, has, at, text, loc);
  }
  return undefined;
}

function readAppendOverride(item: { append?: boolean; override?: Map<string, string> }, get: Get): void {
  const app = get('append');
  if (app !== undefined) item.append = decodeBool(app, 'append');
  const ov = get('override');
  if (ov !== undefined && ov !== null) {
    if (!isMap(ov)) throw new ItemError('Value of override must be a map', ov);
    const map = new Map<string, string>();
    for (const p of ov.items) {
      const k = isScalar(p.key) ? String(p.key.value) : String(p.key);
      const v = scalarText(p.value as YNode);
      if (v === undefined) throw new ItemError(`Value for override key '${k}' is not a scalar value`, p.value as YNode);
      map.set(k, v.trim());
    }
    item.override = map;
  }
}

function readRule(m: YAMLMap, get: Get, has: Set<string>, at: (o: number) => Location, text: string, loc: Location): RuleItem {
  const name = decodeString(get, 'rule', true)!;
  const keyLocs = new Map<string, Location>();
  for (const p of m.items) {
    if (isScalar(p.key) && p.key.range) keyLocs.set(String(p.key.value), at(p.key.range[0]));
  }
  const item: RuleItem = { kind: 'rule', name, has, loc, keyLocs, extra: {} };
  readAppendOverride(item, get);
  const cond = get('condition');
  if (cond !== undefined) item.condition = decodeText(cond, 'condition', at, text, false);
  const out = get('output');
  if (out !== undefined) {
    const t = decodeText(out, 'output', at, text, false);
    const lead = t.value.length - t.value.trimStart().length;
    const trimmed = t.value.trim();
    item.output = { value: trimmed, locate: (o) => t.locate(o + lead) };
  }
  if (has.has('desc')) item.desc = decodeString(get, 'desc', false, true);
  if (has.has('priority')) item.priority = decodeString(get, 'priority', false);
  if (has.has('source')) {
    const s = get('source');
    item.source = s === null || (isScalar(s) && isNullScalar(s)) ? '' : decodeString(get, 'source', false, true);
  }
  if (has.has('enabled')) item.enabled = decodeBool(get('enabled'), 'enabled');
  if (has.has('warn_evttypes')) item.warnEvttypes = decodeBool(get('warn_evttypes'), 'warn_evttypes');
  if (has.has('skip-if-unknown-filter')) item.skipIfUnknownFilter = decodeBool(get('skip-if-unknown-filter'), 'skip-if-unknown-filter');
  if (has.has('capture')) item.capture = decodeBool(get('capture'), 'capture');
  if (has.has('capture_duration')) {
    const v = decodeString(get, 'capture_duration', false)!;
    if (!/^\d+$/.test(v.trim())) throw new ItemError(`Can't decode YAML scalar value`, get('capture_duration'));
    item.captureDuration = Number(v);
  }
  if (has.has('tags')) {
    const t = get('tags');
    if (t === null || (t && isScalar(t) && isNullScalar(t))) item.tags = [];
    else if (!t || !isSeq(t)) throw new ItemError('Value is not a sequence', t);
    else {
      item.tags = t.items.map((x) => {
        if (!isScalar(x)) throw new ItemError('sequence value is not scalar', x as YNode);
        return String(x.value ?? '');
      });
    }
  }
  if (has.has('exceptions')) {
    const ex = get('exceptions');
    item.exceptionsLoc = keyLocs.get('exceptions');
    if (ex === null || (ex && isScalar(ex) && isNullScalar(ex))) item.exceptions = [];
    else if (!ex || !isSeq(ex)) throw new ItemError('Rule exceptions must be a sequence', ex);
    else item.exceptions = ex.items.map((e) => readException(e as YNode, at));
  }
  for (const k of VIGIL_RULE_KEYS) {
    const n = get(k);
    if (n !== undefined && n !== null) item.extra[k] = n.toJSON();
  }
  return item;
}

function readException(n: YNode, at: (o: number) => Location): ExceptionItem {
  if (!isMap(n)) throw new ItemError('Rule exception must be a mapping', n);
  const has = new Set<string>();
  const ex: ExceptionItem = { has, loc: at(n.range?.[0] ?? 0) };
  for (const p of n.items) {
    const k = isScalar(p.key) ? String(p.key.value) : String(p.key);
    has.add(k);
    const v = p.value as YNode | null;
    switch (k) {
      case 'name': {
        const s = scalarText(v);
        if (v === null || s === undefined) throw new ItemError(v === null || (v && isScalar(v)) ? `Mapping for key 'name' is empty` : 'Value is not a scalar value', v ?? n);
        ex.name = s;
        break;
      }
      case 'fields':
      case 'comps':
        if (v === null || (v && isScalar(v) && isNullScalar(v))) break;
        if (isSeq(v)) {
          ex[k] = v.items.map((x) => {
            if (!isScalar(x)) throw new ItemError(`Rule exception ${k} must be a sequence of scalars`, x as YNode);
            return String(x.value ?? '');
          });
        } else if (isScalar(v)) ex[k] = String(v.value);
        else throw new ItemError(`Rule exception ${k} must be a sequence or a scalar`, v);
        break;
      case 'values':
        if (v === null || (v && isScalar(v) && isNullScalar(v))) break;
        if (!isSeq(v)) throw new ItemError('Rule exception values must be a sequence', v);
        ex.values = v.items.map((x) => plain(x as YNode));
        break;
      default:
        break;
    }
  }
  if (!has.has('name')) throw new ItemError(`Item has no mapping for key 'name'`, n);
  return ex;
}

/** YAML node to plain strings / nested arrays (exception values). */
function plain(n: YNode | null): unknown {
  if (n === null) return '';
  if (isSeq(n)) return n.items.map((x) => plain(x as YNode));
  if (isScalar(n)) return String(n.value ?? '');
  return n.toJSON();
}

function readPluginVersions(n: YNode | null | undefined): PluginVersionsItem['plugins'] {
  if (!n || !isSeq(n)) throw new ItemError('Value of required_plugin_versions must be a sequence', n);
  const out: PluginVersionsItem['plugins'] = [];
  for (const p of n.items) {
    if (!isMap(p)) throw new ItemError('Plugin version must be a mapping', p as YNode);
    const name = scalarText(p.get('name', true) as YNode);
    const version = scalarText(p.get('version', true) as YNode);
    if (name === undefined) throw new ItemError(`Item has no mapping for key 'name'`, p);
    if (version === undefined) throw new ItemError(`Item has no mapping for key 'version'`, p);
    if (!/^\d+\.\d+\.\d+/.test(version)) throw new ItemError(`Invalid required version '${version}' for plugin '${name}'`, p);
    const alts: { name: string; version: string }[] = [];
    const an = p.get('alternatives', true) as YNode | undefined;
    if (an !== undefined && an !== null) {
      if (!isSeq(an)) throw new ItemError('Value of plugin version alternatives must be a sequence', an);
      for (const a of an.items) {
        if (!isMap(a)) throw new ItemError('Plugin version alternative must be a mapping', a as YNode);
        const an2 = scalarText(a.get('name', true) as YNode);
        const av = scalarText(a.get('version', true) as YNode);
        if (an2 === undefined || av === undefined) throw new ItemError('Plugin version alternative must have name and version', a);
        if (!/^\d+\.\d+\.\d+/.test(av)) throw new ItemError(`Invalid required version '${av}' for plugin '${an2}'`, a);
        alts.push({ name: an2, version: av });
      }
    }
    if (out.some((o) => o.name === name)) throw new ItemError(`Defined multiple alternative version requirements for plugin '${name}'`, p);
    out.push({ name, version, alternatives: alts });
  }
  return out;
}

function decodeString(get: Get, key: string, required: boolean, allowEmpty = false): string | undefined {
  const n = get(key);
  if (n === undefined) {
    if (required) throw new ItemError(`Item has no mapping for key '${key}'`);
    return undefined;
  }
  if (n === null || (isScalar(n) && isNullScalar(n))) throw new ItemError(`Mapping for key '${key}' is empty`, n);
  if (!isScalar(n)) throw new ItemError('Value is not a scalar value', n);
  const v = String(n.value ?? '');
  if (v === '' && !allowEmpty) throw new ItemError('Value must be non-empty', n);
  return v;
}

function decodeBool(n: YNode | null | undefined, key: string): boolean {
  if (n === null || n === undefined || (isScalar(n) && isNullScalar(n))) throw new ItemError(`Mapping for key '${key}' is empty`, n);
  if (!isScalar(n)) throw new ItemError('Value is not a scalar value', n);
  const v = String(n.value).toLowerCase();
  if (['true', 'yes', 'on', 'y'].includes(v)) return true;
  if (['false', 'no', 'off', 'n'].includes(v)) return false;
  throw new ItemError(`Can't decode YAML scalar value`, n);
}

function decodeText(n: YNode | null, key: string, at: (o: number) => Location, text: string, allowEmpty: boolean): Text {
  if (n === null || (isScalar(n) && isNullScalar(n))) throw new ItemError(`Mapping for key '${key}' is empty`, n);
  if (!isScalar(n)) throw new ItemError('Value is not a scalar value', n);
  const value = String(n.value ?? '');
  if (value === '' && !allowEmpty && n.type === 'PLAIN') throw new ItemError('Value must be non-empty', n);
  const range = n.range ?? [0, 0, 0];
  return { value, locate: scalarLocator(value, text, range[0], range[1], n.type, at) };
}

/**
 * Map an offset in a scalar's value to the file: the k-th non-blank character of the value
 * is the k-th non-blank character of the scalar's source (after a block header or an opening
 * quote). Folding and indentation only change blanks, so this holds for plain, folded and
 * literal scalars, and nearly so for quoted ones with escapes. Computed only when asked.
 */
function scalarLocator(value: string, text: string, start: number, end: number, type: Scalar['type'], at: (o: number) => Location): (o: number) => Location {
  if (type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE') return quotedLocator(value, text, start, end, type, at);
  return (offset: number) => {
    let src = start;
    if (type === 'BLOCK_FOLDED' || type === 'BLOCK_LITERAL') {
      const nl = text.indexOf('\n', start);
      src = nl >= 0 && nl < end ? nl + 1 : start;
    }
    let k = 0;
    for (let i = 0; i < Math.min(offset, value.length); i++) if (!/\s/.test(value[i]!)) k++;
    let i = src;
    for (;;) {
      while (i < end && /\s/.test(text[i]!)) i++;
      if (k === 0 || i >= end) break;
      i++;
      k--;
    }
    return at(Math.min(i, Math.max(end - 1, start)));
  };
}

/**
 * Quoted scalars: walk the value and the source together, stepping over escapes (`\\"`,
 * `\\xHH`, `\\uHHHH`, ...) and doubled single quotes, and folding runs of blanks, so that the
 * caret lands on the character the value's offset names.
 */
function quotedLocator(value: string, text: string, start: number, end: number, type: Scalar['type'], at: (o: number) => Location): (o: number) => Location {
  return (offset: number) => {
    let j = start + 1;
    const stop = Math.max(start, end - 1);
    for (let i = 0; i < offset && i < value.length && j < stop; i++) {
      if (/\s/.test(value[i]!)) {
        // A line break folds, with the next line's indentation, into one blank; any other
        // blank stands for itself.
        if (text[j] === '\n' || text[j] === '\r') { while (j < stop && /\s/.test(text[j]!)) j++; } else j++;
        continue;
      }
      if (type === 'QUOTE_DOUBLE' && text[j] === '\\') {
        const e = text[j + 1];
        j += e === 'x' ? 4 : e === 'u' ? 6 : e === 'U' ? 10 : 2;
        continue;
      }
      if (type === 'QUOTE_SINGLE' && text[j] === "'" && text[j + 1] === "'") { j += 2; continue; }
      j++;
    }
    return at(Math.min(j, stop));
  };
}
