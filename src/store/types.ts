/**
 * The one storage interface. Everything above `src/store/` writes and queries through it and
 * never knows which backend runs (DuckDB embedded by default, ClickHouse at scale).
 *
 * Writes are batched and idempotent: an audit event is identified by (auditID, stage), an
 * alert by its id, so a retried batch, a replay or a restart never stores a duplicate.
 */

/** An audit event as stored: typed columns for what people filter on, plus the raw event. */
export interface StoredEvent {
  /** ns since the epoch (stageTimestamp). */
  timeNs: bigint;
  auditId: string;
  stage: string;
  cluster?: string;
  region?: string;
  team?: string;
  /** Other enrichment labels. */
  labels?: Record<string, string>;
  user?: string;
  groups?: string[];
  verb?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  responseCode?: number;
  decision?: string;
  sourceIps?: string[];
  userAgent?: string;
  /** The event as received, Secret payloads redacted (see redact.ts). */
  raw: Record<string, unknown>;
  /**
   * The event's JSON text as received, when the caller has it: stored as is (no
   * re-serialisation) unless redaction has to change the event. Never returned by queries.
   */
  rawText?: string;
}

/*
 * On write, a backend redacts `raw` and derives every typed column from it (and the labels)
 * with the rules' own field extractors (columns.ts), whatever typed values the StoredEvent
 * carries: the columns must say exactly what a rule would read, or search could not push
 * conditions down to SQL. Queries return the typed values as stored.
 */

export interface StoredAlert {
  /** Stable id: hash of (rule, source, event identity) so the same alert is stored once. */
  id: string;
  timeNs: bigint;
  rule: string;
  priority: string;
  source: string;
  output: string;
  outputFields: Record<string, unknown>;
  tags: string[];
  labels?: Record<string, string>;
  /** Reference to the event that fired: `<auditID>/<stage>` for audit events. */
  eventRef?: string;
  /** Set for alerts found by `vigil hunt` over history. */
  hunt?: boolean;
  /** The event that fired, for sources whose events are not stored on their own (syscalls). */
  event?: Record<string, unknown>;
}

/**
 * A syscall event as stored (`syscall_events`, when the syscall source has `store_events:
 * all`): the record `vigil sensor --record` writes, plus typed columns derived from it for
 * what people filter on. Syscall events that raise an alert are also stored with the alert
 * (`StoredAlert.event`), whatever `store_events` says.
 */
export interface StoredSyscallEvent {
  /**
   * Stable identity: a hash of host, time, thread id and event number (syscallEventId), so a
   * retried batch is stored once. Computed on write when absent.
   */
  id?: string;
  /** ns since the epoch. */
  timeNs: bigint;
  /** The machine the sensor ran on. */
  host: string;
  /** The source's labels (`cluster`, `region`, `team`, others); `vigil.<label>` in conditions. */
  labels?: Record<string, string>;
  /**
   * The recorded event: `{"time": "<ns>", "fields": {...}, "bigint"?: [...]}` as `vigil sensor
   * --record` writes it (encodeRecordedEvent), replayable with `vigil replay --source syscall`.
   */
  record: Record<string, unknown>;
  /* Typed columns, derived from `record` on write (the values the field table reads there). */
  evtType?: string;
  procName?: string;
  procExepath?: string;
  procExe?: string;
  procCmdline?: string;
  userName?: string;
  containerId?: string;
  k8sNsName?: string;
  k8sPodName?: string;
  fdName?: string;
}

export interface TimeRange { fromNs: bigint; toNs: bigint }

/** A search of stored syscall events: `condition` over the `syscall` fields. */
export interface SyscallSearchQuery {
  range: TimeRange;
  /** A condition in the rules language over the `syscall` fields; empty = everything. */
  condition?: string;
  limit: number;
  cursor?: string;
  order?: 'desc' | 'asc';
}

/** Age and size limits of one table. */
export interface TableRetention { maxAgeMs?: number; maxBytes?: number }

export interface RetentionPolicy { events?: TableRetention; alerts?: TableRetention; syscall_events?: TableRetention }

export interface SearchQuery {
  range: TimeRange;
  /** A condition in the rules language over the `k8s_audit` fields; empty = everything. */
  condition?: string;
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  order?: 'desc' | 'asc';
  /**
   * Alerts only: which alerts. (A `condition` on alerts is evaluated on the stored audit event
   * that fired each alert; alerts without one never match a condition.)
   */
  alerts?: AlertFilter;
}

export interface AlertFilter {
  /** Exact rule names. */
  rules?: string[];
  /** Only alerts at least this severe: a priority name (`warning`) or 0 (Emergency) .. 7 (Debug). */
  minPriority?: string | number;
  source?: string;
  /** true: only hunt results; false: only live alerts; absent: both. */
  hunt?: boolean;
}

export interface Page<T> { items: T[]; cursor?: string }

export interface HistogramBucket { startNs: bigint; count: number }

export interface Store {
  readonly kind: 'duckdb' | 'clickhouse';
  /** Create tables if needed. */
  open(): Promise<void>;
  close(): Promise<void>;
  /** Idempotent batch writes; resolve once the batch is durable. Return how many were new. */
  writeEvents(batch: StoredEvent[]): Promise<number>;
  writeAlerts(batch: StoredAlert[]): Promise<number>;
  /**
   * Events and the alerts they raised, as one write where the backend can (DuckDB: one
   * transaction, one sync to disk); the same as both writes otherwise. Returns [events, alerts]
   * new.
   */
  writeBatch?(events: StoredEvent[], alerts: StoredAlert[]): Promise<[number, number]>;
  /** Idempotent (by `id`) batch write of syscall events; returns how many were new. */
  writeSyscallEvents(batch: StoredSyscallEvent[]): Promise<number>;
  /**
   * Stored syscall events matching a condition over the `syscall` fields, newest first: the
   * events a rule with this condition would fire on when their records are replayed.
   */
  searchSyscallEvents(q: SyscallSearchQuery): Promise<Page<StoredSyscallEvent>>;
  searchEvents(q: SearchQuery): Promise<Page<StoredEvent>>;
  searchAlerts(q: SearchQuery): Promise<Page<StoredAlert>>;
  /**
   * Counts per time bucket over the range, every bucket present (zeros included). The bucket
   * is a round duration (1s, 5s, ... 1h, 6h, 1d, 7d) giving at most `buckets` (default 60).
   */
  histogram(table: 'events' | 'alerts', range: TimeRange, condition?: string, buckets?: number): Promise<HistogramBucket[]>;
  /**
   * Most frequent values of a column, most frequent first (ties by value). Events: a field
   * with a column (`ka.user.name`, `ka.verb`, `vigil.cluster`...), the column (`user_name`) or
   * the StoredEvent key (`user`). Alerts: `rule`, `priority`, `source`, `cluster`, `region`,
   * `team`, `tags`. Missing values are not counted.
   */
  topN(table: 'events' | 'alerts', column: string, range: TimeRange, n: number, condition?: string): Promise<{ value: string; count: number }[]>;
  countByPriority(range: TimeRange, condition?: string): Promise<Record<string, number>>;
  getEvent(auditId: string, stage?: string): Promise<StoredEvent | undefined>;
  getAlert(id: string): Promise<StoredAlert | undefined>;
  /** Delete what is older than `maxAgeMs` or beyond `maxBytes`, per table. */
  enforceRetention(policy: RetentionPolicy): Promise<void>;
  counts(): Promise<{ events: number; alerts: number }>;
}
