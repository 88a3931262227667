/**
 * The whole service in one process: what `vigil run` starts. Builds every part from the
 * configuration (decided once, here), wires them, and stops them in the order that loses
 * nothing: stop taking input, drain the pipeline, write checkpoints, close storage.
 */
import { existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import type { VigilConfig } from '../config/schema.ts';
import { PRIORITIES } from '../config/schema.ts';
import { bundledRuleFiles } from '../engine/bundled.ts';
import { Engine } from '../engine/engine.ts';
import { defaultTables } from '../engine/tables.ts';
import type { AuditEvent } from '../events/k8saudit.ts';
import { ConsoleOutput } from '../outputs/console.ts';
import { FileOutput } from '../outputs/file.ts';
import { type DeliveryHealth, RetryingOutput } from '../outputs/retry.ts';
import type { Output } from '../outputs/types.ts';
import { WebhookOutput } from '../outputs/webhook.ts';
import { writeFileAtomicSync } from '../util/atomic.ts';
import { MemoryStore } from '../pipeline/memstore.ts';
import { Pipeline, type SpoolItem } from '../pipeline/pipeline.ts';
import { compileRoutes } from '../pipeline/routes.ts';
import { Spool } from '../pipeline/spool.ts';
import { basicStoredEvent } from '../pipeline/stored.ts';
import { Telemetry } from '../pipeline/telemetry.ts';
import { formatDiagnostic } from '../rules/diagnostics.ts';
import { HttpServer, checkBearer, sendJson } from '../server/http.ts';
import { DemoSource } from '../sources/demo/runtime.ts';
import { FalcoAlertsSource } from '../sources/falco_alerts/runtime.ts';
import { K8sAuditFileTail } from '../sources/k8s_audit_file/runtime.ts';
import { BodyBudget, K8sAuditWebhook } from '../sources/k8s_audit_webhook/runtime.ts';
import type { Store, StoredEvent } from '../store/types.ts';
import { SyscallSource } from './syscall_source.ts';

export interface ServiceOptions {
  /** Where console outputs write (tests capture it). */
  stdout?: (s: string) => void;
  /** Logger destination (default stderr). */
  logStream?: NodeJS.WritableStream;
  /** A store to use instead of the configured one (tests); opened here. */
  store?: Store;
  toStoredEvent?: (ev: AuditEvent, rawText?: string) => StoredEvent;
  /** Working directory for relative paths (default process.cwd()). */
  cwd?: string;
}

export interface Service {
  url: string;
  host: string;
  port: number;
  dataDir: string;
  pipeline: Pipeline;
  store: Store;
  telemetry: Telemetry;
  log: Logger;
  stop(): Promise<void>;
}

export class StartupError extends Error {}

/** The configured storage backend, opened (issue 5's module, loaded lazily: it brings DuckDB). */
async function openConfiguredStore(cfg: VigilConfig, dataDir: string, ruleFiles: string[]): Promise<{ store: Store; toStoredEvent: (ev: AuditEvent, rawText?: string) => StoredEvent }> {
  if (cfg.storage.type === 'memory') {
    const store = new MemoryStore();
    await store.open();
    return { store, toStoredEvent: basicStoredEvent };
  }
  const mod = await import('../store/index.ts');
  const storageCfg = cfg.storage.type === 'duckdb' && cfg.storage.path ? { ...cfg.storage, path: path.resolve(dataDir, cfg.storage.path) } : cfg.storage;
  const store = await mod.openStore(storageCfg, { dataDir, rulesFiles: ruleFiles });
  return { store, toStoredEvent: (ev, rawText) => mod.toStoredEvent(ev, rawText) };
}

/**
 * Retention from `storage.retention`, enforced in the background (store/index.ts
 * startRetention): once now, then every `interval_ms`. A no-op without limits (and for the
 * memory store). Returns the function that stops it.
 */
async function startConfiguredRetention(cfg: VigilConfig, store: Store, log: Logger): Promise<() => Promise<void>> {
  if (cfg.storage.type === 'memory') return async () => undefined;
  const r = cfg.storage.retention;
  const table = (t: { max_age_days?: number | undefined; max_bytes?: number | undefined }): { maxAgeMs?: number; maxBytes?: number } | undefined => {
    const p: { maxAgeMs?: number; maxBytes?: number } = {};
    if (t.max_age_days !== undefined) p.maxAgeMs = Math.round(t.max_age_days * 86_400_000);
    if (t.max_bytes !== undefined) p.maxBytes = t.max_bytes;
    return Object.keys(p).length ? p : undefined;
  };
  const policy: Parameters<Store['enforceRetention']>[0] = {};
  const ev = table(r.events);
  const al = table(r.alerts);
  if (ev) policy.events = ev;
  if (al) policy.alerts = al;
  // Syscall events (store_events: all), see syscall_source.ts.
  const sy = table(r.syscall_events);
  if (sy) policy.syscall_events = sy;
  if (!ev && !al && !sy) return async () => undefined;
  const { startRetention } = await import('../store/index.ts');
  log.info({ retention: policy, interval_ms: r.interval_ms }, 'storage: retention enforced in the background');
  let failing = false;
  let running: Promise<void> = Promise.resolve();
  // startRetention only calls enforceRetention: this one logs, and is awaited on stop so that
  // the store is never closed under a delete.
  const logged: Pick<Store, 'enforceRetention'> = {
    enforceRetention: (p) => {
      const t0 = performance.now();
      running = store.enforceRetention(p).then(() => {
        if (failing) log.info('storage: retention succeeds again');
        failing = false;
        log.debug({ ms: Math.round(performance.now() - t0) }, 'storage: retention enforced');
      });
      return running;
    },
  };
  const stop = startRetention(logged as Store, policy, {
    intervalMs: r.interval_ms,
    onError: (e) => {
      if (!failing) log.error({ err: e }, `storage: enforcing retention failed (retried every ${r.interval_ms} ms): ${e.message}`);
      failing = true;
    },
  });
  return async () => {
    stop();
    await running.catch(() => undefined);
  };
}

function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  let host = listen.slice(0, i);
  if (host.startsWith('[')) host = host.slice(1, -1);
  return { host, port: Number(listen.slice(i + 1)) };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function startService(cfg: VigilConfig, opts: ServiceOptions = {}): Promise<Service> {
  const cwd = opts.cwd ?? process.cwd();
  const dataDir = path.resolve(cwd, cfg.data_dir);
  mkdirSync(dataDir, { recursive: true });
  const log = pino({ level: cfg.log_level, base: { pid: process.pid } }, opts.logStream ?? pino.destination({ fd: 2, sync: false }));

  const serverFile = path.join(dataDir, 'server.json');
  if (existsSync(serverFile)) {
    try {
      const prev = JSON.parse(readFileSync(serverFile, 'utf8')) as { pid?: number; url?: string };
      if (typeof prev.pid === 'number' && prev.pid !== process.pid && pidAlive(prev.pid)) {
        throw new StartupError(`another Vigil (pid ${prev.pid}, ${prev.url ?? '?'}) is running with the data directory ${dataDir}`);
      }
    } catch (e) {
      if (e instanceof StartupError) throw e;
    }
  }

  // Rules.
  const engine = new Engine({ tables: defaultTables(), ruleMatching: cfg.rules.rule_matching });
  engine.minPriority = PRIORITIES.indexOf(cfg.rules.min_priority);
  const ruleFiles = cfg.rules.files.length ? cfg.rules.files.map((f) => path.resolve(cwd, f)) : bundledRuleFiles();
  const loaded = engine.loadFiles(ruleFiles);
  if (!loaded.ok) {
    throw new StartupError('rules failed to load:\n' + loaded.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n'));
  }
  if (cfg.rules.disable.length) engine.disable(cfg.rules.disable);
  engine.onError = (rule, err) => log.warn({ rule, err: err.message }, 'engine: a rule failed on an event (counted, detection goes on)');
  const active = engine.allRules.filter((r) => engine.isActive(r)).length;
  log.info({ files: ruleFiles, rules: engine.allRules.length, active }, 'rules loaded');

  // Storage, spool, outputs, pipeline.
  const telemetry = new Telemetry();
  let store: Store;
  let toStoredEvent: (ev: AuditEvent, rawText?: string) => StoredEvent;
  if (opts.store) {
    store = opts.store;
    toStoredEvent = opts.toStoredEvent ?? basicStoredEvent;
    await store.open();
  } else {
    try {
      ({ store, toStoredEvent } = await openConfiguredStore(cfg, dataDir, ruleFiles));
    } catch (e) {
      throw new StartupError(`cannot open storage (${cfg.storage.type}): ${(e as Error).message}`);
    }
  }
  log.info({ storage: cfg.storage.type, kind: store.kind }, 'storage open');
  const spool = new Spool<SpoolItem>({
    dir: path.join(dataDir, 'spool'), maxBytes: cfg.pipeline.spool.max_bytes, segmentMaxBytes: cfg.pipeline.spool.segment_max_bytes,
    fsync: cfg.pipeline.spool.fsync, memoryMaxItems: cfg.pipeline.queue_max_events,
  });
  await spool.open();
  if (spool.stats.recovered) log.info({ bytes: spool.stats.recovered }, 'spool: resuming batches accepted before the last stop');

  // Every output behind its own bounded queue with retries (outputs/retry.ts): a slow or dead
  // output never holds up detection, storage or the other outputs.
  const outputs: RetryingOutput[] = [];
  const seenOutputs = new Set<string>();
  for (const o of cfg.outputs) {
    const name = o.name ?? o.type;
    if (seenOutputs.has(name)) throw new StartupError(`two outputs are named '${name}': give them distinct names`);
    seenOutputs.add(name);
    const minP = PRIORITIES.indexOf(o.min_priority);
    let inner: Output;
    if (o.type === 'console') inner = new ConsoleOutput(name, minP, o.format, opts.stdout);
    else if (o.type === 'file') inner = new FileOutput(name, minP, path.resolve(dataDir, o.path));
    else inner = new WebhookOutput(name, minP, { url: o.url, method: o.method, headers: o.headers, timeoutMs: o.timeout_ms, maxConcurrentRequests: o.max_concurrent_requests });
    const dl = o.delivery;
    const sent = telemetry.outputSent.labels(name);
    const failed = telemetry.outputFailed.labels(name);
    const retried = telemetry.outputRetried.labels(name);
    // Zero-valued series from the start, so a dashboard sees every output before its first alert.
    sent.inc(0); failed.inc(0); retried.inc(0);
    outputs.push(new RetryingOutput(inner, {
      maxRetries: dl.max_retries, initialBackoffMs: dl.initial_backoff_ms, maxBackoffMs: dl.max_backoff_ms,
      queueMaxAlerts: dl.queue_max_alerts, batchMaxAlerts: dl.batch_max_alerts, drainTimeoutMs: dl.drain_timeout_ms,
    }, { sent: (n) => sent.inc(n), failed: (n) => failed.inc(n), retried: (n) => retried.inc(n) }, log));
  }
  const outputHealth = (): Record<string, DeliveryHealth> => Object.fromEntries(outputs.map((o) => [o.name, o.health()]));
  let router;
  try {
    router = compileRoutes(cfg.routes, outputs);
  } catch (e) {
    throw new StartupError((e as Error).message);
  }

  // Source names: the type, numbered when it repeats.
  const counts = new Map<string, number>();
  const names = cfg.sources.map((s) => {
    if (s.name) return s.name;
    const n = (counts.get(s.type) ?? 0) + 1;
    counts.set(s.type, n);
    return n === 1 ? s.type : `${s.type}-${n}`;
  });
  if (new Set(names).size !== names.length) throw new StartupError(`source names must be distinct: ${names.join(', ')}`);
  if (cfg.sources.filter((s) => s.type === 'syscall').length > 1) throw new StartupError('only one syscall source can run: one sensor watches the whole machine');
  const sourceLabels = new Map(cfg.sources.map((s, i) => [names[i]!, s.labels]));

  const pipeline = new Pipeline({
    queueMaxEvents: cfg.pipeline.queue_max_events, batchMaxEvents: cfg.pipeline.batch_max_events, flushIntervalMs: cfg.pipeline.flush_interval_ms,
    dedupMaxIds: cfg.pipeline.dedup_max_ids, highWaterBytes: cfg.pipeline.spool.high_water_bytes,
  }, {
    store, toStoredEvent, engine, outputs, router, spool, telemetry, log, sourceLabels,
    engineSources: new Set(names.filter((_, i) => cfg.sources[i]!.type === 'syscall')),
  });
  pipeline.start();

  // Sources and the server.
  const server = new HttpServer(log);
  const tails: K8sAuditFileTail[] = [];
  const demos: DemoSource[] = [];
  const sensors: SyscallSource[] = [];
  const health: Record<string, () => Record<string, unknown>> = {};
  const endpoints: string[] = [];
  const bodyBudget = new BodyBudget(cfg.pipeline.max_inflight_body_bytes);
  cfg.sources.forEach((s, i) => {
    const name = names[i]!;
    if (s.type === 'k8s_audit_webhook') {
      const w = new K8sAuditWebhook({ name, cfg: s, authToken: cfg.auth_token, bodyBudget, pipeline, telemetry, log });
      w.register(server);
      health[name] = () => w.health.snapshot();
      endpoints.push(`POST ${s.path}[/<cluster>] (${name})`);
    } else if (s.type === 'falco_alerts') {
      const f = new FalcoAlertsSource({ name, cfg: s, authToken: cfg.auth_token, pipeline, telemetry, log });
      f.register(server);
      health[name] = () => f.health.snapshot();
      endpoints.push(`POST ${s.paths.join(', ')} (${name})`);
    } else if (s.type === 'k8s_audit_file') {
      const t = new K8sAuditFileTail({ name, cfg: s, dataDir, pipeline, telemetry, log, baseDir: cwd });
      tails.push(t);
      health[name] = () => t.healthSnapshot();
    } else if (s.type === 'demo') {
      const d = new DemoSource({ name, cfg: s, pipeline, log });
      demos.push(d);
      health[name] = () => d.healthSnapshot();
    } else if (s.type === 'syscall') {
      // store: where `store_events: all` writes every syscall event (syscall_source.ts).
      const sensor = new SyscallSource({ name, cfg: s, engine, pipeline, telemetry, log, store });
      sensors.push(sensor);
      health[name] = () => ({ ...sensor.health() });
    }
  });

  server.route('/healthz', (_req, res) => sendJson(res, 200, { status: 'ok' }));
  server.route('/readyz', (_req, res) => {
    const ready = pipeline.ready;
    sendJson(res, ready ? 200 : 503, {
      ready, spool_bytes: spool.unconsumedBytes, sources: Object.fromEntries(Object.entries(health).map(([k, f]) => [k, f()])), outputs: outputHealth(),
    });
  });
  server.route('/metrics', async (_req, res) => {
    const text = await telemetry.metrics();
    res.writeHead(200, { 'Content-Type': telemetry.contentType });
    res.end(text);
  });
  // The store's JSON API (search, aggregations, fetch by id, hunt results): what `vigil search`
  // and `vigil hunt` use while this process holds the store (found through server.json).
  const { storeApiHandler } = await import('../store/api.ts');
  const storeApi = storeApiHandler(store);
  server.route('/api/store', async (req, res, rest) => {
    checkBearer(req, cfg.auth_token);
    await storeApi(req, res, rest);
  }, true);
  server.route('/api/live', (req, res) => {
    // The bearer token, or `?token=`: a browser's EventSource cannot set headers.
    if (cfg.auth_token !== undefined && liveToken(req.url) !== cfg.auth_token) checkBearer(req, cfg.auth_token);
    // Server-sent events: one `alert` event per alert, Falco's JSON as data.
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.write(': vigil live feed\n\n');
    const onAlerts = (records: Array<{ json: string }>): void => {
      for (const r of records) res.write(`event: alert\ndata: ${r.json}\n\n`);
    };
    pipeline.live.on('alerts', onAlerts);
    req.on('close', () => pipeline.live.off('alerts', onAlerts));
  });

  const { host, port } = parseListen(cfg.listen);
  let addr;
  try {
    addr = await server.listen(host, port);
  } catch (e) {
    await pipeline.stop();
    await spool.close();
    for (const o of outputs) await o.close().catch(() => undefined);
    await store.close();
    throw new StartupError(`cannot listen on ${cfg.listen}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${urlHost}:${addr.port}`;
  // Atomic: other commands read it while we run, and must never see it half-written.
  writeFileAtomicSync(serverFile, JSON.stringify({ url, pid: process.pid, started: new Date().toISOString(), data_dir: dataDir }, null, 2) + '\n');
  log.info({ url, endpoints: [...endpoints, 'GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /api/live', 'GET|POST /api/store/...'], data_dir: dataDir, code: process.env.VIGIL_CODE ?? 'source' }, `listening on ${url}`);
  for (const t of tails) t.start();
  for (const d of demos) d.start();
  for (const s of sensors) s.start();
  const stopRetention = await startConfiguredRetention(cfg, store, log);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      log.info('stopping: no new input, draining the pipeline');
      await stopRetention();
      await server.close();
      for (const d of demos) d.stop();
      for (const s of sensors) await s.stop();
      for (const t of tails) await t.stop();
      await pipeline.stop();
      for (const t of tails) await t.close();
      await spool.close();
      // In parallel: each output may take up to its delivery.drain_timeout_ms.
      await Promise.all(outputs.map((o) => o.close().catch((e: unknown) => log.warn({ err: e, output: o.name }, `output '${o.name}': close failed`))));
      await store.close();
      try { unlinkSync(serverFile); } catch { /* already gone */ }
      log.info('stopped');
      log.flush();
    })();
    return stopped;
  };
  return { url, host: addr.address, port: addr.port, dataDir, pipeline, store, telemetry, log, stop };
}

/** The `token` query parameter of a request URL, if any. */
function liveToken(url: string | undefined): string | null {
  const q = url?.indexOf('?') ?? -1;
  return q < 0 ? null : new URLSearchParams(url!.slice(q + 1)).get('token');
}
