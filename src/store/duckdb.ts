/**
 * The embedded backend: one DuckDB file under the data directory (`<data>/vigil.duckdb`).
 *
 * Writes, measured and chosen (bench/measure/store_duckdb.ts):
 * - The raw events of a write go into one compressed block (rawblocks.ts), appended to a
 *   segment file beside the database (`<db>.raw/`; `raw_blocks` says where each block is:
 *   a BLOB column made every checkpoint rewrite all blocks stored so far); each event row
 *   points at its text. DuckDB's VARCHAR path for ~860-byte
 *   JSON texts was the single largest cost of a write (WAL copy, then compression at
 *   checkpoint), and its files were four times larger.
 * - The typed columns reach DuckDB as one text file per write (fields separated by U+001F,
 *   rows by newlines, NULL as U+001D; columns.ts keeps those characters out of values) read
 *   by DuckDB's own CSV reader in an `INSERT ... SELECT`: no per-value call across N-API.
 *   The appender (one call per value, ~0.5 µs each, on the event loop) did ~45,000 rows/s.
 * - Block, rows and the batch's alerts are one transaction, sent in one or two calls (a call's
 *   completion waits for the event loop: seven of them per write left DuckDB idle most of the
 *   time while the pipeline was busy). Preparation happens when the write is handed over, so it
 *   overlaps DuckDB's work on the write before (see writeBatch).
 * - Duplicates (a resent event: same audit ID, stage and stage time) are found without
 *   reading the table in the usual case: the keys of recent writes are kept in memory with a
 *   watermark below which the memory is incomplete; only events older than the watermark (a
 *   late retry, a replay after a restart) are looked up in the table, by time range and ID.
 * - Measured alternatives, all slower: a primary key on (audit_id, stage) with INSERT OR
 *   IGNORE; staging tables with an anti-join; LIST columns (`groups` and `source_ips` are text
 *   joined with U+001E and split by the queries, see `listExpr`); `string_split`/`unnest` of
 *   bound column texts.
 * Alerts are keyed by id, and an id always comes with the same time (ids hash the event or the
 * alert, see pipeline/stored.ts): a resent alert is found by an anti-join limited to the
 * batch's time span, as for syscall events. They go in as SQL values (through a staging table
 * and the appender when there are many, or text SQL cannot carry). No primary key: its ART
 * index lives in DuckDB's memory whole and grows with the table (at a 128MB memory limit,
 * inserts failed past 1.1 million alerts, measured); stores that have one lose it at open.
 * Syscall events (`syscall_events`, only with the sensor's `store_events: all`) can come by
 * the thousand per second, so they take the audit events' cheap path: one rows file per
 * write read by DuckDB's CSV reader (no per-value appender call; the record is one JSON line,
 * whose control characters JSON escapes, so it cannot break a row). They keep their record as
 * plain text (no raw blocks: records are short, a few hundred bytes of resolved values).
 * Duplicates (a resent batch) are found by an anti-join limited to the batch's time span:
 * the ids hash the time, and DuckDB's min/max zone maps on `time_ns` skip everything outside
 * it, so no index is kept in memory (a primary key's ART index would grow with the table).
 * Writes go through one connection, one batch at a time; reads open their own connections,
 * so a long query never holds up ingestion.
 *
 * DuckDB allows one writing process per file: while `vigil run` holds it, the CLI goes through
 * the server's API (see locate.ts).
 */
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type DuckDBAppender, type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { LIST_SEP } from './columns.ts';
import { BlockCache, type BlockPlace, RAW_CODEC, SegmentFiles, decodeBlock, encodeBlock } from './rawblocks.ts';
import { EVENT_SELECT, type CommonStoreOptions, type PreparedAlert, type PreparedEvent, type Row, SqlStore } from './sqlstore.ts';
import { duckdbDialect } from './sql.ts';
import { type PreparedSyscallEvent, SYSCALL_COLUMNS, SYSCALL_SELECT } from './syscall.ts';
import { timeSpan } from './time.ts';
import type { RetentionPolicy, Store, StoredAlert, StoredEvent, StoredSyscallEvent } from './types.ts';

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
  /** DuckDB's worker threads (default: one less than the CPUs, at least 1). */
  threads?: number;
  /** Size past which a new raw segment file is started (default 256 MiB). */
  rawSegmentMaxBytes?: number;
  /** Keys of recently written events kept for de-duplication without a read (default 100,000). */
  recentKeys?: number;
}

const SCHEMA_VERSION = '3';

/** Columns of `events` in table order: [name, SQL type, NOT NULL]. */
const EVENT_COLUMNS_DEF: ReadonlyArray<readonly [string, string, boolean]> = [
  ['time_ns', 'BIGINT', true],
  ['audit_id', 'VARCHAR', true],
  ['stage', 'VARCHAR', true],
  ['cluster', 'VARCHAR', false],
  ['region', 'VARCHAR', false],
  ['team', 'VARCHAR', false],
  ['user_name', 'VARCHAR', false],
  ['groups', 'VARCHAR', false],
  ['verb', 'VARCHAR', false],
  ['resource', 'VARCHAR', false],
  ['subresource', 'VARCHAR', false],
  ['namespace', 'VARCHAR', false],
  ['name', 'VARCHAR', false],
  ['response_code', 'INTEGER', false],
  ['decision', 'VARCHAR', false],
  ['user_agent', 'VARCHAR', false],
  ['labels', 'VARCHAR', false],
  ['source_ips', 'VARCHAR', false],
  ['lossy', 'BOOLEAN', true],
  ['raw_block', 'BIGINT', true],
  ['raw_pos', 'INTEGER', true],
];

const EVENT_COLUMNS_SQL = EVENT_COLUMNS_DEF.map(([n, t, nn]) => `${n} ${t}${nn ? ' NOT NULL' : ''}`).join(',\n  ');
/** read_csv's `columns` argument for the rows file. */
const CSV_COLUMNS = `{${EVENT_COLUMNS_DEF.map(([n, t]) => `'${n}': '${t}'`).join(', ')}}`;

/** Columns of `syscall_events` in table order (SYSCALL_SELECT's). */
const SYSCALL_COLUMNS_DEF: ReadonlyArray<readonly [string, string, boolean]> = SYSCALL_SELECT.map((c) => [
  c, c === 'time_ns' ? 'BIGINT' : c === 'lossy' ? 'BOOLEAN' : 'VARCHAR', ['time_ns', 'id', 'host', 'lossy', 'record'].includes(c),
] as const);
const SYSCALL_COLUMNS_SQL = SYSCALL_COLUMNS_DEF.map(([n, t, nn]) => `${n} ${t}${nn ? ' NOT NULL' : ''}`).join(',\n  ');
const SYSCALL_CSV_COLUMNS = `{${SYSCALL_COLUMNS_DEF.map(([n, t]) => `'${n}': '${t}'`).join(', ')}}`;

const RAW_BLOCKS_SQL = `
  id BIGINT NOT NULL,
  t_min BIGINT NOT NULL,
  t_max BIGINT NOT NULL,
  n INTEGER NOT NULL,
  codec VARCHAR NOT NULL,
  segment INTEGER NOT NULL,
  seg_offset BIGINT NOT NULL,
  seg_length INTEGER NOT NULL`;

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

function str(a: DuckDBAppender, v: string | undefined): void {
  if (v === undefined) a.appendNull();
  else a.appendVarchar(v);
}

const RESET_ALERTS = `CREATE OR REPLACE TEMP TABLE staging_alerts (${stagingOf(ALERT_COLUMNS_SQL)})`;

/** Field and NULL marks of the rows file (never in a value: columns.ts replaces them). */
const FS = '\u001f';
const NUL = '\u001d';

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** Scratch row of the rows file (joining an array is ~5x faster than `+` for 21 pieces). */
const ROW: string[] = new Array(21);

/** One line of the rows file, in EVENT_COLUMNS_DEF order (without its newline). */
function o(v: string | undefined): string {
  return v === undefined ? NUL : v;
}

function csvLine(r: PreparedEvent, block: string, pos: number): string {
  ROW[0] = r.timeText;
  ROW[1] = r.auditId;
  ROW[2] = r.stage;
  ROW[3] = o(r.cluster);
  ROW[4] = o(r.region);
  ROW[5] = o(r.team);
  ROW[6] = o(r.user);
  ROW[7] = o(joinList(r.groups));
  ROW[8] = o(r.verb);
  ROW[9] = o(r.resource);
  ROW[10] = o(r.subresource);
  ROW[11] = o(r.namespace);
  ROW[12] = o(r.name);
  ROW[13] = r.responseCode === undefined ? NUL : String(r.responseCode);
  ROW[14] = o(r.decision);
  ROW[15] = o(r.userAgent);
  ROW[16] = o(r.labelsJson);
  ROW[17] = o(joinList(r.sourceIps));
  ROW[18] = r.lossy ? 'true' : 'false';
  ROW[19] = block;
  ROW[20] = String(pos);
  return ROW.join(FS);
}

/** An alert SQL text can carry (DuckDB's parser stops a literal at NUL). */
function alertInline(a: PreparedAlert): boolean {
  for (const v of [a.id, a.rule, a.priority, a.source, a.output, a.outputFields, a.labelsJson, a.cluster, a.region, a.team, a.eventRef, a.eventAuditId, a.eventStage, a.event, ...a.tags]) {
    if (v !== undefined && v.includes('\u0000')) return false;
  }
  return true;
}

const lit = (v: string | undefined): string => (v === undefined ? 'NULL' : sqlString(v));

/** An alert as a row of `INSERT ... VALUES`, in ALERT_COLUMNS_SQL order. */
function alertValues(a: PreparedAlert): string {
  const tags = a.tags.length ? `[${a.tags.map(sqlString).join(', ')}]` : 'NULL';
  return `(${sqlString(a.id)}, ${a.timeNs}, ${sqlString(a.rule)}, ${sqlString(a.priority)}, ${a.priorityNum}, ${sqlString(a.source)}, ` +
    `${sqlString(a.output)}, ${sqlString(a.outputFields)}, ${tags}, ${lit(a.labelsJson)}, ${lit(a.cluster)}, ${lit(a.region)}, ${lit(a.team)}, ` +
    `${lit(a.eventRef)}, ${lit(a.eventAuditId)}, ${lit(a.eventStage)}, ${a.hunt ? 'true' : 'false'}, ${lit(a.event)})`;
}

/**
 * The WHERE clause that keeps a batch's alerts not stored yet (`t` names the batch's rows):
 * the alerts table is read only within the batch's time span, where its zone maps on `time_ns`
 * skip everything else.
 */
function newAlertsOnly(alerts: PreparedAlert[], t: string): string {
  const [min, max] = timeSpan(alerts);
  return `WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.time_ns BETWEEN ${min} AND ${max} AND a.id = ${t}.id)`;
}

/** Alerts with distinct ids, the first of each kept (a batch may hold a resent alert twice). */
function distinctAlerts(alerts: PreparedAlert[]): PreparedAlert[] {
  if (alerts.length < 2) return alerts;
  const seen = new Set<string>();
  return alerts.filter((a) => !seen.has(a.id) && (seen.add(a.id), true));
}

/** One line of the syscall rows file, in SYSCALL_COLUMNS_DEF order. */
function syscallCsvLine(r: PreparedSyscallEvent): string {
  const out = [r.timeText, r.id, r.host];
  for (const c of SYSCALL_COLUMNS) out.push(o(r.cols[c.key]));
  out.push(o(r.labelsJson), r.lossy ? 'true' : 'false', r.record);
  return out.join(FS);
}

/** A host name or label could hold a separator: such text never reaches the rows file. */
function csvSafe(s: string): string {
  return s.replace(/[\u0000\n\r\u001d-\u001f]/g, '\ufffd');
}

/**
 * Keys of the events written lately. Every stored event at or after `coveredFrom` is in the
 * set (at open: after the newest stored event); forgetting a write moves the mark past it.
 */
class RecentKeys {
  private readonly keys = new Set<string>();
  private readonly writes: Array<{ keys: string[]; maxT: bigint }> = [];

  constructor(private readonly cap: number, public coveredFrom: bigint) {}

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(keys: string[], maxT: bigint): void {
    for (const k of keys) this.keys.add(k);
    this.writes.push({ keys, maxT });
    while (this.keys.size > this.cap && this.writes.length > 1) {
      const w = this.writes.shift()!;
      for (const k of w.keys) this.keys.delete(k);
      if (w.maxT + 1n > this.coveredFrom) this.coveredFrom = w.maxT + 1n;
    }
  }

  clear(coveredFrom: bigint): void {
    this.keys.clear();
    this.writes.length = 0;
    this.coveredFrom = coveredFrom;
  }
}

const MIN_NS = -(2n ** 63n);

/** A prepared write waiting for its turn with DuckDB. */
interface StagedWrite {
  n: number;
  keys: string[];
  block: bigint;
  tMin: bigint;
  tMax: bigint;
  /** Its rows file (removed after the insert). */
  file: string;
  placing: Promise<BlockPlace>;
}

/** A write with no new events. */
const NOTHING: StagedWrite = { n: 0, keys: [], block: 0n, tMin: 0n, tMax: 0n, file: '', placing: Promise.resolve({ segment: 0, offset: 0, length: 0 }) };

export class DuckDBStore extends SqlStore implements Store {
  readonly kind = 'duckdb' as const;
  protected readonly dialect = duckdbDialect;
  protected override readonly eventSelect = EVENT_SELECT.flatMap((c) => (c === 'raw' ? ['raw_block', 'raw_pos'] : [c]));
  private instance?: DuckDBInstance;
  private writer?: DuckDBConnection;
  private closed = false;
  private nextBlock = 0n;
  private recent = new RecentKeys(100_000, MIN_NS);
  /** Keys of staged writes not yet committed (a resent event in the next batch is not staged twice). */
  private readonly pending = new Set<string>();
  private readonly blocks = new BlockCache(8);
  /** The compressed raw blocks' bytes (`<db>.raw/`). */
  private segments?: SegmentFiles;
  /** Prefix of the rows files handed to DuckDB's CSV reader (one per write, `.<block>`). */
  private rowsFile = '';

  constructor(readonly opts: DuckDBStoreOptions) {
    super(opts);
  }

  async open(): Promise<void> {
    const memory = this.opts.path === ':memory:';
    if (!memory) mkdirSync(path.dirname(path.resolve(this.opts.path)), { recursive: true });
    const config: Record<string, string> = { checkpoint_threshold: this.opts.checkpointThreshold ?? '512MB' };
    config.memory_limit = this.opts.memoryLimit ?? '2GB';
    // DuckDB's default (one thread per core) competes with the event loop for the same cores:
    // on 2 cores, inserts took twice the CPU with 2 threads than with 1 (measured).
    config.threads = String(this.opts.threads ?? Math.max(1, os.availableParallelism() - 1));
    try {
      this.instance = await DuckDBInstance.create(this.opts.path, config);
    } catch (e) {
      const msg = (e as Error).message;
      if (/lock/i.test(msg)) {
        throw new Error(`store: ${this.opts.path} is in use by another process (is \`vigil run\` running on this data directory?): ${msg.split('\n')[0]}`);
      }
      throw new Error(`store: cannot open ${this.opts.path}: ${msg.split('\n')[0]}`);
    }
    this.rowsFile = memory
      ? path.join(os.tmpdir(), `vigil-duckdb-${process.pid}-${Math.random().toString(36).slice(2)}.rows`)
      : path.resolve(this.opts.path) + '.rows';
    // Rows files of writes a crash interrupted (their events were not acknowledged).
    const base = path.basename(this.rowsFile) + '.';
    try {
      for (const f of readdirSync(path.dirname(this.rowsFile))) {
        if (f.startsWith(base) && /^\d+$/.test(f.slice(base.length))) rmSync(path.join(path.dirname(this.rowsFile), f), { force: true });
      }
    } catch { /* no folder yet: nothing left over */ }
    this.segments = new SegmentFiles(memory
      ? path.join(os.tmpdir(), `vigil-duckdb-${process.pid}-${Math.random().toString(36).slice(2)}.raw`)
      : path.resolve(this.opts.path) + '.raw', this.opts.rawSegmentMaxBytes);
    const c = await this.instance.connect();
    this.writer = c;
    await c.run(`CREATE TABLE IF NOT EXISTS vigil_meta (key VARCHAR PRIMARY KEY, value VARCHAR)`);
    const v = (await c.runAndReadAll(`SELECT value FROM vigil_meta WHERE key = 'schema_version'`)).getRowsJS()[0]?.[0];
    if (v !== undefined && v !== SCHEMA_VERSION) {
      throw new Error(`store: ${this.opts.path} has schema version ${String(v)}, this Vigil reads version ${SCHEMA_VERSION} (move the old file away to start afresh)`);
    }
    await c.run(`CREATE TABLE IF NOT EXISTS events (\n  ${EVENT_COLUMNS_SQL})`);
    await c.run(`CREATE TABLE IF NOT EXISTS raw_blocks (${RAW_BLOCKS_SQL})`);
    await c.run(`CREATE TABLE IF NOT EXISTS alerts (${ALERT_COLUMNS_SQL})`);
    await this.dropAlertsKey(c);
    await c.run(`CREATE TABLE IF NOT EXISTS syscall_events (\n  ${SYSCALL_COLUMNS_SQL})`);
    await c.run(`INSERT OR IGNORE INTO vigil_meta VALUES ('schema_version', '${SCHEMA_VERSION}')`);
    await c.run(`CREATE TEMP TABLE IF NOT EXISTS staging_alerts (${stagingOf(ALERT_COLUMNS_SQL)})`);
    const [blk, newest] = (await c.runAndReadAll(`SELECT (SELECT max(id) FROM raw_blocks), (SELECT max(time_ns) FROM events)`)).getRowsJS()[0]!;
    this.nextBlock = blk === null || blk === undefined ? 0n : BigInt(blk as bigint) + 1n;
    this.segments.openForAppend();
    this.recent = new RecentKeys(this.opts.recentKeys ?? 100_000, newest === null || newest === undefined ? MIN_NS : BigInt(newest as bigint) + 1n);
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
    this.blocks.clear();
    this.segments?.close();
    if (this.opts.path === ':memory:' && this.segments) rmSync(this.segments.dir, { recursive: true, force: true });
    rmSync(this.rowsFile, { force: true });
    rmSync(this.rowsFile + '.syscall', { force: true });
  }

  private conn(): DuckDBConnection {
    if (!this.writer) throw new Error('store: not open');
    return this.writer;
  }

  protected async query(sql: string): Promise<Row[]> {
    if (!this.instance) throw new Error('store: not open');
    const c = await this.instance.connect();
    try {
      const rows = (await c.runAndReadAll(sql)).getRowObjectsJS() as Row[];
      await this.attachRaw(rows, c);
      return rows;
    } finally {
      c.closeSync();
    }
  }

  /** Put each row's raw text (`raw`, `e_raw`) where its (raw_block, raw_pos) point. */
  private async attachRaw(rows: Row[], c: DuckDBConnection): Promise<void> {
    if (rows.length === 0) return;
    const prefixes = ['', 'e_'].filter((p) => `${p}raw_block` in rows[0]!);
    if (prefixes.length === 0) return;
    const local = new Map<bigint, string[]>();
    const missing = new Set<bigint>();
    for (const r of rows) {
      for (const p of prefixes) {
        const b = r[`${p}raw_block`];
        if (b === null || b === undefined) continue;
        const id = BigInt(b as bigint);
        if (local.has(id) || missing.has(id)) continue;
        const hit = this.blocks.get(id);
        if (hit) local.set(id, hit); else missing.add(id);
      }
    }
    if (missing.size) {
      const found = (await c.runAndReadAll(`SELECT id, codec, segment, seg_offset, seg_length FROM raw_blocks WHERE id IN (${[...missing].join(', ')})`)).getRowObjectsJS();
      await Promise.all(found.map(async (f) => {
        const id = BigInt(f.id as bigint);
        const texts = await decodeBlock(this.readBlock(f), String(f.codec));
        local.set(id, texts);
        this.blocks.set(id, texts);
      }));
    }
    for (const r of rows) {
      for (const p of prefixes) {
        const b = r[`${p}raw_block`];
        if (b === null || b === undefined) continue;
        const text = local.get(BigInt(b as bigint))?.[Number(r[`${p}raw_pos`])];
        if (text === undefined) throw new Error(`store: raw event missing (block ${String(b)}, position ${String(r[`${p}raw_pos`])})`);
        r[`${p}raw`] = text;
      }
    }
  }

  protected unnest(col: string): string {
    return `unnest(${col})`;
  }

  /** Run a statement on the writer (tests and the bench use it to inspect the file). */
  async exec(sql: string): Promise<Row[]> {
    return this.serial(async () => (await this.conn().runAndReadAll(sql)).getRowObjectsJS() as Row[]);
  }

  /** Every stored raw text, decompressed (tests look for values that must not be there). */
  async *rawTexts(): AsyncGenerator<string> {
    const blocks = await this.exec('SELECT id, codec, segment, seg_offset, seg_length FROM raw_blocks ORDER BY id');
    for (const b of blocks) yield* await decodeBlock(this.readBlock(b), String(b.codec));
  }

  /** The bytes of a block, from its `raw_blocks` row. */
  private readBlock(r: Row): Buffer {
    if (!this.segments) throw new Error('store: not open');
    const place: BlockPlace = { segment: Number(r.segment), offset: Number(r.seg_offset), length: Number(r.seg_length) };
    return this.segments.read(place);
  }

  /**
   * Preparation (redaction, columns, de-duplication against recent and pending writes, the rows
   * file, starting the block's compression) runs at once, on the caller's turn; only DuckDB's
   * part waits for the writes before it. So a caller with one write in flight (the pipeline)
   * prepares the next batch while DuckDB inserts the previous one on its own thread.
   */
  writeEvents(batch: StoredEvent[]): Promise<number> {
    return this.writeBatch(batch, []).then(([n]) => n);
  }

  /**
   * Events and alerts in one transaction. Preparation (redaction, columns, de-duplication
   * against recent and pending writes, the rows file, starting the block's compression) runs
   * at once, on the caller's turn; only DuckDB's part waits for the writes before it. So a
   * caller with one write in flight (the pipeline) prepares the next batch while DuckDB
   * inserts the previous one on its own thread.
   */
  writeBatch(events: StoredEvent[], alerts: StoredAlert[]): Promise<[number, number]> {
    if (events.length === 0 && alerts.length === 0) return Promise.resolve([0, 0]);
    let staged: StagedWrite | undefined;
    let alertRows: PreparedAlert[];
    try {
      staged = events.length ? this.stageEvents(events) : NOTHING;
      alertRows = this.prepareAlerts(alerts);
    } catch (e) {
      return Promise.reject(e);
    }
    // Older events than the recent keys cover: decided inside the chain, after the table lookup.
    const w = staged;
    return this.serial(async () => this.commitStaged(w ?? await this.stageOld(events), alertRows));
  }

  /** Events of `rows` already stored below the recent-keys mark (looked up in the table). */
  private async storedBefore(rows: PreparedEvent[]): Promise<Set<string>> {
    const have = new Set<string>();
    const old = rows.filter((r) => r.timeNs < this.recent.coveredFrom);
    if (old.length === 0) return have;
    const [min, max] = timeSpan(old);
    const ids = [...new Set(old.map((r) => r.auditId))];
    for (let i = 0; i < ids.length; i += 1000) {
      const list = ids.slice(i, i + 1000).map(sqlString).join(', ');
      const found = (await this.conn().runAndReadAll(
        `SELECT time_ns, audit_id, stage FROM events WHERE time_ns BETWEEN ${min} AND ${max} AND audit_id IN (${list})`)).getRowsJS();
      for (const [t, a, st] of found) have.add(`${String(a)}\u0000${String(st)}\u0000${String(t)}`);
    }
    return have;
  }

  /**
   * Prepare a write whose events are all at or after the recent-keys mark (the usual case):
   * undefined when some are older (they need a table lookup first, see stageOld).
   */
  private stageEvents(batch: StoredEvent[]): StagedWrite | undefined {
    if (!this.segments) throw new Error('store: not open');
    const rows = this.prepareEvents(batch);
    const from = this.recent.coveredFrom;
    for (const r of rows) if (r.timeNs < from) return undefined;
    const fresh: PreparedEvent[] = [];
    for (const r of rows) if (!this.recent.has(r.key) && !this.pending.has(r.key)) fresh.push(r);
    return this.stage(fresh);
  }

  /** Rows file written, block compression started, keys marked pending. */
  private stage(fresh: PreparedEvent[]): StagedWrite {
    const keys: string[] = new Array(fresh.length);
    if (fresh.length === 0) return NOTHING;
    const block = this.nextBlock++;
    let tMin = fresh[0]!.timeNs;
    let tMax = tMin;
    const texts: string[] = new Array(fresh.length);
    const lines: string[] = new Array(fresh.length);
    const blockText = block.toString();
    for (let i = 0; i < fresh.length; i++) {
      const r = fresh[i]!;
      if (r.timeNs < tMin) tMin = r.timeNs;
      if (r.timeNs > tMax) tMax = r.timeNs;
      // Text that parsed as JSON, or JSON.stringify's, holds no raw control character: no RAW_SEP.
      texts[i] = r.raw;
      lines[i] = csvLine(r, blockText, i);
      keys[i] = r.key;
      this.pending.add(r.key);
    }
    const file = `${this.rowsFile}.${blockText}`;
    try {
      writeFileSync(file, lines.join('\n') + '\n');
    } catch (e) {
      for (const k of keys) this.pending.delete(k);
      throw e;
    }
    // The block is compressed and written on the thread pool while DuckDB reads the rows.
    const segments = this.segments!;
    const placing = encodeBlock(texts).then((data) => segments.appendAsync(data));
    placing.catch(() => undefined);
    return { n: fresh.length, keys, block, tMin, tMax, file, placing };
  }

  /**
   * DuckDB's part of a write: rows, their block and the alerts in one transaction, in two calls
   * (each call's completion waits for the event loop's next turn: with a busy loop, every round
   * trip left DuckDB idle, measured at three times the insert's own time with seven of them).
   * The block is compressed and synced on the thread pool since the write was staged: it is on
   * disk before the rows that point at it commit.
   */
  private async commitStaged(w: StagedWrite, batch: PreparedAlert[]): Promise<[number, number]> {
    if (w.n === 0 && batch.length === 0) return [0, 0];
    const alerts = distinctAlerts(batch);
    const c = this.conn();
    const inline = alerts.length <= 500 && alerts.every(alertInline);
    let na = 0;
    try {
      try {
        // The rows go in while the block may still be compressing or syncing (under load that
        // took as long as the insert); its row, and the commit, come once it is on disk.
        const sql = ['BEGIN TRANSACTION'];
        if (w.n > 0) {
          sql.push(`INSERT INTO events SELECT * FROM read_csv(${sqlString(w.file)}, header = false, delim = '${FS}', quote = '', escape = '', ` +
            `nullstr = '${NUL}', new_line = '\\n', auto_detect = false, columns = ${CSV_COLUMNS})`);
        }
        // The alerts' statement last, for its count of new rows.
        if (alerts.length > 0 && inline) {
          sql.push(`INSERT INTO alerts SELECT v.* FROM (VALUES ${alerts.map(alertValues).join(', ')}) v(${ALERT_NAMES.join(', ')}) ${newAlertsOnly(alerts, 'v')}`);
        }
        const res = await c.run(sql.join(';\n'));
        if (alerts.length > 0) na = inline ? Number(res.rowsChanged) : await this.insertAlerts(alerts);
        const last: string[] = [];
        if (w.n > 0) {
          const place = await w.placing;
          last.push(`INSERT INTO raw_blocks VALUES (${w.block}, ${w.tMin}, ${w.tMax}, ${w.n}, '${RAW_CODEC}', ${place.segment}, ${place.offset}, ${place.length})`);
        }
        last.push('COMMIT');
        await c.run(last.join(';\n'));
      } catch (e) {
        try { await c.run('ROLLBACK'); } catch { /* the transaction is gone already */ }
        if (alerts.length > 0 && !inline) try { await c.run(RESET_ALERTS); } catch { /* reported by the next write */ }
        throw e;
      }
      if (w.n > 0) this.recent.add(w.keys, w.tMax);
      return [w.n, na];
    } finally {
      for (const k of w.keys) this.pending.delete(k);
      if (w.file) rmSync(w.file, { force: true });
    }
  }

  /** A write with events older than the recent keys: looked up in the table, then staged. */
  private async stageOld(batch: StoredEvent[]): Promise<StagedWrite> {
    const rows = this.prepareEvents(batch);
    if (rows.length === 0) return NOTHING;
    const have = await this.storedBefore(rows);
    const fresh: PreparedEvent[] = [];
    for (const r of rows) if (!this.recent.has(r.key) && !have.has(r.key) && !this.pending.has(r.key)) fresh.push(r);
    return this.stage(fresh);
  }

  writeAlerts(batch: StoredAlert[]): Promise<number> {
    return this.writeBatch([], batch).then(([, n]) => n);
  }

  /**
   * Stores written before alerts lost their primary key (see the header): the table is copied
   * into one without it, in a transaction, once.
   */
  private async dropAlertsKey(c: DuckDBConnection): Promise<void> {
    const keyed = (await c.runAndReadAll(
      `SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'alerts' AND schema_name = 'main' AND constraint_type = 'PRIMARY KEY'`)).getRowsJS()[0]?.[0];
    if (!keyed) return;
    await c.run(`BEGIN TRANSACTION;
      CREATE TABLE alerts_unkeyed (${ALERT_COLUMNS_SQL});
      INSERT INTO alerts_unkeyed SELECT * FROM alerts;
      DROP TABLE alerts;
      ALTER TABLE alerts_unkeyed RENAME TO alerts;
      COMMIT`);
  }

  protected async insertSyscallEvents(rows: PreparedSyscallEvent[]): Promise<number> {
    if (rows.length === 0) return 0;
    const [min, max] = timeSpan(rows);
    const lines: string[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      r.host = csvSafe(r.host);
      lines[i] = syscallCsvLine(r);
    }
    const file = this.rowsFile + '.syscall';
    writeFileSync(file, lines.join('\n') + '\n');
    const res = await this.conn().run(
      `INSERT INTO syscall_events SELECT c.* FROM read_csv(${sqlString(file)}, header = false, delim = '${FS}', quote = '', escape = '', ` +
      `nullstr = '${NUL}', new_line = '\\n', auto_detect = false, columns = ${SYSCALL_CSV_COLUMNS}) c ` +
      `WHERE NOT EXISTS (SELECT 1 FROM syscall_events s WHERE s.time_ns BETWEEN ${min} AND ${max} AND s.id = c.id)`);
    return res.rowsChanged;
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
      throw e;
    }
    const res = await c.run(`INSERT INTO alerts SELECT ${fromStaging(ALERT_NAMES)} FROM staging_alerts s ${newAlertsOnly(rows, 's')}`);
    await c.run('DELETE FROM staging_alerts');
    return res.rowsChanged;
  }

  /** Bytes a table occupies in the file (whole blocks). */
  private async tableBytes(table: 'events' | 'alerts' | 'syscall_events'): Promise<number> {
    const rows = await this.exec(`SELECT count(DISTINCT block_id) AS blocks FROM pragma_storage_info('${table}') WHERE block_id IS NOT NULL AND block_id >= 0`);
    const size = await this.exec(`SELECT block_size FROM pragma_database_size()`);
    return Number(rows[0]?.blocks ?? 0) * Number(size[0]?.block_size ?? 262144);
  }

  async enforceRetention(policy: RetentionPolicy): Promise<void> {
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    for (const table of ['events', 'alerts', 'syscall_events'] as const) {
      const p = policy[table];
      if (!p) continue;
      if (p.maxAgeMs !== undefined) {
        await this.exec(`DELETE FROM ${table} WHERE time_ns < ${nowNs - BigInt(Math.floor(p.maxAgeMs)) * 1_000_000n}`);
      }
      if (p.maxBytes !== undefined) {
        await this.exec('CHECKPOINT');
        const bytes = await this.tableBytes(table) + (table === 'events' ? this.segmentBytes() : 0);
        if (bytes > p.maxBytes) {
          // Drop the oldest share of rows that brings the table under the limit.
          const keep = Math.max(0, Math.min(1, p.maxBytes / bytes));
          const cut = await this.exec(`SELECT quantile_disc(time_ns, ${1 - keep}) AS t FROM ${table}`);
          const t = cut[0]?.t;
          if (t !== null && t !== undefined) await this.exec(`DELETE FROM ${table} WHERE time_ns <= ${String(t)}`);
        }
      }
    }
    if (policy.events) {
      // Raw blocks no event points at any more, then the segment files no block is in.
      await this.exec('DELETE FROM raw_blocks WHERE id NOT IN (SELECT DISTINCT raw_block FROM events)');
      const live = await this.exec('SELECT DISTINCT segment FROM raw_blocks');
      this.segments?.prune(new Set(live.map((r) => Number(r.segment))));
      this.blocks.clear();
    }
    await this.exec('CHECKPOINT');
  }

  /** Bytes of the raw segment files. */
  private segmentBytes(): number {
    const seg = this.segments;
    if (!seg) return 0;
    let n = 0;
    for (const s of seg.segments()) {
      try { n += statSync(path.join(seg.dir, SegmentFiles.fileName(s))).size; } catch { /* pruned meanwhile */ }
    }
    return n;
  }
}
