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

export interface TimeRange { fromNs: bigint; toNs: bigint }

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
  enforceRetention(policy: { events?: { maxAgeMs?: number; maxBytes?: number }; alerts?: { maxAgeMs?: number; maxBytes?: number } }): Promise<void>;
  counts(): Promise<{ events: number; alerts: number }>;
}
