/**
 * The embedded backend: one DuckDB file under the data directory (`<data>/vigil.duckdb`).
 *
 * Writes. Rows already stored are found first: one query for the (time_ns, audit_id, stage)
 * of the events in the batch's time span (cheap: DuckDB's zone maps skip everything else, and
 * events arrive roughly in time order; a resent audit event carries the same stage timestamp,
 * so the time is part of its identity here). The new rows are then appended straight into
 * `events` with DuckDB's appender, in chunks of 1,000 so the event loop is never held long.
 * Measured alternatives, all slower: a primary key on (audit_id, stage) with INSERT OR IGNORE
 * (and an index in memory per stored row); appending into a staging table and moving the rows
 * with an anti-join INSERT ... SELECT (about 2.5 times the CPU per event); LIST columns
 * (appending a list value costs ~10 µs, eight times a string: `groups` and `source_ips` are
 * stored as text joined with U+001E and split by the queries, see `listExpr`).
 * Alerts are few and keyed by id: a staging table and `INSERT OR IGNORE` on a primary key.
 * Writes go through one connection, one batch at a time; reads open their own connections,
 * so a long query never holds up ingestion.
 *
 * DuckDB allows one writing process per file: while `vigil run` holds it, the CLI goes through
 * the server's API (see locate.ts).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type DuckDBAppender, type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { LIST_SEP } from './columns.ts';
import { type CommonStoreOptions, type PreparedAlert, type PreparedEvent, type Row, SqlStore } from './sqlstore.ts';
import { duckdbDialect } from './sql.ts';
import type { Store, StoredAlert, StoredEvent } from './types.ts';

export interface DuckDBStoreOptions extends CommonStoreOptions {
  /** Database file (created with its folder); `:memory:` for a throwaway store. */
  path: string;
  /**
   * WAL size that triggers a checkpoint. Larger means fewer, better-compressed checkpoints:
   * the default 16 MB made inserts four times slower than 512 MB in our measurement.
   */
  checkpointThreshold?: string;
  /**
   * DuckDB's memory_limit (default 2GB; DuckDB's own default, 80% of RAM, is too much for a
   * process that shares the machine). Queries stream and spill; the limit bounds its caches.
   */
  memoryLimit?: string;
  threads?: number;
}

const SCHEMA_VERSION = '1';

const EVENT_COLUMNS_SQL = `
  time_ns BIGINT NOT NULL,
  audit_id VARCHAR NOT NULL,
  stage VARCHAR NOT NULL,
  cluster VARCHAR,
  region VARCHAR,
  team VARCHAR,
  user_name VARCHAR,
  groups VARCHAR,
  verb VARCHAR,
  resource VARCHAR,
  subresource VARCHAR,
  namespace VARCHAR,
  name VARCHAR,
  response_code INTEGER,
  decision VARCHAR,
  user_agent VARCHAR,
  labels VARCHAR,
  source_ips VARCHAR,
  lossy BOOLEAN NOT NULL,
  raw VARCHAR NOT NULL`;

const ALERT_COLUMNS_SQL = `
  id VARCHAR NOT NULL,
  time_ns BIGINT NOT NULL,
  rule VARCHAR NOT NULL,
  priority VARCHAR NOT NULL,
  priority_num TINYINT NOT NULL,
  source VARCHAR NOT NULL,
  output VARCHAR NOT NULL,
  output_fields VARCHAR NOT NULL,
  tags VARCHAR[],
  labels VARCHAR,
  cluster VARCHAR,
  region VARCHAR,
  team VARCHAR,
  event_ref VARCHAR,
  event_audit_id VARCHAR,
  event_stage VARCHAR,
  hunt BOOLEAN NOT NULL,
  event VARCHAR`;

/** The alerts staging table holds lists as joined strings. */
const stagingOf = (cols: string) => cols.replace(/VARCHAR\[\]/g, 'VARCHAR').replace(/ NOT NULL/g, '');

const ALERT_NAMES = ALERT_COLUMNS_SQL.split(',').map((l) => l.trim().split(/\s+/)[0]!);
const fromStaging = (names: string[]) => names.map((n) => (n === 'tags' ? `string_split(s.${n}, chr(30)) AS ${n}` : `s.${n}`)).join(', ');

function joinList(v: string[] | undefined): string | undefined {
  return v === undefined || v.length === 0 ? undefined : v.join(LIST_SEP);
}

const RESET_ALERTS = `CREATE OR REPLACE TEMP TABLE staging_alerts (${stagingOf(ALERT_COLUMNS_SQL)})`;

/** Rows appended per appender, between which the event loop gets a turn. */
const APPEND_CHUNK = 1000;

function str(a: DuckDBAppender, v: string | undefined): void {
  if (v === undefined) a.appendNull();
  else a.appendVarchar(v);
}

/** One row of `events`, in EVENT_COLUMNS_SQL order. */
function appendEvent(a: DuckDBAppender, r: PreparedEvent): void {
  a.appendBigInt(r.timeNs);
  a.appendVarchar(r.auditId);
  a.appendVarchar(r.stage);
  str(a, r.cluster);
  str(a, r.region);
  str(a, r.team);
  str(a, r.user);
  str(a, joinList(r.groups));
  str(a, r.verb);
  str(a, r.resource);
  str(a, r.subresource);
  str(a, r.namespace);
  str(a, r.name);
  if (r.responseCode === undefined) a.appendNull(); else a.appendInteger(r.responseCode);
  str(a, r.decision);
  str(a, r.userAgent);
  str(a, r.labelsJson);
  str(a, joinList(r.sourceIps));
  a.appendBoolean(r.lossy);
  a.appendVarchar(r.raw);
  a.endRow();
}

export class DuckDBStore extends SqlStore implements Store {
  readonly kind = 'duckdb' as const;
  protected readonly dialect = duckdbDialect;
  private instance?: DuckDBInstance;
  private writer?: DuckDBConnection;
  /** Writes one at a time on the writer connection. */
  private closed = false;

  constructor(readonly opts: DuckDBStoreOptions) {
    super(opts);
  }

  async open(): Promise<void> {
    if (this.opts.path !== ':memory:') mkdirSync(path.dirname(path.resolve(this.opts.path)), { recursive: true });
    const config: Record<string, string> = { checkpoint_threshold: this.opts.checkpointThreshold ?? '512MB' };
    config.memory_limit = this.opts.memoryLimit ?? '2GB';
    if (this.opts.threads) config.threads = String(this.opts.threads);
    try {
      this.instance = await DuckDBInstance.create(this.opts.path, config);
    } catch (e) {
      const msg = (e as Error).message;
      if (/lock/i.test(msg)) {
        throw new Error(`store: ${this.opts.path} is in use by another process (is \`vigil run\` running on this data directory?): ${msg.split('\n')[0]}`);
      }
      throw new Error(`store: cannot open ${this.opts.path}: ${msg.split('\n')[0]}`);
    }
    const c = await this.instance.connect();
    this.writer = c;
    await c.run(`CREATE TABLE IF NOT EXISTS vigil_meta (key VARCHAR PRIMARY KEY, value VARCHAR)`);
    const v = (await c.runAndReadAll(`SELECT value FROM vigil_meta WHERE key = 'schema_version'`)).getRowsJS()[0]?.[0];
    if (v !== undefined && v !== SCHEMA_VERSION) {
      throw new Error(`store: ${this.opts.path} has schema version ${String(v)}, this Vigil reads version ${SCHEMA_VERSION}`);
    }
    await c.run(`CREATE TABLE IF NOT EXISTS events (${EVENT_COLUMNS_SQL})`);
    await c.run(`CREATE TABLE IF NOT EXISTS alerts (${ALERT_COLUMNS_SQL}, PRIMARY KEY (id))`);
    await c.run(`INSERT OR IGNORE INTO vigil_meta VALUES ('schema_version', '${SCHEMA_VERSION}')`);
    await c.run(`CREATE TEMP TABLE IF NOT EXISTS staging_alerts (${stagingOf(ALERT_COLUMNS_SQL)})`);
  }

  async close(): Promise<void> {
    if (this.closed || !this.instance) return;
    this.closed = true;
    await this.chain.catch(() => undefined);
    try {
      await this.writer?.run('CHECKPOINT');
    } catch { /* a read-only or failing file: closing anyway */ }
    this.writer?.closeSync();
    this.instance.closeSync();
    this.writer = undefined;
    this.instance = undefined;
  }

  private conn(): DuckDBConnection {
    if (!this.writer) throw new Error('store: not open');
    return this.writer;
  }

  protected async query(sql: string): Promise<Row[]> {
    if (!this.instance) throw new Error('store: not open');
    const c = await this.instance.connect();
    try {
      const r = await c.runAndReadAll(sql);
      return r.getRowObjectsJS() as Row[];
    } finally {
      c.closeSync();
    }
  }

  protected unnest(col: string): string {
    return `unnest(${col})`;
  }

  /** Run a statement on the writer (tests and the bench use it to inspect the file). */
  async exec(sql: string): Promise<Row[]> {
    return this.serial(async () => (await this.conn().runAndReadAll(sql)).getRowObjectsJS() as Row[]);
  }

  writeEvents(batch: StoredEvent[]): Promise<number> {
    if (batch.length === 0) return Promise.resolve(0);
    return this.serial(() => this.insertEvents(batch));
  }

  private async insertEvents(batch: StoredEvent[]): Promise<number> {
    const rows = this.prepareEvents(batch);
    if (rows.length === 0) return 0;
    const c = this.conn();
    let min = rows[0]!.timeNs;
    let max = min;
    for (const r of rows) {
      if (r.timeNs < min) min = r.timeNs;
      if (r.timeNs > max) max = r.timeNs;
    }
    const have = new Set<string>();
    const found = (await c.runAndReadAll(`SELECT time_ns, audit_id, stage FROM events WHERE time_ns BETWEEN ${min} AND ${max}`)).getRowsJS();
    for (const [t, a, st] of found) have.add(`${String(a)}\u0000${String(st)}\u0000${String(t)}`);
    const fresh = have.size === 0 ? rows : rows.filter((r) => !have.has(`${r.auditId}\u0000${r.stage}\u0000${r.timeNs}`));
    for (let i = 0; i < fresh.length; i += APPEND_CHUNK) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      const a = await c.createAppender('events');
      try {
        for (let k = i; k < Math.min(fresh.length, i + APPEND_CHUNK); k++) appendEvent(a, fresh[k]!);
        a.closeSync();
      } catch (e) {
        // Rows of this chunk that reached the table stay (a retry skips them); the rest is dropped.
        try { a.closeSync(); } catch { /* already failed */ }
        throw e;
      }
    }
    return fresh.length;
  }

  writeAlerts(batch: StoredAlert[]): Promise<number> {
    if (batch.length === 0) return Promise.resolve(0);
    const rows = this.prepareAlerts(batch);
    return this.serial(() => this.insertAlerts(rows));
  }

  private async insertAlerts(rows: PreparedAlert[]): Promise<number> {
    const c = this.conn();
    const a = await c.createAppender('staging_alerts', 'main', 'temp');
    try {
      for (const r of rows) {
        a.appendVarchar(r.id);
        a.appendBigInt(r.timeNs);
        a.appendVarchar(r.rule);
        a.appendVarchar(r.priority);
        a.appendTinyInt(r.priorityNum);
        a.appendVarchar(r.source);
        a.appendVarchar(r.output);
        a.appendVarchar(r.outputFields);
        str(a, joinList(r.tags));
        str(a, r.labelsJson);
        str(a, r.cluster);
        str(a, r.region);
        str(a, r.team);
        str(a, r.eventRef);
        str(a, r.eventAuditId);
        str(a, r.eventStage);
        a.appendBoolean(r.hunt);
        str(a, r.event);
        a.endRow();
      }
      a.closeSync();
    } catch (e) {
      try { a.closeSync(); } catch { /* already failed */ }
      await c.run(RESET_ALERTS);
      throw e;
    }
    try {
      const res = await c.run(`INSERT OR IGNORE INTO alerts SELECT ${fromStaging(ALERT_NAMES)} FROM staging_alerts s`);
      return res.rowsChanged;
    } finally {
      await c.run(RESET_ALERTS);
    }
  }

  /** Bytes a table occupies in the file (whole blocks). */
  private async tableBytes(table: 'events' | 'alerts'): Promise<number> {
    const rows = await this.exec(`SELECT count(DISTINCT block_id) AS blocks FROM pragma_storage_info('${table}') WHERE block_id IS NOT NULL AND block_id >= 0`);
    const size = await this.exec(`SELECT block_size FROM pragma_database_size()`);
    return Number(rows[0]?.blocks ?? 0) * Number(size[0]?.block_size ?? 262144);
  }

  async enforceRetention(policy: Parameters<Store['enforceRetention']>[0]): Promise<void> {
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    for (const table of ['events', 'alerts'] as const) {
      const p = policy[table];
      if (!p) continue;
      if (p.maxAgeMs !== undefined) {
        await this.exec(`DELETE FROM ${table} WHERE time_ns < ${nowNs - BigInt(Math.floor(p.maxAgeMs)) * 1_000_000n}`);
      }
      if (p.maxBytes !== undefined) {
        await this.exec('CHECKPOINT');
        const bytes = await this.tableBytes(table);
        if (bytes > p.maxBytes) {
          // Drop the oldest share of rows that brings the table under the limit.
          const keep = Math.max(0, Math.min(1, p.maxBytes / bytes));
          const cut = await this.exec(`SELECT quantile_disc(time_ns, ${1 - keep}) AS t FROM ${table}`);
          const t = cut[0]?.t;
          if (t !== null && t !== undefined) await this.exec(`DELETE FROM ${table} WHERE time_ns <= ${String(t)}`);
        }
      }
    }
    await this.exec('CHECKPOINT');
  }
}
