/**
 * The scale-out backend: ClickHouse through its HTTP interface (`@clickhouse/client`).
 *
 * Written for every ClickHouse from 18.16 (Debian's) on, so the SQL avoids what 18.16 lacks:
 * no DateTime64 (times are Int64 nanoseconds), no startsWith/endsWith (see sql.ts), no query
 * parameters (literals are escaped by the dialect), no LowCardinality, no TTL.
 *
 * Idempotence has two layers. Before a batch is inserted, the keys it carries are looked up
 * in the batch's time span and rows already stored are dropped (exact for one writer). The
 * tables are ReplacingMergeTree on the identity (time_ns, audit_id, stage) / (time_ns, id), so
 * even concurrent writers converge to one row per identity when parts merge.
 *
 * Syscall events (`syscall_events`, src/store/syscall.ts) follow the same pattern: looked up
 * by id in the batch's time span, ReplacingMergeTree on (time_ns, id), partitioned by day.
 *
 * Events are partitioned by day: retention by age drops whole days and deletes the rest of
 * the boundary day with a mutation; retention by size drops the oldest days until the table
 * fits.
 */
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { type CommonStoreOptions, EVENT_SELECT, type PreparedAlert, type PreparedEvent, type Row, SqlStore } from './sqlstore.ts';
import { clickhouseDialect } from './sql.ts';
import { type PreparedSyscallEvent, SYSCALL_COLUMNS } from './syscall.ts';
import { timeSpan } from './time.ts';
import type { RetentionPolicy, Store, StoredAlert, StoredEvent, StoredSyscallEvent, TimeRange } from './types.ts';

export interface ClickHouseStoreOptions extends CommonStoreOptions {
  url: string;
  database: string;
  username: string;
  password: string;
  /** Per-request timeout (default 300 s). */
  requestTimeoutMs?: number;
}

const DAY = 'toYYYYMMDD(toDateTime(intDiv(time_ns, 1000000000)))';
const MONTH = 'toYYYYMM(toDateTime(intDiv(time_ns, 1000000000)))';

const EVENTS_DDL = `CREATE TABLE IF NOT EXISTS events (
  time_ns Int64,
  audit_id String,
  stage String,
  cluster Nullable(String),
  region Nullable(String),
  team Nullable(String),
  user_name Nullable(String),
  groups Array(String),
  verb Nullable(String),
  resource Nullable(String),
  subresource Nullable(String),
  namespace Nullable(String),
  name Nullable(String),
  response_code Nullable(Int32),
  decision Nullable(String),
  user_agent Nullable(String),
  labels Nullable(String),
  source_ips Array(String),
  lossy UInt8,
  raw String
) ENGINE = ReplacingMergeTree PARTITION BY ${DAY} ORDER BY (time_ns, audit_id, stage)`;

const ALERTS_DDL = `CREATE TABLE IF NOT EXISTS alerts (
  id String,
  time_ns Int64,
  rule String,
  priority String,
  priority_num UInt8,
  source String,
  output String,
  output_fields String,
  tags Array(String),
  labels Nullable(String),
  cluster Nullable(String),
  region Nullable(String),
  team Nullable(String),
  event_ref Nullable(String),
  event_audit_id Nullable(String),
  event_stage Nullable(String),
  hunt UInt8,
  event Nullable(String)
) ENGINE = ReplacingMergeTree PARTITION BY ${MONTH} ORDER BY (time_ns, id)`;

const SYSCALL_EVENTS_DDL = `CREATE TABLE IF NOT EXISTS syscall_events (
  time_ns Int64,
  id String,
  host String,
${SYSCALL_COLUMNS.map((c) => `  ${c.column} Nullable(String),`).join('\n')}
  labels Nullable(String),
  lossy UInt8,
  record String
) ENGINE = ReplacingMergeTree PARTITION BY ${DAY} ORDER BY (time_ns, id)`;

const n = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

function ident(s: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) throw new Error(`store: invalid ClickHouse database name '${s}'`);
  return s;
}

export class ClickHouseStore extends SqlStore implements Store {
  readonly kind = 'clickhouse' as const;
  protected readonly dialect = clickhouseDialect;
  private client?: ClickHouseClient;

  constructor(readonly opts: ClickHouseStoreOptions) {
    super(opts);
  }

  private where(): string {
    return `ClickHouse at ${this.opts.url}`;
  }

  async open(): Promise<void> {
    const db = ident(this.opts.database);
    const base = { url: this.opts.url, username: this.opts.username, password: this.opts.password, request_timeout: this.opts.requestTimeoutMs ?? 300_000,
      // Errors reach the caller as exceptions; the client's own console logging is noise.
      log: { level: ClickHouseLogLevel.OFF } };
    const admin = createClient(base);
    try {
      await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
    } catch (e) {
      throw new Error(`store: ${this.where()}: ${firstLine(e)}`);
    } finally {
      await admin.close();
    }
    this.client = createClient({ ...base, database: db });
    await this.client.command({ query: EVENTS_DDL });
    await this.client.command({ query: ALERTS_DDL });
    await this.client.command({ query: SYSCALL_EVENTS_DDL });
  }

  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
    await this.client?.close();
    this.client = undefined;
  }

  private c(): ClickHouseClient {
    if (!this.client) throw new Error('store: not open');
    return this.client;
  }

  protected async query(sql: string): Promise<Row[]> {
    try {
      const r = await this.c().query({ query: sql, format: 'JSONEachRow' });
      return await r.json<Row>();
    } catch (e) {
      throw new Error(`store: ${this.where()}: ${firstLine(e)}`);
    }
  }

  protected unnest(col: string): string {
    return `arrayJoin(${col})`;
  }

  protected override alertEventJoin(range: TimeRange): string {
    // 18.16 builds the right side of a join in memory: only the events of the range.
    const cols = EVENT_SELECT.join(', ');
    return `alerts a INNER JOIN (SELECT ${cols} FROM events WHERE time_ns >= ${range.fromNs} AND time_ns < ${range.toNs}) e ` +
      `ON e.audit_id = a.event_audit_id AND e.stage = a.event_stage`;
  }

  async exec(sql: string): Promise<void> {
    await this.c().command({ query: sql });
  }

  writeEvents(batch: StoredEvent[]): Promise<number> {
    if (batch.length === 0) return Promise.resolve(0);
    const rows = this.prepareEvents(batch);
    return this.serial(() => this.insertEvents(rows));
  }

  /** Keys of `table` already stored among `keys` (time_ns + key columns), in a time span. */
  private async existing(table: string, keyCols: string[], keyIn: string, rows: Array<{ timeNs: bigint; key: string }>): Promise<Set<string>> {
    const [min, max] = timeSpan(rows);
    const d = this.dialect;
    const ids = [...new Set(rows.map((r) => r.key.split('\u0000')[0]!))];
    const out = new Set<string>();
    for (let i = 0; i < ids.length; i += 2000) {
      const part = ids.slice(i, i + 2000);
      const found = await this.query(
        `SELECT toString(time_ns) AS t, ${keyCols.join(', ')} FROM ${table} WHERE time_ns >= ${min} AND time_ns <= ${max} AND ${keyIn} IN (${part.map(d.str).join(', ')})`);
      for (const f of found) out.add(String(f.t) + '\u0000' + keyCols.map((k) => String(f[k])).join('\u0000'));
    }
    return out;
  }

  private async insertEvents(rows: PreparedEvent[]): Promise<number> {
    const have = await this.existing('events', ['audit_id', 'stage'], 'audit_id', rows.map((r) => ({ timeNs: r.timeNs, key: r.auditId + '\u0000' + r.stage })));
    const fresh = rows.filter((r) => !have.has(`${r.timeNs}\u0000${r.auditId}\u0000${r.stage}`));
    if (fresh.length === 0) return 0;
    const values = fresh.map((r) => ({
      time_ns: r.timeNs.toString(), audit_id: r.auditId, stage: r.stage, cluster: n(r.cluster), region: n(r.region), team: n(r.team),
      user_name: n(r.user), groups: r.groups ?? [], verb: n(r.verb), resource: n(r.resource), subresource: n(r.subresource),
      namespace: n(r.namespace), name: n(r.name), response_code: n(r.responseCode), decision: n(r.decision), user_agent: n(r.userAgent),
      labels: n(r.labelsJson), source_ips: r.sourceIps ?? [], lossy: r.lossy ? 1 : 0, raw: r.raw,
    }));
    try {
      await this.c().insert({ table: 'events', values, format: 'JSONEachRow' });
    } catch (e) {
      throw new Error(`store: ${this.where()}: ${firstLine(e)}`);
    }
    return fresh.length;
  }

  writeAlerts(batch: StoredAlert[]): Promise<number> {
    if (batch.length === 0) return Promise.resolve(0);
    const rows = this.prepareAlerts(batch);
    return this.serial(() => this.insertAlerts(rows));
  }

  private async insertAlerts(rows: PreparedAlert[]): Promise<number> {
    const have = await this.existing('alerts', ['id'], 'id', rows.map((r) => ({ timeNs: r.timeNs, key: r.id })));
    const fresh = rows.filter((r) => !have.has(`${r.timeNs}\u0000${r.id}`));
    if (fresh.length === 0) return 0;
    const values = fresh.map((r) => ({
      id: r.id, time_ns: r.timeNs.toString(), rule: r.rule, priority: r.priority, priority_num: r.priorityNum, source: r.source,
      output: r.output, output_fields: r.outputFields, tags: r.tags, labels: n(r.labelsJson), cluster: n(r.cluster), region: n(r.region),
      team: n(r.team), event_ref: n(r.eventRef), event_audit_id: n(r.eventAuditId), event_stage: n(r.eventStage), hunt: r.hunt ? 1 : 0,
      event: n(r.event),
    }));
    try {
      await this.c().insert({ table: 'alerts', values, format: 'JSONEachRow' });
    } catch (e) {
      throw new Error(`store: ${this.where()}: ${firstLine(e)}`);
    }
    return fresh.length;
  }

  protected async insertSyscallEvents(rows: PreparedSyscallEvent[]): Promise<number> {
    if (rows.length === 0) return 0;
    const have = await this.existing('syscall_events', ['id'], 'id', rows.map((r) => ({ timeNs: r.timeNs, key: r.id })));
    const fresh = rows.filter((r) => !have.has(`${r.timeNs}\u0000${r.id}`));
    if (fresh.length === 0) return 0;
    const values = fresh.map((r) => {
      const v: Record<string, unknown> = { time_ns: r.timeText, id: r.id, host: r.host };
      for (const c of SYSCALL_COLUMNS) v[c.column] = n(r.cols[c.key]);
      v.labels = n(r.labelsJson);
      v.lossy = r.lossy ? 1 : 0;
      v.record = r.record;
      return v;
    });
    try {
      await this.c().insert({ table: 'syscall_events', values, format: 'JSONEachRow' });
    } catch (e) {
      throw new Error(`store: ${this.where()}: ${firstLine(e)}`);
    }
    return fresh.length;
  }

  async enforceRetention(policy: RetentionPolicy): Promise<void> {
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const db = ident(this.opts.database);
    for (const table of ['events', 'alerts', 'syscall_events'] as const) {
      const p = policy[table];
      if (!p) continue;
      if (p.maxAgeMs !== undefined) {
        const cut = nowNs - BigInt(Math.floor(p.maxAgeMs)) * 1_000_000n;
        const parts = await this.query(
          `SELECT partition FROM system.parts WHERE database = '${db}' AND table = '${table}' AND active GROUP BY partition`);
        const key = table === 'alerts' ? MONTH : DAY;
        // Whole partitions entirely older than the cut go at once; the rest by a mutation.
        for (const part of parts) {
          if (!/^\d+$/.test(String(part.partition))) continue;
          const hi = await this.query(`SELECT toString(max(time_ns)) AS hi FROM ${table} WHERE ${key} = ${String(part.partition)}`);
          if (hi[0] && BigInt(String(hi[0].hi)) < cut) await this.exec(`ALTER TABLE ${table} DROP PARTITION ${String(part.partition)}`);
        }
        const left = await this.query(`SELECT count(*) AS n FROM ${table} WHERE time_ns < ${cut}`);
        if (Number(left[0]?.n ?? 0) > 0) await this.exec(`ALTER TABLE ${table} DELETE WHERE time_ns < ${cut}`);
      }
      if (p.maxBytes !== undefined) {
        const parts = await this.query(
          `SELECT partition, sum(bytes) AS b FROM system.parts WHERE database = '${db}' AND table = '${table}' AND active GROUP BY partition ORDER BY partition`);
        let total = parts.reduce((s, x) => s + Number(x.b), 0);
        for (const part of parts) {
          if (total <= p.maxBytes) break;
          await this.exec(`ALTER TABLE ${table} DROP PARTITION ${String(part.partition)}`);
          total -= Number(part.b);
        }
      }
    }
  }
}

function firstLine(e: unknown): string {
  return String((e as Error).message ?? e).split('\n')[0]!;
}
