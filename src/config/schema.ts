/**
 * The configuration schema: one YAML file, validated here. The schema is the documentation:
 * every option has a description and a default, `docs/config.md` is generated from it
 * (`npm run docs:config`), unknown keys are errors, units are in option names
 * (`max_bytes`, `flush_interval_ms`), and variants are chosen with `type:`.
 */
import { z } from 'zod';
import { demoConfig } from '../sources/demo/config.ts';
import { falcoAlertsConfig } from '../sources/falco_alerts/config.ts';
import { k8sAuditFileConfig } from '../sources/k8s_audit_file/config.ts';
import { k8sAuditWebhookConfig } from '../sources/k8s_audit_webhook/config.ts';
import { LABEL_NAME } from '../sources/common.ts';
import { syscallSensorConfig } from '../sources/syscall/config.ts';
import { outputConfig } from '../outputs/config.ts';
import { PRIORITIES } from './priority.ts';

export { PRIORITIES, outputConfig };

const priority = z.enum(PRIORITIES);

const listen = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, { message: 'HOST:PORT, e.g. 127.0.0.1:8765 or [::1]:8765', abort: true })
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'port must be at most 65535');

export const sourceConfig = z.discriminatedUnion('type', [k8sAuditFileConfig, k8sAuditWebhookConfig, falcoAlertsConfig, demoConfig, syscallSensorConfig]);

const tableRetention = (what: string) => z
  .strictObject({
    max_age_days: z.number().positive().optional().describe(`Delete ${what} older than this many days (fractions allowed: 0.5 is 12 hours). Unset: kept whatever their age.`),
    max_bytes: z.number().int().min(1).optional().describe(`Delete the oldest ${what} while the table takes more than this on disk. Unset: no size limit.`),
  })
  .prefault({});

const retentionConfig = z
  .strictObject({
    events: tableRetention('audit events').describe('Audit events table.'),
    alerts: tableRetention('alerts').describe('Alerts table (hunt results included).'),
    syscall_events: tableRetention('syscall events').describe('Syscall events table (what a `syscall` source with `store_events: all` stores).'),
    interval_ms: z.number().int().min(1000).default(600_000).describe('How often retention is enforced, in the background (also once at start).'),
  })
  .prefault({})
  .describe('Retention by age and by size, per table, enforced in the background while `vigil run` runs. Nothing is deleted unless a limit is set. DuckDB deletes the oldest rows; ClickHouse drops whole day partitions and deletes the rest with a mutation.');

/**
 * DuckDB's memory limit when the config names none. It bounds DuckDB's buffer pool (caches,
 * query state); nothing in the store must stay in it whole (no primary-key index: see
 * store/duckdb.ts), so large stores and queries run within it: the bench's 10-million-event
 * queries are measured at this limit, and all of them, and 2.4 million inserts, also passed at
 * 64MB (a write needs ~60MB at most: its CSV reader takes a 30 MiB buffer).
 */
export const DUCKDB_MEMORY_LIMIT_DEFAULT = '96MB';

const duckdbStorage = z.strictObject({
  type: z.literal('duckdb'),
  path: z.string().min(1).optional().describe('Database file; default `<data_dir>/vigil.duckdb`.'),
  memory_limit: z.string().regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'a size such as 128MB or 2GiB').default(DUCKDB_MEMORY_LIMIT_DEFAULT)
    .describe("DuckDB's memory limit (its buffer pool: caches, query state; large queries spill to disk). Vigil's own heap comes on top."),
  threads: z.number().int().min(1).max(256).optional()
    .describe("DuckDB's worker threads; default one less than the CPUs (at least 1), leaving a core to the event loop."),
  retention: retentionConfig,
});
const clickhouseStorage = z.strictObject({
  type: z.literal('clickhouse'),
  url: z.url().describe('ClickHouse HTTP endpoint, e.g. `http://127.0.0.1:8123`.'),
  database: z.string().min(1).default('vigil').describe('Database name.'),
  username: z.string().default('default').describe('User name.'),
  password: z.string().default('').describe('Password.'),
  retention: retentionConfig,
});
const memoryStorage = z.strictObject({
  type: z.literal('memory'),
});

export const storageConfig = z.discriminatedUnion('type', [duckdbStorage, clickhouseStorage, memoryStorage]);

const routeConfig = z.strictObject({
  name: z.string().min(1).optional().describe('Name used in logs.'),
  match: z
    .strictObject({
      sources: z.array(z.string()).optional().describe('Names of the Vigil sources the alert came through (e.g. `k8s_audit_webhook`, `falco_alerts`).'),
      rule_sources: z.array(z.string()).optional().describe('Falco sources of the rule (`k8s_audit`, `syscall`, ...).'),
      tags: z.array(z.string()).optional().describe('The alert has at least one of these tags.'),
      labels: z.record(z.string().regex(LABEL_NAME), z.string()).optional().describe('Every one of these labels has this value.'),
      min_priority: priority.optional().describe('The alert is at least this severe.'),
    })
    .prefault({})
    .describe('All conditions given must hold; an empty match takes every alert.'),
  outputs: z.array(z.string().min(1)).min(1).describe('Names of the outputs the matching alerts go to.'),
});

const pipelineConfig = z.strictObject({
  queue_max_events: z
    .number().int().min(100)
    .default(20_000)
    .describe('Events held in memory, decoded, between the sources and the detector/storage stage. Past it the file tail pauses, and webhook batches are kept only in the disk spool (also past 32 MiB of them held in memory: they are read back from disk when their turn comes).'),
  max_inflight_body_bytes: z
    .number().int().min(1024 * 1024)
    .default(256 * 1024 * 1024)
    .describe('Request bodies (after decompression) held in memory at once by all webhook sources, while they are read, decoded and spooled. Past it new requests get 503 with Retry-After before their body is read (and a chunked or gzip body that outgrows it while read is cut off the same way); one request at a time always proceeds. Without it, `max_inflight_requests` × `max_body_bytes` (4 GiB by default) would be the bound.'),
  batch_max_events: z.number().int().min(1).default(5000).describe('Most events written to storage in one batch.'),
  flush_interval_ms: z.number().int().min(1).default(50).describe('Longest time a partial batch waits before it is written to storage.'),
  dedup_max_ids: z
    .number().int().min(0)
    .default(200_000)
    .describe('Recent audit event identities (`auditID` + `stage`) remembered to drop duplicates before detection; 0 turns it off (storage is idempotent anyway).'),
  spool: z
    .strictObject({
      max_bytes: z
        .number().int().min(1024 * 1024)
        .default(1024 * 1024 * 1024)
        .describe('Disk spool size cap. Webhook and Falco batches are written here (and fsynced) before they are acknowledged; when the spool is full, webhooks get 503 with Retry-After.'),
      segment_max_bytes: z.number().int().min(64 * 1024).default(64 * 1024 * 1024).describe('Size of one spool segment file; consumed segments are deleted.'),
      high_water_bytes: z
        .number().int().min(0)
        .default(32 * 1024 * 1024)
        .describe('Unconsumed spool bytes past which audit webhook requests get 429 with Retry-After (the detector or storage is behind), decided when a request begins. Falco alerts are still taken (Falco\'s http_output does not retry); only `max_bytes` refuses them. It bounds the delay from arrival to storage: about this many bytes of events wait at most; raise it to absorb longer bursts at the cost of latency.'),
      fsync: z.boolean().default(true).describe('fsync the spool before acknowledging a batch. Turning it off trades crash safety for speed.'),
    })
    .prefault({})
    .describe('The disk spool: where pushed batches (webhooks, Falco alerts) are made durable before they are acknowledged, and wait while detection or storage is behind.'),
});

export const configSchema = z.strictObject({
  listen: listen.default('127.0.0.1:8765').describe('Address of the HTTP server (ingest endpoints, `/healthz`, `/readyz`, `/metrics`). `--listen` overrides it.'),
  data_dir: z.string().min(1).default('./data').describe('Where Vigil keeps its state: storage, spool, checkpoints, `server.json`. Relative to the working directory. `--data` overrides it.'),
  log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('Log level of the JSON log (pino) on stderr.'),
  auth_token: z.string().min(1).optional().describe('Bearer token required on every ingest endpoint (sources may set their own), on the live feed (`/api/live`: the header, or `?token=` since a browser EventSource cannot send headers) and on the store API (`/api/store`: `vigil search` and `vigil hunt` send the `VIGIL_AUTH_TOKEN` environment variable).'),
  rules: z
    .strictObject({
      files: z.array(z.string().min(1)).default([]).describe("Falco rules files, loaded in order; empty means Vigil's bundled packs (`rules/`)."),
      rule_matching: z.enum(['first', 'all']).default('first').describe("`first` (Falco's default): only the first matching rule alerts for an event; `all`: every matching rule."),
      min_priority: priority.default('debug').describe('Rules less severe than this are loaded but not run.'),
      disable: z.array(z.string()).default([]).describe('Rules to turn off: exact names, `*` wildcards, or `tag:<tag>`.'),
    })
    .prefault({})
    .describe('Detection rules.'),
  storage: storageConfig.prefault({ type: 'duckdb' }).describe('Where events and alerts are kept.'),
  sources: z
    .array(sourceConfig)
    .prefault([{ type: 'k8s_audit_webhook' }, { type: 'falco_alerts' }])
    .describe('Inputs. Default: the audit webhook and Falco alert intake.'),
  outputs: z.array(outputConfig).prefault([{ type: 'console' }]).describe('Alert destinations. Default: the console, as text.'),
  routes: z
    .array(routeConfig)
    .default([])
    .describe('Which alerts go to which outputs. With no routes, every alert goes to every output. Every event always goes to storage and the detector; every alert to storage and the live feed.'),
  pipeline: pipelineConfig.prefault({}).describe('Queues, batching, de-duplication and the disk spool between the sources and the detector/storage stage.'),
});

export type VigilConfig = z.infer<typeof configSchema>;
export type SourceConfig = z.infer<typeof sourceConfig>;
export type OutputConfig = z.infer<typeof outputConfig>;
export type StorageConfig = z.infer<typeof storageConfig>;
export type RetentionConfig = z.infer<typeof retentionConfig>;
export type RouteConfig = z.infer<typeof routeConfig>;
export type Priority = (typeof PRIORITIES)[number];

/** 0 (emergency) .. 7 (debug), as the engine numbers priorities. */
export function priorityNum(p: Priority): number {
  return PRIORITIES.indexOf(p);
}
