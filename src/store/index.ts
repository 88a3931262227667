/**
 * The storage module's front door: `openStore(config)` picks and opens a backend,
 * `toStoredEvent` turns a decoded audit event into what the store keeps, and
 * `startRetention` enforces a retention policy in the background.
 */
import path from 'node:path';
import type { AuditEvent } from '../events/k8saudit.ts';
import { DERIVED, type EventRow, eventRow } from './columns.ts';
import { DuckDBStore } from './duckdb.ts';
import { redactEvent } from './redact.ts';
import type { Store, StoredEvent } from './types.ts';

export type { Store, StoredAlert, StoredEvent, SearchQuery, Page, TimeRange, HistogramBucket } from './types.ts';
export { ConditionError } from './condition.ts';
export { StoreQueryError } from './sqlstore.ts';

/** Same keys as the `storage` section of the configuration (memory is the pipeline's). */
export type StoreConfig =
  | { type: 'duckdb'; path?: string; memory_limit?: string; threads?: number }
  | { type: 'clickhouse'; url: string; database?: string; username?: string; password?: string };

export interface OpenStoreOptions {
  /** Data directory: where the DuckDB file goes when `path` is not given (default `./data`). */
  dataDir?: string;
  /** Extra JSON pointers to redact before events are written. */
  redactPointers?: readonly string[];
  /** Rules files whose lists and macros search conditions may use. */
  rulesFiles?: readonly string[];
  /** DuckDB's memory limit (default 2GB), e.g. `512MB`. */
  duckdbMemoryLimit?: string;
}

export const DUCKDB_FILE = 'vigil.duckdb';

/** Create and open the configured backend. */
export async function openStore(config: StoreConfig, opts: OpenStoreOptions = {}): Promise<Store> {
  const common = { redactPointers: opts.redactPointers, rulesFiles: opts.rulesFiles };
  let store: Store;
  if (config.type === 'duckdb') {
    const file = config.path ?? path.join(opts.dataDir ?? './data', DUCKDB_FILE);
    const memoryLimit = config.memory_limit ?? opts.duckdbMemoryLimit;
    store = new DuckDBStore({ ...common, path: file, ...(memoryLimit ? { memoryLimit } : {}), ...(config.threads ? { threads: config.threads } : {}) });
  } else if (config.type === 'clickhouse') {
    const { ClickHouseStore } = await import('./clickhouse.ts');
    store = new ClickHouseStore({
      ...common, url: config.url, database: config.database ?? 'vigil', username: config.username ?? 'default', password: config.password ?? '',
    });
  } else {
    throw new Error(`store: unknown storage type '${(config as { type: string }).type}'`);
  }
  await store.open();
  return store;
}

/**
 * What the store keeps of an audit event: the redacted raw event, its identity, its labels
 * and the typed columns (derived from the raw event with the rules' field extractors).
 * `rawText`, when the caller has the event's JSON text, is stored instead of re-serialising
 * (unless redaction had to change the event).
 */
export function toStoredEvent(ev: AuditEvent, rawText?: string): StoredEvent {
  const raw = redactEvent(ev.raw, rawText);
  const r = eventRow(raw, ev.timeNs, ev.labels);
  const out: StoredEvent = { timeNs: ev.timeNs, auditId: r.auditId, stage: r.stage, raw };
  if (rawText !== undefined && raw === ev.raw) out.rawText = rawText;
  if (r.cluster !== undefined) out.cluster = r.cluster;
  if (r.region !== undefined) out.region = r.region;
  if (r.team !== undefined) out.team = r.team;
  if (r.labels !== undefined) out.labels = r.labels;
  if (r.user !== undefined) out.user = r.user;
  if (r.groups !== undefined) out.groups = r.groups;
  if (r.verb !== undefined) out.verb = r.verb;
  if (r.resource !== undefined) out.resource = r.resource;
  if (r.subresource !== undefined) out.subresource = r.subresource;
  if (r.namespace !== undefined) out.namespace = r.namespace;
  if (r.name !== undefined) out.name = r.name;
  if (r.responseCode !== undefined) out.responseCode = r.responseCode;
  if (r.decision !== undefined) out.decision = r.decision;
  if (r.sourceIps !== undefined) out.sourceIps = r.sourceIps;
  if (r.userAgent !== undefined) out.userAgent = r.userAgent;
  (out as { [DERIVED]?: EventRow })[DERIVED] = r;
  return out;
}

export type RetentionPolicy = Parameters<Store['enforceRetention']>[0];

/**
 * Enforce `policy` now and then every `intervalMs` (default 10 minutes) until the returned
 * function is called. Failures are reported through `onError` and retried at the next tick.
 */
export function startRetention(store: Store, policy: RetentionPolicy, opts: { intervalMs?: number; onError?: (e: Error) => void } = {}): () => void {
  let running = false;
  const tick = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      await store.enforceRetention(policy);
    } catch (e) {
      opts.onError?.(e as Error);
    } finally {
      running = false;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), opts.intervalMs ?? 600_000);
  timer.unref();
  return () => clearInterval(timer);
}
