/**
 * What the SQL backends share: the write-side preparation of rows (redaction, columns,
 * in-batch dedup) and every query (search with cursor pagination, histogram, top-N, counts
 * by priority, fetch by id). A backend supplies its dialect, a `query` that returns plain
 * rows, and its own writes, schema and retention.
 *
 * Queries with a condition split the work (see sql.ts): rows the SQL lower bound proves are
 * counted in SQL ("sure"); rows only the upper bound admits, and rows marked lossy, are
 * fetched and decided by the compiled condition on their raw event ("maybe"). Without a
 * condition, everything is SQL.
 */
import { createHash } from 'node:crypto';
import { AuditEvent } from '../events/k8saudit.ts';
import type { SyscallEvent } from '../events/syscall.ts';
import { PRIORITIES, parsePriority } from '../rules/collector.ts';
import { type CompiledCondition, compileCondition } from './condition.ts';
import { EVENT_COLUMNS, derivedRow, type EventRow, LIST_SEP, eventColumnByName, eventRow, fieldExtractor } from './columns.ts';
import { type Redactor, makeRedactor } from './redact.ts';
import { type Dialect, type Plan, type Sql, and, not, or, planCondition, sqlText } from './sql.ts';
import { type PreparedSyscallEvent, SYSCALL_PLAN_COLUMNS, SYSCALL_SELECT, prepareSyscallEvents, syscallEventFromRow, syscallEventOf } from './syscall.ts';
import type {
  AlertFilter, HistogramBucket, Page, SearchQuery, Store, StoredAlert, StoredEvent, StoredSyscallEvent, SyscallSearchQuery, TimeRange,
} from './types.ts';

/** Bad input to a query (unknown column, malformed cursor): the message is for a person. */
export class StoreQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreQueryError';
  }
}

export interface CommonStoreOptions {
  /** Extra JSON pointers to redact before events are written (see redact.ts). */
  redactPointers?: readonly string[];
  /** Rules files whose lists and macros conditions may use. */
  rulesFiles?: readonly string[];
}

/** A row as a backend returns it: column name → plain value. */
export type Row = Record<string, unknown>;

/** An event ready to be written. */
export interface PreparedEvent extends EventRow {
  raw: string;
  /** The identity the tables de-duplicate on: audit ID, stage and time, NUL-separated. */
  key: string;
  /** timeNs as decimal text. */
  timeText: string;
  labelsJson?: string;
}

export interface PreparedAlert {
  id: string;
  timeNs: bigint;
  rule: string;
  priority: string;
  priorityNum: number;
  source: string;
  output: string;
  outputFields: string;
  tags: string[];
  labelsJson?: string;
  cluster?: string;
  region?: string;
  team?: string;
  eventRef?: string;
  eventAuditId?: string;
  eventStage?: string;
  hunt: boolean;
  event?: string;
}

export const EVENT_SELECT = ['time_ns', ...EVENT_COLUMNS.map((c) => c.column), 'labels', 'source_ips', 'lossy', 'raw'];
export const ALERT_SELECT = ['id', 'time_ns', 'rule', 'priority', 'source', 'output', 'output_fields', 'tags', 'labels', 'event_ref', 'hunt', 'event'];

/** Alert columns that top-N accepts. */
const ALERT_TOPN = new Set(['rule', 'priority', 'source', 'cluster', 'region', 'team', 'tags']);

/**
 * Most rows one query of a scan (search pages, rows for a condition's JavaScript part) asks for.
 * DuckDB answers `ORDER BY time_ns ... LIMIT n` by reading only the row groups that can hold
 * the top n when n is small; at 8,000 and above it read the whole range instead (measured on
 * 10M events: 5,000 rows in 41 ms, 10,000 in 4.3 s, and at a 64MB memory limit the latter
 * failed for memory).
 */
const SCAN_CHUNK_MAX = 4096;

const NS_PER_S = 1_000_000_000n;
const BUCKET_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];

/** The round bucket (ns) that cuts `range` into at most `buckets` pieces. */
export function chooseBucketNs(range: TimeRange, buckets: number): bigint {
  const span = range.toNs - range.fromNs;
  const max = BigInt(Math.max(1, Math.floor(buckets)));
  for (const s of BUCKET_STEPS_S) {
    const step = BigInt(s) * NS_PER_S;
    if ((span + step - 1n) / step <= max) return step;
  }
  const week = 604800n * NS_PER_S;
  const weeks = (span / week + max - 1n) / max + 1n;
  return weeks * week;
}

function toBig(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'string') return BigInt(v);
  throw new Error(`store: expected an integer, got ${typeof v}`);
}

function toNum(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

function optStr(v: unknown): string | undefined {
  return v === null || v === undefined ? undefined : String(v);
}

/** A list column: an array (ClickHouse, DuckDB alerts) or text joined with U+001E (DuckDB events). */
function strList(v: unknown): string[] | undefined {
  if (v === null || v === undefined) return undefined;
  const a = typeof v === 'string' ? v.split(LIST_SEP) : (v as unknown[]);
  return a.length ? a.map(String) : undefined;
}

/** Output fields may hold bigints (`evt.time`): kept as tagged strings in the stored JSON. */
export function encodeFields(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? { $bigint: x.toString() } : x));
}

export function decodeFields(s: string): Record<string, unknown> {
  return JSON.parse(s, (_k, x) => {
    if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
      const keys = Object.keys(x);
      if (keys.length === 1 && keys[0] === '$bigint' && typeof x.$bigint === 'string') return BigInt(x.$bigint);
    }
    return x;
  }) as Record<string, unknown>;
}

function hashId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}

/** Stable id of a hunt hit: the same rule on the same event is stored once however often hunted. */
export function huntAlertId(rule: string, source: string, eventRef: string): string {
  return hashId('hunt', rule, source, eventRef);
}

interface CursorKey { t: bigint; k: string[] }

function encodeCursor(c: CursorKey): string {
  return Buffer.from(JSON.stringify([c.t.toString(), ...c.k])).toString('base64url');
}

function decodeCursor(s: string, keys: number): CursorKey {
  try {
    const a = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(a) && a.length === keys + 1 && a.every((x) => typeof x === 'string') && /^-?\d+$/.test(a[0] as string)) {
      return { t: BigInt(a[0] as string), k: a.slice(1) as string[] };
    }
  } catch { /* fall through */ }
  throw new StoreQueryError('invalid cursor (pass back the cursor of a previous page unchanged)');
}

export abstract class SqlStore implements Store {
  /** The last write in flight: writes run one at a time, in order. */
  protected chain: Promise<unknown> = Promise.resolve();

  /** Run `fn` after every write before it (one writer at a time). */
  protected serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  abstract readonly kind: 'duckdb' | 'clickhouse';
  protected abstract readonly dialect: Dialect;
  protected readonly redact: Redactor;
  /** No pointers beyond the built-in ones: what toStoredEvent already applied. */
  private readonly defaultRedaction: boolean;
  /** Event columns a query reads (a backend may keep `raw` elsewhere, see duckdb.ts). */
  protected readonly eventSelect: readonly string[] = EVENT_SELECT;
  protected readonly rulesFiles: readonly string[];
  private readonly conditions = new Map<string, CompiledCondition>();
  private readonly syscallConditions = new Map<string, CompiledCondition<SyscallEvent>>();

  constructor(opts: CommonStoreOptions) {
    this.redact = makeRedactor({ extraPointers: opts.redactPointers });
    this.defaultRedaction = !opts.redactPointers?.length;
    this.rulesFiles = opts.rulesFiles ?? [];
  }

  abstract open(): Promise<void>;
  abstract close(): Promise<void>;
  abstract writeEvents(batch: StoredEvent[]): Promise<number>;
  abstract writeAlerts(batch: StoredAlert[]): Promise<number>;
  /** Write syscall events (prepared here, written by the backend one batch at a time). */
  writeSyscallEvents(batch: StoredSyscallEvent[]): Promise<number> {
    if (batch.length === 0) return Promise.resolve(0);
    const rows = prepareSyscallEvents(batch);
    return this.serial(() => this.insertSyscallEvents(rows));
  }

  protected abstract insertSyscallEvents(rows: PreparedSyscallEvent[]): Promise<number>;
  abstract enforceRetention(policy: Parameters<Store['enforceRetention']>[0]): Promise<void>;
  /** Run a read query; rows as plain objects (bigint or decimal text for 64-bit integers). */
  protected abstract query(sql: string): Promise<Row[]>;
  /** `SELECT v, count` over list elements (`unnest` / `arrayJoin`). */
  protected abstract unnest(col: string): string;

  /**
   * Alerts (`a`) with the audit event that fired each (`e`). An alert's time is its event's,
   * so a backend may restrict the events side to the range.
   */
  protected alertEventJoin(_range: TimeRange): string {
    return 'alerts a INNER JOIN events e ON e.audit_id = a.event_audit_id AND e.stage = a.event_stage';
  }

  // ---- write preparation ---------------------------------------------------------------------

  /** Redact, derive columns, drop in-batch duplicates (first one wins; `seen` spans chunks). */
  protected prepareEvents(batch: StoredEvent[], seen = new Set<string>()): PreparedEvent[] {
    const out: PreparedEvent[] = [];
    for (const e of batch) {
      // An event made by toStoredEvent is redacted already (with the built-in rules).
      let row = derivedRow(e);
      const raw = row !== undefined && this.defaultRedaction ? e.raw : this.redact(e.raw, e.rawText);
      if (raw !== e.raw) row = undefined;
      if (row === undefined) {
        const labels: Record<string, string> = {};
        if (e.labels) Object.assign(labels, e.labels);
        if (e.cluster !== undefined) labels.cluster = e.cluster;
        if (e.region !== undefined) labels.region = e.region;
        if (e.team !== undefined) labels.team = e.team;
        row = eventRow(raw, e.timeNs, Object.keys(labels).length ? labels : undefined);
      }
      // The identity the tables dedup on (see duckdb.ts): a resent event has the same time.
      const timeText = row.timeNs.toString();
      const key = row.auditId + '\u0000' + row.stage + '\u0000' + timeText;
      if (seen.has(key)) continue;
      seen.add(key);
      const p = row as PreparedEvent;
      p.key = key;
      p.timeText = timeText;
      p.raw = raw === e.raw && e.rawText !== undefined ? e.rawText : JSON.stringify(raw);
      if (row.labels) p.labelsJson = JSON.stringify(row.labels);
      out.push(p);
    }
    return out;
  }

  protected prepareAlerts(batch: StoredAlert[]): PreparedAlert[] {
    const seen = new Set<string>();
    const out: PreparedAlert[] = [];
    for (const a of batch) {
      if (seen.has(a.id)) continue;
      seen.add(a.id);
      const p: PreparedAlert = {
        id: a.id, timeNs: a.timeNs, rule: a.rule, priority: a.priority, priorityNum: parsePriority(a.priority) ?? 7,
        source: a.source, output: a.output, outputFields: encodeFields(a.outputFields ?? {}), tags: a.tags ?? [], hunt: !!a.hunt,
      };
      if (a.labels && Object.keys(a.labels).length) {
        p.labelsJson = JSON.stringify(a.labels);
        p.cluster = a.labels.cluster;
        p.region = a.labels.region;
        p.team = a.labels.team;
      }
      if (a.eventRef !== undefined) {
        p.eventRef = a.eventRef;
        const slash = a.eventRef.lastIndexOf('/');
        if (a.source === 'k8s_audit' && slash >= 0) {
          p.eventAuditId = a.eventRef.slice(0, slash);
          p.eventStage = a.eventRef.slice(slash + 1);
        }
      }
      if (a.event !== undefined) p.event = encodeFields(a.event);
      out.push(p);
    }
    return out;
  }

  // ---- rows → objects ------------------------------------------------------------------------

  protected eventFromRow(r: Row, prefix = ''): StoredEvent {
    const g = (c: string) => r[prefix + c];
    const raw = JSON.parse(String(g('raw'))) as Record<string, unknown>;
    const e: StoredEvent = { timeNs: toBig(g('time_ns')), auditId: String(g('audit_id')), stage: String(g('stage')), raw };
    for (const c of EVENT_COLUMNS) {
      if (c.key === 'auditId' || c.key === 'stage') continue;
      const v = g(c.column);
      if (v === null || v === undefined) continue;
      if (c.kind === 'list') { const l = strList(v); if (l) e.groups = l; } else if (c.kind === 'int') e.responseCode = toNum(v);
      else (e as unknown as Record<string, unknown>)[c.key] = String(v);
    }
    const labels = optStr(g('labels'));
    if (labels) e.labels = JSON.parse(labels) as Record<string, string>;
    const ips = strList(g('source_ips'));
    if (ips) e.sourceIps = ips;
    return e;
  }

  protected alertFromRow(r: Row): StoredAlert {
    const a: StoredAlert = {
      id: String(r.id), timeNs: toBig(r.time_ns), rule: String(r.rule), priority: String(r.priority), source: String(r.source),
      output: String(r.output), outputFields: decodeFields(String(r.output_fields)), tags: strList(r.tags) ?? [],
    };
    const labels = optStr(r.labels);
    if (labels) a.labels = JSON.parse(labels) as Record<string, string>;
    const ref = optStr(r.event_ref);
    if (ref) a.eventRef = ref;
    if (r.hunt === true || r.hunt === 1 || r.hunt === '1') a.hunt = true;
    const ev = optStr(r.event);
    if (ev) a.event = decodeFields(ev);
    return a;
  }

  /** The audit event a condition is evaluated on, rebuilt from a stored one. */
  static auditEvent(e: StoredEvent): AuditEvent {
    const labels: Record<string, string> = { ...(e.labels ?? {}) };
    if (e.cluster !== undefined) labels.cluster = e.cluster;
    if (e.region !== undefined) labels.region = e.region;
    if (e.team !== undefined) labels.team = e.team;
    return new AuditEvent(e.raw, e.timeNs, Object.keys(labels).length ? labels : undefined);
  }

  // ---- conditions ----------------------------------------------------------------------------

  protected compile(condition: string | undefined): CompiledCondition | undefined {
    if (condition === undefined || condition.trim() === '') return undefined;
    let c = this.conditions.get(condition);
    if (!c) {
      c = compileCondition(condition, this.rulesFiles);
      if (this.conditions.size > 200) this.conditions.clear();
      this.conditions.set(condition, c);
    }
    return c;
  }

  protected plan(c: CompiledCondition | undefined, alias: string): Plan | undefined {
    return c ? planCondition(c.ast, this.dialect, (col) => `${alias}.${col}`) : undefined;
  }

  protected rangeSql(range: TimeRange, alias: string): Sql {
    if (range.toNs <= range.fromNs) return false;
    return `(${alias}.time_ns >= ${range.fromNs} AND ${alias}.time_ns < ${range.toNs})`;
  }

  protected lit(p: Sql): string {
    return sqlText(p, this.dialect);
  }

  private alertFilterSql(f: AlertFilter | undefined, alias: string): Sql {
    if (!f) return true;
    const parts: Sql[] = [];
    const d = this.dialect;
    if (f.rules !== undefined) parts.push(f.rules.length ? `${alias}.rule IN (${f.rules.map(d.str).join(', ')})` : false);
    if (f.minPriority !== undefined) {
      const p = typeof f.minPriority === 'number' ? f.minPriority : parsePriority(f.minPriority);
      if (p === undefined || !Number.isInteger(p) || p < 0 || p > 7) {
        throw new StoreQueryError(`invalid minimum priority '${f.minPriority}' (one of ${PRIORITIES.join(', ').toLowerCase()})`);
      }
      parts.push(`${alias}.priority_num <= ${p}`);
    }
    if (f.source !== undefined) parts.push(`${alias}.source = ${d.str(f.source)}`);
    if (f.hunt !== undefined) parts.push(f.hunt ? d.isTrue(`${alias}.hunt`) : `(NOT ${d.isTrue(`${alias}.hunt`)})`);
    return and(parts);
  }

  private selectList(cols: readonly string[], alias: string, prefix = ''): string {
    return cols.map((c) => `${alias}.${c} AS ${prefix}${c}`).join(', ');
  }

  // ---- search --------------------------------------------------------------------------------

  async searchEvents(q: SearchQuery): Promise<Page<StoredEvent>> {
    const cond = this.compile(q.condition);
    const plan = this.plan(cond, 'e');
    const desc = q.order !== 'asc';
    const cmp = desc ? '<' : '>';
    const dir = desc ? 'DESC' : 'ASC';
    const base = and([this.rangeSql(q.range, 'e'), plan ? or([this.dialect.isTrue('e.lossy'), plan.upper]) : true]);
    let cursor = q.cursor ? decodeCursor(q.cursor, 2) : undefined;
    const limit = Math.max(1, Math.floor(q.limit));
    const items: StoredEvent[] = [];
    let chunk = Math.min(Math.max(limit + 1, cond ? 200 : 0), SCAN_CHUNK_MAX);
    const d = this.dialect;
    for (;;) {
      const after: Sql = cursor
        ? `(e.time_ns ${cmp} ${cursor.t} OR (e.time_ns = ${cursor.t} AND (e.audit_id ${cmp} ${d.str(cursor.k[0]!)} OR (e.audit_id = ${d.str(cursor.k[0]!)} AND e.stage ${cmp} ${d.str(cursor.k[1]!)}))))`
        : true;
      const where = and([base, after]);
      if (where === false) return { items };
      const rows = await this.query(
        `SELECT ${this.selectList(this.eventSelect, 'e')} FROM events e WHERE ${this.lit(where)} ORDER BY e.time_ns ${dir}, e.audit_id ${dir}, e.stage ${dir} LIMIT ${chunk}`);
      for (const r of rows) {
        const ev = this.eventFromRow(r);
        cursor = { t: ev.timeNs, k: [ev.auditId, ev.stage] };
        if (cond && !cond.test(SqlStore.auditEvent(ev))) continue;
        items.push(ev);
        // A full page always carries a cursor; the page after it may turn out empty.
        if (items.length === limit) return { items, cursor: encodeCursor(cursor) };
      }
      if (rows.length < chunk) return { items };
      chunk = Math.min(chunk * 4, SCAN_CHUNK_MAX);
    }
  }

  /**
   * Syscall events: the time range and the checks on typed columns narrow in SQL (an upper
   * bound, sql.ts, with the syscall columns); the compiled condition decides on every record,
   * so the answer is a replay's. Rows marked lossy are always decided on their record.
   */
  async searchSyscallEvents(q: SyscallSearchQuery): Promise<Page<StoredSyscallEvent>> {
    let cond: CompiledCondition<SyscallEvent> | undefined;
    if (q.condition !== undefined && q.condition.trim() !== '') {
      cond = this.syscallConditions.get(q.condition);
      if (!cond) {
        cond = compileCondition(q.condition, this.rulesFiles, 'syscall');
        if (this.syscallConditions.size > 200) this.syscallConditions.clear();
        this.syscallConditions.set(q.condition, cond);
      }
    }
    const d = this.dialect;
    const plan = cond ? planCondition(cond.ast, d, (col) => `s.${col}`, SYSCALL_PLAN_COLUMNS) : undefined;
    const desc = q.order !== 'asc';
    const cmp = desc ? '<' : '>';
    const dir = desc ? 'DESC' : 'ASC';
    const base = and([this.rangeSql(q.range, 's'), plan ? or([d.isTrue('s.lossy'), plan.upper]) : true]);
    let cursor = q.cursor ? decodeCursor(q.cursor, 1) : undefined;
    const limit = Math.max(1, Math.floor(q.limit));
    const items: StoredSyscallEvent[] = [];
    let chunk = Math.min(Math.max(limit + 1, cond ? 200 : 0), SCAN_CHUNK_MAX);
    for (;;) {
      const after: Sql = cursor ? `(s.time_ns ${cmp} ${cursor.t} OR (s.time_ns = ${cursor.t} AND s.id ${cmp} ${d.str(cursor.k[0]!)}))` : true;
      const where = and([base, after]);
      if (where === false) return { items };
      const rows = await this.query(
        `SELECT ${this.selectList(SYSCALL_SELECT, 's')} FROM syscall_events s WHERE ${this.lit(where)} ORDER BY s.time_ns ${dir}, s.id ${dir} LIMIT ${chunk}`);
      for (const r of rows) {
        const e = syscallEventFromRow(r);
        cursor = { t: e.timeNs, k: [e.id!] };
        if (cond && !cond.test(syscallEventOf(e))) continue;
        items.push(e);
        if (items.length === limit) return { items, cursor: encodeCursor(cursor) };
      }
      if (rows.length < chunk) return { items };
      chunk = Math.min(chunk * 4, SCAN_CHUNK_MAX);
    }
  }

  async searchAlerts(q: SearchQuery): Promise<Page<StoredAlert>> {
    const cond = this.compile(q.condition);
    const plan = this.plan(cond, 'e');
    const desc = q.order !== 'asc';
    const cmp = desc ? '<' : '>';
    const dir = desc ? 'DESC' : 'ASC';
    const d = this.dialect;
    const base = and([
      this.rangeSql(q.range, 'a'), this.alertFilterSql(q.alerts, 'a'),
      plan ? or([d.isTrue('e.lossy'), plan.upper]) : true,
    ]);
    const from = cond ? this.alertEventJoin(q.range) : 'alerts a';
    const cols = this.selectList(ALERT_SELECT, 'a') + (cond ? ', ' + this.selectList(this.eventSelect, 'e', 'e_') : '');
    let cursor = q.cursor ? decodeCursor(q.cursor, 1) : undefined;
    const limit = Math.max(1, Math.floor(q.limit));
    const items: StoredAlert[] = [];
    let chunk = Math.min(Math.max(limit + 1, cond ? 200 : 0), SCAN_CHUNK_MAX);
    for (;;) {
      const after: Sql = cursor ? `(a.time_ns ${cmp} ${cursor.t} OR (a.time_ns = ${cursor.t} AND a.id ${cmp} ${d.str(cursor.k[0]!)}))` : true;
      const where = and([base, after]);
      if (where === false) return { items };
      const rows = await this.query(`SELECT ${cols} FROM ${from} WHERE ${this.lit(where)} ORDER BY a.time_ns ${dir}, a.id ${dir} LIMIT ${chunk}`);
      for (const r of rows) {
        const a = this.alertFromRow(r);
        cursor = { t: a.timeNs, k: [a.id] };
        if (cond && !cond.test(SqlStore.auditEvent(this.eventFromRow(r, 'e_')))) continue;
        items.push(a);
        if (items.length === limit) return { items, cursor: encodeCursor(cursor) };
      }
      if (rows.length < chunk) return { items };
      chunk = Math.min(chunk * 4, SCAN_CHUNK_MAX);
    }
  }

  // ---- aggregations --------------------------------------------------------------------------

  /**
   * Split a filtered aggregation into SQL ("sure") and JavaScript ("maybe") parts. Event
   * columns are under `e`. `sureWhere` narrows the SQL part only; with `lossyAware`, rows marked
   * lossy go to JavaScript even without a condition (an aggregation that reads their columns).
   */
  private async split<T>(
    table: 'events' | 'alerts', range: TimeRange, condition: string | undefined,
    opts: { sureWhere?: Sql; lossyAware?: boolean },
    sqlPart: (from: string, where: string) => Promise<T>,
    jsPart: (from: string, where: string, test: (r: Row) => boolean) => Promise<T>,
    merge: (a: T, b: T) => T,
  ): Promise<T> {
    const cond = this.compile(condition);
    const alias = table === 'events' ? 'e' : 'a';
    const inRange = this.rangeSql(range, alias);
    const from = table === 'events' ? 'events e' : cond ? this.alertEventJoin(range) : 'alerts a';
    const d = this.dialect;
    const lossy = d.isTrue('e.lossy');
    let sure: Sql;
    let maybe: Sql;
    if (!cond) {
      if (!opts.lossyAware) return sqlPart(from, this.lit(and([inRange, opts.sureWhere ?? true])));
      sure = and([inRange, not(lossy), opts.sureWhere ?? true]);
      maybe = and([inRange, lossy]);
    } else {
      const plan = this.plan(cond, 'e')!;
      sure = and([inRange, not(lossy), plan.lower, opts.sureWhere ?? true]);
      maybe = and([inRange, or([lossy, and([plan.upper, not(plan.lower)])])]);
    }
    const test = cond ? (r: Row) => cond.test(SqlStore.auditEvent(this.eventFromRow(r, 'e_'))) : () => true;
    const a = sure === false ? undefined : await sqlPart(from, this.lit(sure));
    const b = maybe === false ? undefined : await jsPart(from, this.lit(maybe), test);
    if (a !== undefined && b !== undefined) return merge(a, b);
    return a ?? b ?? sqlPart(from, this.lit(false));
  }

  /** Stream rows for the JavaScript side of an aggregation, in pages, by (time, rowid-ish key). */
  private async *scanRows(from: string, where: string, extraCols: string, keyAlias: 'e' | 'a'): AsyncGenerator<Row> {
    const cols = this.selectList(this.eventSelect, 'e', 'e_') + (extraCols ? ', ' + extraCols : '');
    const keyCols = keyAlias === 'e' ? ['e.audit_id', 'e.stage'] : ['a.id'];
    let last: { t: bigint; k: string[] } | undefined;
    const d = this.dialect;
    const page = SCAN_CHUNK_MAX;
    for (;;) {
      let after = '';
      if (last) {
        const t = `${keyAlias}.time_ns`;
        let tie = `${keyCols[keyCols.length - 1]} > ${d.str(last.k[last.k.length - 1]!)}`;
        for (let i = keyCols.length - 2; i >= 0; i--) {
          tie = `(${keyCols[i]} > ${d.str(last.k[i]!)} OR (${keyCols[i]} = ${d.str(last.k[i]!)} AND ${tie}))`;
        }
        after = ` AND (${t} > ${last.t} OR (${t} = ${last.t} AND ${tie}))`;
      }
      const rows = await this.query(
        `SELECT ${cols}, ${keyAlias}.time_ns AS k_t, ${keyCols.map((c, i) => `${c} AS k_${i}`).join(', ')} FROM ${from} WHERE ${where}${after} ` +
        `ORDER BY ${keyAlias}.time_ns, ${keyCols.join(', ')} LIMIT ${page}`);
      for (const r of rows) yield r;
      if (rows.length < page) return;
      const r = rows[rows.length - 1]!;
      last = { t: toBig(r.k_t), k: keyCols.map((_, i) => String(r[`k_${i}`])) };
    }
  }

  async histogram(table: 'events' | 'alerts', range: TimeRange, condition?: string, buckets = 60): Promise<HistogramBucket[]> {
    const step = chooseBucketNs(range, buckets);
    const alias = table === 'events' ? 'e' : 'a';
    const d = this.dialect;
    const bucketExpr = d.intDiv(`${alias}.time_ns`, String(step));
    const counts = await this.split<Map<bigint, number>>(
      table, range, condition, {},
      async (from, where) => {
        const rows = await this.query(`SELECT ${bucketExpr} AS b, count(*) AS n FROM ${from} WHERE ${where} GROUP BY b`);
        return new Map(rows.map((r) => [toBig(r.b), toNum(r.n)]));
      },
      async (from, where, test) => {
        const m = new Map<bigint, number>();
        for await (const r of this.scanRows(from, where, `${alias}.time_ns AS x_t`, alias)) {
          if (!test(r)) continue;
          const b = toBig(r.x_t) / step;
          m.set(b, (m.get(b) ?? 0) + 1);
        }
        return m;
      },
      (a, b) => { for (const [k, v] of b) a.set(k, (a.get(k) ?? 0) + v); return a; },
    );
    const out: HistogramBucket[] = [];
    if (range.toNs <= range.fromNs) return out;
    const first = floorDiv(range.fromNs, step);
    const last = floorDiv(range.toNs - 1n, step);
    for (let b = first; b <= last; b++) out.push({ startNs: b * step, count: counts.get(b) ?? 0 });
    return out;
  }

  async topN(table: 'events' | 'alerts', column: string, range: TimeRange, n: number, condition?: string): Promise<{ value: string; count: number }[]> {
    let colSql: string;
    let list: boolean;
    /** The value a row contributes, read from its raw event (rows whose columns are inexact). */
    let exact: ((r: Row) => unknown) | undefined;
    if (table === 'events') {
      const c = eventColumnByName(column);
      if (!c) {
        throw new StoreQueryError(`cannot rank events by '${column}': one of ${EVENT_COLUMNS.map((x) => x.field).join(', ')}`);
      }
      list = c.kind === 'list';
      colSql = list ? this.dialect.listExpr(`e.${c.column}`) : `e.${c.column}`;
      const get = fieldExtractor(c.field);
      exact = (r) => get(SqlStore.auditEvent(this.eventFromRow(r, 'e_')));
    } else {
      if (!ALERT_TOPN.has(column)) throw new StoreQueryError(`cannot rank alerts by '${column}': one of ${[...ALERT_TOPN].join(', ')}`);
      colSql = `a.${column}`;
      list = column === 'tags';
    }
    const limit = Math.max(1, Math.floor(n));
    const valueExpr = list ? this.unnest(colSql) : colSql;
    const notNull = list ? true : `${colSql} IS NOT NULL`;
    const group = (from: string, where: string, lim: string) =>
      this.query(`SELECT v, count(*) AS n FROM (SELECT ${valueExpr} AS v FROM ${from} WHERE ${where}) t GROUP BY v${lim}`);
    const toMap = (rows: Row[]) => new Map(rows.filter((r) => r.v !== null).map((r) => [String(r.v), toNum(r.n)]));
    if (!condition && (table === 'alerts' || (await this.lossyCount(range)) === 0)) {
      // The common case: the database ranks alone.
      const rows = await group(table === 'events' ? 'events e' : 'alerts a', this.lit(and([this.rangeSql(range, table === 'events' ? 'e' : 'a'), notNull])), ` ORDER BY n DESC, v LIMIT ${limit}`);
      return sortTop(toMap(rows), limit);
    }
    const counts = await this.split<Map<string, number>>(
      table, range, condition, { sureWhere: notNull, lossyAware: table === 'events' },
      async (from, where) => toMap(await group(from, where, '')),
      async (from, where, test) => {
        const m = new Map<string, number>();
        for await (const r of this.scanRows(from, where, `${colSql} AS x_v`, table === 'events' ? 'e' : 'a')) {
          if (!test(r)) continue;
          const v = exact ? exact(r) : r.x_v;
          if (v === null || v === undefined) continue;
          for (const x of list ? (v as unknown[]) : [v]) m.set(String(x), (m.get(String(x)) ?? 0) + 1);
        }
        return m;
      },
      (a, b) => { for (const [k, v] of b) a.set(k, (a.get(k) ?? 0) + v); return a; },
    );
    return sortTop(counts, limit);
  }

  private async lossyCount(range: TimeRange): Promise<number> {
    const where = and([this.rangeSql(range, 'e'), this.dialect.isTrue('e.lossy')]);
    const r = await this.query(`SELECT count(*) AS n FROM events e WHERE ${this.lit(where)}`);
    return toNum(r[0]?.n ?? 0);
  }

  async countByPriority(range: TimeRange, condition?: string): Promise<Record<string, number>> {
    const m = await this.split<Map<string, number>>(
      'alerts', range, condition, {},
      async (from, where) => {
        const rows = await this.query(`SELECT a.priority AS p, count(*) AS n FROM ${from} WHERE ${where} GROUP BY a.priority`);
        return new Map(rows.map((r) => [String(r.p), toNum(r.n)]));
      },
      async (from, where, test) => {
        const out = new Map<string, number>();
        for await (const r of this.scanRows(from, where, 'a.priority AS x_p', 'a')) {
          if (test(r)) out.set(String(r.x_p), (out.get(String(r.x_p)) ?? 0) + 1);
        }
        return out;
      },
      (a, b) => { for (const [k, v] of b) a.set(k, (a.get(k) ?? 0) + v); return a; },
    );
    const out: Record<string, number> = {};
    // Most severe first.
    for (const p of PRIORITIES) if (m.has(p)) out[p] = m.get(p)!;
    for (const [k, v] of m) if (!(k in out)) out[k] = v;
    return out;
  }

  // ---- fetch ---------------------------------------------------------------------------------

  async getEvent(auditId: string, stage?: string): Promise<StoredEvent | undefined> {
    const d = this.dialect;
    const where = `e.audit_id = ${d.str(auditId)}` + (stage !== undefined ? ` AND e.stage = ${d.str(stage)}` : '');
    // Without a stage: the latest stage (ResponseComplete after RequestReceived).
    const rows = await this.query(`SELECT ${this.selectList(this.eventSelect, 'e')} FROM events e WHERE ${where} ORDER BY e.time_ns DESC, e.stage LIMIT 1`);
    return rows[0] ? this.eventFromRow(rows[0]) : undefined;
  }

  async getAlert(id: string): Promise<StoredAlert | undefined> {
    const rows = await this.query(`SELECT ${this.selectList(ALERT_SELECT, 'a')} FROM alerts a WHERE a.id = ${this.dialect.str(id)} LIMIT 1`);
    return rows[0] ? this.alertFromRow(rows[0]) : undefined;
  }

  async counts(): Promise<{ events: number; alerts: number }> {
    const e = await this.query('SELECT count(*) AS n FROM events');
    const a = await this.query('SELECT count(*) AS n FROM alerts');
    return { events: toNum(e[0]?.n ?? 0), alerts: toNum(a[0]?.n ?? 0) };
  }
}

function sortTop(counts: Map<string, number>, limit: number): { value: string; count: number }[] {
  return [...counts].map(([value, count]) => ({ value, count }))
    .sort((x, y) => y.count - x.count || (x.value < y.value ? -1 : x.value > y.value ? 1 : 0))
    .slice(0, limit);
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;
}
