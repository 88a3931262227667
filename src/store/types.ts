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
}

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
  histogram(table: 'events' | 'alerts', range: TimeRange, condition?: string, buckets?: number): Promise<HistogramBucket[]>;
  topN(table: 'events' | 'alerts', column: string, range: TimeRange, n: number, condition?: string): Promise<{ value: string; count: number }[]>;
  countByPriority(range: TimeRange): Promise<Record<string, number>>;
  getEvent(auditId: string, stage?: string): Promise<StoredEvent | undefined>;
  getAlert(id: string): Promise<StoredAlert | undefined>;
  /** Delete what is older than `maxAgeMs` or beyond `maxBytes`, per table. */
  enforceRetention(policy: { events?: { maxAgeMs?: number; maxBytes?: number }; alerts?: { maxAgeMs?: number; maxBytes?: number } }): Promise<void>;
  counts(): Promise<{ events: number; alerts: number }>;
}
