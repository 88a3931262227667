/**
 * Reading the configuration: YAML with positions → schema → a typed, defaulted config.
 *
 * Problems are gathered, not thrown one by one: every unknown key and bad value is reported
 * as `file:line:col: key.path: message`, pointing at the key (unknown keys) or at the value
 * (bad values) in the file. With no file at all the defaults are used.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, type Node, isMap, isNode, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type VigilConfig, configSchema, outputConfig, sourceConfig, storageConfig } from './schema.ts';

export interface ConfigProblem {
  file: string;
  line?: number;
  col?: number;
  /** Dotted key path: `sources[0].max_line_bytes`. */
  key: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line !== undefined ? `${p.file}:${p.line}:${p.col ?? 1}` : p.file;
  return `${where}: ${p.key ? p.key + ': ' : ''}${p.message}`;
}

function keyPath(path: ReadonlyArray<PropertyKey>): string {
  let s = '';
  for (const k of path) s += typeof k === 'number' ? `[${k}]` : (s ? '.' : '') + String(k);
  return s;
}

/** Defaults only (no file). */
export function defaultConfig(): VigilConfig {
  return configSchema.parse({});
}

/** Validate an already parsed value (tests, programmatic use). */
export function parseConfigValue(value: unknown, file = '<config>'): VigilConfig {
  const r = configSchema.safeParse(value ?? {});
  if (r.success) return r.data;
  throw new ConfigError(r.error.issues.map((i) => ({ file, key: keyPath(i.path), message: i.message })));
}

/** Parse a YAML text; `file` names it in errors. */
export function parseConfigText(text: string, file: string): VigilConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const pos = (offset: number): { line: number; col: number } => lc.linePos(offset);
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => ({ file, ...pos(e.pos[0]), key: '', message: `invalid YAML: ${e.message.split('\n')[0]}` })));
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const r = configSchema.safeParse(value);
  if (r.success) return r.data;
  const problems: ConfigProblem[] = [];
  for (const issue of r.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) {
        const at = locate(doc.contents, [...issue.path, k], true);
        problems.push({ file, ...(at !== undefined ? pos(at) : {}), key: keyPath([...issue.path, k]), message: `unknown key '${k}'${hint(issue.path)}` });
      }
      continue;
    }
    const at = locate(doc.contents, issue.path, issue.code === 'invalid_key');
    problems.push({ file, ...(at !== undefined ? pos(at) : {}), key: keyPath(issue.path), message: describeIssue(issue) });
  }
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
  throw new ConfigError(problems);
}

/** Read and validate a config file. */
export function loadConfigFile(file: string): VigilConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError([{ file, key: '', message: `cannot read: ${err.code ?? err.message}` }]);
  }
  return parseConfigText(text, file);
}

function hint(path: ReadonlyArray<PropertyKey>): string {
  return path.length === 0 ? ' (see docs/config.md)' : '';
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
    return `unknown or missing type (expected one of: ${discriminatorOptions(issue.path)})`;
  }
  if (issue.code === 'invalid_key' && issue.issues[0]) return issue.issues[0].message;
  if (issue.code === 'invalid_value') return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) return `required (${issue.expected})`;
  return issue.message;
}

/** The `type:` values of a variant list, read from the schema (so they cannot go stale). */
function discriminatorOptions(path: ReadonlyArray<PropertyKey>): string {
  const top = path[0];
  const union = top === 'sources' ? sourceConfig : top === 'outputs' ? outputConfig : top === 'storage' ? storageConfig : undefined;
  return union ? union.options.map((o) => String(o.shape.type.value)).join(', ') : '?';
}

/** Offset of the node at `path` (of its key when `wantKey`), or of the nearest parent. */
function locate(root: unknown, path: ReadonlyArray<PropertyKey>, wantKey: boolean): number | undefined {
  let node: unknown = root;
  let best = rangeStart(root);
  for (let i = 0; i < path.length; i++) {
    const k = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(k));
      if (!pair) return best;
      if (last && wantKey) return rangeStart(pair.key) ?? best;
      node = pair.value;
      best = rangeStart(pair.value) ?? rangeStart(pair.key) ?? best;
      if (pair.value === null) return rangeStart(pair.key) ?? best;
    } else if (isSeq(node) && typeof k === 'number') {
      const item = node.items[k];
      if (item === undefined) return best;
      node = item;
      best = rangeStart(item) ?? best;
    } else {
      return best;
    }
  }
  return best;
}

function rangeStart(n: unknown): number | undefined {
  return isNode(n) ? (n as Node).range?.[0] : undefined;
}

/** Command-line overrides, applied after validation. */
export interface ConfigOverrides {
  listen?: string;
  dataDir?: string;
  demo?: boolean;
}

export function applyOverrides(cfg: VigilConfig, o: ConfigOverrides): VigilConfig {
  const out: VigilConfig = { ...cfg };
  if (o.listen !== undefined) {
    const r = configSchema.shape.listen.safeParse(o.listen);
    if (!r.success) throw new ConfigError([{ file: '--listen', key: '', message: `${JSON.stringify(o.listen)}: ${r.error.issues[0]!.message}` }]);
    out.listen = r.data;
  }
  if (o.dataDir !== undefined) out.data_dir = o.dataDir;
  if (o.demo && !out.sources.some((s) => s.type === 'demo')) {
    out.sources = [...out.sources, configSchema.shape.sources.unwrap().element.parse({ type: 'demo' })];
  }
  return out;
}
