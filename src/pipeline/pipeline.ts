/**
 * The pipeline: sources hand over batches; one consumer enriches, de-duplicates, detects,
 * writes events and alerts to storage, and only then acknowledges the batches, sends alerts to
 * the outputs and the live feed.
 *
 *   push sources (webhook, Falco) ─► spool (disk, fsync) ─┐
 *                                                         ├─► enrich ─► dedup ─► detect ─► store ─► ack
 *   pull sources (file tail, demo) ─► memory queue ───────┘                                   └─► outputs, live feed
 *
 * Every hand-off is bounded. Push sources are acknowledged once their batch is in the spool;
 * when the spool holds more than `high_water_bytes` unconsumed they get `Overloaded` (429),
 * when it is full `SpoolFullError` (503). Pull sources wait on `capacity()` before reading
 * more (the tail pauses). A batch is acknowledged (spool position committed, tail checkpoint
 * advanced) only after storage has confirmed its events and alerts, in order.
 *
 * Idempotence: the store drops an event it already has (`auditID` + `stage`) and an alert
 * whose id it has (ids are derived from rule and event identity); before detection a bounded
 * set of recent identities drops duplicates so that a retried batch does not alert twice.
 * After a crash the spool and the checkpoints replay what was not acknowledged: stored once;
 * outputs see those alerts again only if the crash fell between the store write and the
 * commit (at-least-once for outputs).
 */
import { EventEmitter } from 'node:events';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Alert, Engine } from '../engine/engine.ts';
import { alertToJson, stringifyBig } from '../engine/engine.ts';
import { lookupSyscallField } from '../fields/syscall/lookup.ts';
import type { AuditEvent } from '../events/k8saudit.ts';
import type { AlertRecord, Output } from '../outputs/types.ts';
import type { Store, StoredAlert, StoredEvent } from '../store/types.ts';
import { RecentIds } from './dedup.ts';
import type { Router } from './routes.ts';
import { type FalcoAlert, Overloaded, type Sink, SpoolFull, type SpoolItem, type SubmitOptions, decodeSpoolPayload, rawTextOf } from '../sources/sink.ts';
import { Spool, SpoolFullError, type SpoolRecord } from './spool.ts';
import { storedEngineAlert, storedFalcoAlert } from './stored.ts';
import type { Telemetry } from './telemetry.ts';
import { Histogram } from 'prom-client';

/** Longest stretch of batch processing without a turn for the event loop. */
const YIELD_EVERY_MS = 8;

export interface PipelineOptions {
  queueMaxEvents: number;
  batchMaxEvents: number;
  flushIntervalMs: number;
  dedupMaxIds: number;
  highWaterBytes: number;
}

interface DirectBatch {
  source: string;
  labels: Record<string, string>;
  events: AuditEvent[];
  ack: () => void;
}

type Ack = { kind: 'spool'; rec: SpoolRecord<SpoolItem> } | { kind: 'direct'; ack: () => void };

interface Work {
  audit: Array<{ source: string; labels?: Record<string, string>; events: AuditEvent[]; receivedAt?: number }>;
  falco: Array<{ source: string; labels?: Record<string, string>; alerts: FalcoAlert[]; receivedAt?: number }>;
  acks: Ack[];
  count: number;
}

export interface PipelineDeps {
  store: Store;
  /** `rawText`: the event's JSON text as received, when a source kept it (see setRawText). */
  toStoredEvent: (ev: AuditEvent, rawText?: string) => StoredEvent;
  engine: Engine;
  outputs: Output[];
  router: Router;
  spool: Spool<SpoolItem>;
  telemetry: Telemetry;
  log: Logger;
  /** Static labels of each source, by name. */
  sourceLabels: Map<string, Record<string, string>>;
  /**
   * Sources whose Falco-shaped alerts were raised by this process's engine (the syscall
   * sensor's): counted with `origin="engine"`, not `falco`.
   */
  engineSources?: ReadonlySet<string>;
}

export { Overloaded, SpoolFull };
export type { SpoolItem };

export class Pipeline implements Sink {
  /** Alerts as they are stored: the live feed (SSE) listens here. */
  readonly live = new EventEmitter();
  private direct: DirectBatch[] = [];
  private directEvents = 0;
  private capacityWaiters: Array<() => void> = [];
  private workWaiter?: () => void;
  private recent: RecentIds;
  private num = 0;
  private stopping = false;
  private abandon = false;
  private done?: Promise<void>;
  private inflight: Promise<void> = Promise.resolve();
  private storeHealthy = true;
  private latency: Histogram;
  readonly counters = { events: 0, alerts: 0, duplicates: 0, batches: 0 };

  constructor(readonly opts: PipelineOptions, private readonly d: PipelineDeps) {
    this.recent = new RecentIds(opts.dedupMaxIds);
    this.live.setMaxListeners(0);
    const t = d.telemetry;
    t.gauge('vigil_queue_depth', 'Items waiting per queue (memory: events from pull sources; spool: unconsumed bytes).', ['queue'], () => [
      [{ queue: 'memory' }, this.directEvents],
      [{ queue: 'spool_bytes' }, d.spool.unconsumedBytes],
    ]);
    t.mirroredCounter('vigil_rule_matches_total', 'Alerts raised per rule.', 'rule', () => d.engine.matches);
    this.latency = new Histogram({
      name: 'vigil_ingest_to_stored_seconds',
      help: 'From the arrival of a pushed batch to its events and alerts being stored.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2, 5],
      registers: [t.registry],
    });
  }

  /** Ready: storage answers and the spool is below its high-water mark. */
  get ready(): boolean {
    return this.storeHealthy && !this.stopping && this.d.spool.unconsumedBytes <= this.opts.highWaterBytes;
  }

  start(): void {
    this.done = this.run();
  }

  // -------------------------------------------------------------------------------------------
  // Hand-offs

  /**
   * A push source's batch: spooled (durably) before this resolves. `payload` is the batch's
   * serialised form (see encodeSpoolPayload). Throws Overloaded or SpoolFull.
   */
  async submitSpooled(item: SpoolItem, payload: Buffer, opts?: SubmitOptions): Promise<void> {
    if (this.stopping) throw new Overloaded(5, 'shutting down');
    if (!opts?.admitted && this.d.spool.unconsumedBytes > this.opts.highWaterBytes) {
      throw new Overloaded(1, `detector/storage behind: ${this.d.spool.unconsumedBytes} bytes waiting in the spool`);
    }
    const weight = item.kind === 'audit' ? item.events.length : item.alerts.length;
    try {
      await this.d.spool.append(payload, item, weight);
    } catch (e) {
      if (e instanceof SpoolFullError) throw new SpoolFull(e.message);
      throw e;
    }
    this.wakeConsumer();
  }

  /** Room in the memory queue for pull sources. */
  hasCapacity(): boolean {
    return this.directEvents < this.opts.queueMaxEvents;
  }

  /** Resolves when pull sources may hand over more. */
  capacity(): Promise<void> {
    if (this.hasCapacity() || this.stopping) return Promise.resolve();
    return new Promise((r) => this.capacityWaiters.push(r));
  }

  /** A pull source's batch; `ack` is called once its events are stored. */
  submitDirect(source: string, events: AuditEvent[], ack: () => void, labels?: Record<string, string>): void {
    this.direct.push({ source, labels: labels ?? this.d.sourceLabels.get(source) ?? {}, events, ack });
    this.directEvents += events.length;
    this.wakeConsumer();
  }

  private wakeConsumer(): void {
    const w = this.workWaiter;
    if (w) {
      this.workWaiter = undefined;
      w();
    }
  }

  // -------------------------------------------------------------------------------------------
  // The consumer

  private hasWork(): boolean {
    return this.direct.length > 0 || this.d.spool.hasData();
  }

  private async run(): Promise<void> {
    for (;;) {
      // Stopping: finish the write in flight and leave the rest where it is durable already
      // (the spool replays it, the tail re-reads it from its checkpoint) rather than drain a
      // backlog past the orchestrator's grace period.
      if (this.stopping && (this.abandon || !this.hasWork())) break;
      if (!this.hasWork()) {
        if (this.stopping) break;
        await new Promise<void>((r) => {
          this.workWaiter = r;
          void this.d.spool.waitForData().then(r);
        });
        this.workWaiter = undefined;
        continue;
      }
      // Give a trickle a moment to become a batch (one storage write instead of many).
      if (!this.stopping && this.pendingCount() < this.opts.batchMaxEvents && this.opts.flushIntervalMs > 0) {
        await sleep(Math.min(this.opts.flushIntervalMs, 20));
      }
      const work = this.collect();
      if (work.acks.length === 0) continue;
      let result: { events: StoredEvent[]; alerts: StoredAlert[]; records: AlertRecord[] };
      try {
        result = await this.process(work);
      } catch (e) {
        this.d.log.error({ err: e }, 'pipeline: processing a batch failed; its events are skipped');
        this.d.telemetry.dropped.inc({ stage: 'detect', reason: 'processing_error' }, work.count);
        result = { events: [], alerts: [], records: [] };
      }
      // One storage write in flight while the next batch is processed. The store takes the
      // next write at once (its preparation runs now, on this turn) and orders it after the
      // one in flight; acknowledgements stay in order, after the write before them.
      const first = this.storeWrite(result);
      first.catch(() => undefined);
      await this.inflight;
      this.inflight = this.write(result, work, first);
    }
    await this.inflight;
  }

  private pendingCount(): number {
    return this.directEvents + (this.d.spool.hasData() ? this.opts.batchMaxEvents : 0);
  }

  /** Take up to batch_max_events of work, in arrival order per source kind. */
  private collect(): Work {
    const w: Work = { audit: [], falco: [], acks: [], count: 0 };
    const max = this.opts.batchMaxEvents;
    while (w.count < max) {
      const rec = this.d.spool.next();
      if (!rec) break;
      let item = rec.attached;
      if (item === undefined) item = this.decodeSpooled(rec);
      if (item) {
        if (item.kind === 'audit') { w.audit.push(item); w.count += item.events.length; } else { w.falco.push(item); w.count += item.alerts.length; }
      }
      w.acks.push({ kind: 'spool', rec });
    }
    while (w.count < max && this.direct.length > 0) {
      const b = this.direct.shift()!;
      this.directEvents -= b.events.length;
      w.audit.push({ source: b.source, labels: b.labels, events: b.events });
      w.acks.push({ kind: 'direct', ack: b.ack });
      w.count += b.events.length;
    }
    if (this.capacityWaiters.length && this.hasCapacity()) {
      const ws = this.capacityWaiters;
      this.capacityWaiters = [];
      for (const f of ws) f();
    }
    return w;
  }

  /** A record read back from disk (spilled, or left by a previous run). */
  private decodeSpooled(rec: SpoolRecord<SpoolItem>): SpoolItem | undefined {
    this.d.telemetry.queueSpilled.inc({ queue: 'spool' });
    if (!rec.payload) return undefined;
    try {
      return decodeSpoolPayload(rec.payload);
    } catch (e) {
      this.d.log.error({ err: e, segment: rec.segment, offset: rec.start }, 'spool: unreadable record skipped');
      this.d.telemetry.dropped.inc({ stage: 'spool', reason: 'unreadable_record' });
      return undefined;
    }
  }

  /**
   * Detection and storage rows for a batch. It gives the event loop a turn every few
   * milliseconds: the storage write in flight completes in steps (compression, segment write,
   * sync, DuckDB calls), each waiting for a turn, and one 50 ms stretch here held each of them.
   */
  private async process(w: Work): Promise<{ events: StoredEvent[]; alerts: StoredAlert[]; records: AlertRecord[] }> {
    const events: StoredEvent[] = [];
    const alerts: StoredAlert[] = [];
    const records: AlertRecord[] = [];
    const engine = this.d.engine;
    let duplicates = 0;
    let slice = performance.now();
    for (const b of w.audit) {
      if (performance.now() - slice > YIELD_EVERY_MS) {
        await yieldTurn();
        slice = performance.now();
      }
      const labels = b.labels ?? this.d.sourceLabels.get(b.source) ?? {};
      const hasLabels = Object.keys(labels).length > 0;
      for (const ev of b.events) {
        if (hasLabels) ev.labels = labels;
        const raw = ev.raw;
        const stage = raw.stage;
        if (!this.recent.add(raw.auditID as string, typeof stage === 'string' ? stage : '')) {
          duplicates++;
          continue;
        }
        ev.num = ++this.num;
        const raised = engine.process(ev);
        for (let i = 0; i < raised.length; i++) {
          const a = raised[i]!;
          const s = storedEngineAlert(a);
          alerts.push(s);
          records.push({ stored: s, priorityNum: a.priorityNum, sourceName: b.source, json: alertJson(a), engine: a });
        }
        events.push(this.d.toStoredEvent(ev, rawTextOf(ev)));
      }
      this.counters.events += b.events.length;
    }
    if (duplicates > 0) {
      this.counters.duplicates += duplicates;
      this.d.telemetry.dropped.inc({ stage: 'dedup', reason: 'duplicate' }, duplicates);
    }
    for (const b of w.falco) {
      const labels = b.labels ?? this.d.sourceLabels.get(b.source);
      for (const f of b.alerts) {
        const s = storedFalcoAlert(f, labels);
        alerts.push(s);
        records.push({ stored: s, priorityNum: priorityIndex(f.priority), sourceName: b.source, json: falcoJson(f) });
      }
    }
    return { events, alerts, records };
  }

  /** Events and alerts to the store: one write where the store offers it. */
  private storeWrite(r: { events: StoredEvent[]; alerts: StoredAlert[] }): Promise<[number, number]> {
    const st = this.d.store;
    if (r.events.length === 0 && r.alerts.length === 0) return Promise.resolve([0, 0]);
    try {
      if (st.writeBatch) return st.writeBatch(r.events, r.alerts);
      return Promise.all([r.events.length ? st.writeEvents(r.events) : 0, r.alerts.length ? st.writeAlerts(r.alerts) : 0]);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private async write(r: { events: StoredEvent[]; alerts: StoredAlert[]; records: AlertRecord[] }, w: Work, first: Promise<[number, number]>): Promise<void> {
    const t = this.d.telemetry;
    for (let attempt = 0; ; attempt++) {
      const end = t.storeWriteSeconds.startTimer();
      const dog = watchdog(() => this.d.log.warn({ events: r.events.length, alerts: r.alerts.length }, 'watchdog: the storage write has been blocking the pipeline for 10 s'));
      try {
        const [ne, na] = await (attempt === 0 ? first : this.storeWrite(r));
        end();
        clearInterval(dog);
        t.storeWritten.inc({ table: 'events' }, ne);
        t.storeWritten.inc({ table: 'alerts' }, na);
        if (!this.storeHealthy) this.d.log.info('storage: writes succeed again');
        this.storeHealthy = true;
        break;
      } catch (e) {
        end();
        clearInterval(dog);
        t.storeErrors.inc();
        if (this.storeHealthy || attempt % 20 === 0) this.d.log.error({ err: e, attempt }, 'storage: write failed; retrying (nothing is acknowledged meanwhile)');
        this.storeHealthy = false;
        await sleep(Math.min(5000, 100 * 2 ** Math.min(attempt, 6)));
      }
    }
    // Stored: acknowledge in order, then fan the alerts out.
    const now = performance.now();
    for (const a of w.acks) {
      if (a.kind === 'spool') {
        this.d.spool.commit(a.rec);
        const at = a.rec.attached?.receivedAt;
        if (at !== undefined) this.latency.observe((now - at) / 1000);
      } else {
        a.ack();
      }
    }
    this.counters.batches++;
    if (r.records.length === 0) return;
    this.counters.alerts += r.records.length;
    const own = this.d.engineSources;
    for (const rec of r.records) t.alerts.inc({ priority: rec.stored.priority, origin: rec.engine || own?.has(rec.sourceName) ? 'engine' : 'falco' });
    if (this.live.listenerCount('alerts') > 0) this.live.emit('alerts', r.records);
    for (const [out, xs] of this.d.router.route(r.records)) {
      const dog = watchdog(() => this.d.log.warn({ output: out.name, alerts: xs.length }, `watchdog: output '${out.name}' has been blocking the pipeline for 10 s`));
      try {
        await out.send(xs);
        if (!out.countsOwnTelemetry) t.outputSent.inc({ output: out.name }, xs.length);
      } catch (e) {
        if (!out.countsOwnTelemetry) t.outputFailed.inc({ output: out.name }, xs.length);
        this.d.log.warn({ err: e, output: out.name }, 'output: send failed');
      } finally {
        clearInterval(dog);
      }
    }
  }

  /**
   * Stop taking work and wait for the last write. Work already handed over is processed while
   * it takes less than `drainMs`; what is left stays in the spool or behind the tail's
   * checkpoint for the next start.
   */
  async stop(drainMs = 5000): Promise<void> {
    this.stopping = true;
    const t = setTimeout(() => { this.abandon = true; }, drainMs);
    this.wakeConsumer();
    for (const f of this.capacityWaiters.splice(0)) f();
    await this.done;
    clearTimeout(t);
  }
}

/** Calls `warn` every 10 s until cleared: names the part that blocks (STYLE.md habit 10). */
function watchdog(warn: () => void): NodeJS.Timeout {
  const t = setInterval(warn, 10_000);
  t.unref();
  return t;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const PRIORITY_NAMES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'debug'];

export function priorityIndex(p: string): number {
  const l = p.toLowerCase();
  const i = PRIORITY_NAMES.indexOf(l === 'info' ? 'informational' : l);
  return i < 0 ? 7 : i;
}

function alertJson(a: Alert): string {
  return alertToJson(a);
}

/**
 * Falco's JSON alert. 64-bit integers in `output_fields` are printed as JSON numbers with their
 * exact digits, as Falco prints them: bigints as they are, and, in syscall alerts, the digit
 * strings that stand for them. Alerts raised by the syscall sensor cross the spool as JSON, where
 * an integer past 2^53 is kept as a string (`evt.time`, `evt.rawtime` in nanoseconds); the field
 * table says which fields are 64-bit integers, so a string-typed field's digits stay a string.
 */
export function falcoJson(f: FalcoAlert): string {
  const o: Record<string, unknown> = {};
  if (f.uuid) o.uuid = f.uuid;
  const output_fields = f.source === 'syscall' ? exactIntegers(f.output_fields) : f.output_fields;
  Object.assign(o, { hostname: f.hostname, output: f.output, output_fields, priority: f.priority, rule: f.rule, source: f.source, tags: f.tags, time: f.time });
  return stringifyBig(o);
}

const DIGITS = /^-?\d{1,20}$/;
const INT64_TYPES = new Set(['int64', 'uint64', 'abstime', 'reltime']);
/** Output field text (`evt.rawtime`, `proc.aname[2]`) → a 64-bit integer field? Memoised, bounded. */
const int64Field = new Map<string, boolean>();

function isInt64Field(key: string): boolean {
  let v = int64Field.get(key);
  if (v !== undefined) return v;
  if (key === 'evt.time') {
    v = true; // the engine puts the event's time there, in nanoseconds, as Falco does
  } else {
    const br = key.indexOf('[');
    const r = br > 0 && key.endsWith(']') ? lookupSyscallField(key.slice(0, br), key.slice(br + 1, -1)) : lookupSyscallField(key, undefined);
    v = !('error' in r) && INT64_TYPES.has(r.info.type);
  }
  if (int64Field.size >= 10_000) int64Field.clear();
  int64Field.set(key, v);
  return v;
}

function exactIntegers(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    if (typeof v === 'string') {
      if (DIGITS.test(v) && isInt64Field(k)) (out ??= { ...fields })[k] = BigInt(v);
    } else if (Array.isArray(v) && v.some((x) => typeof x === 'string' && DIGITS.test(x)) && isInt64Field(k)) {
      (out ??= { ...fields })[k] = v.map((x: unknown) => (typeof x === 'string' && DIGITS.test(x) ? BigInt(x) : x));
    }
  }
  return out ?? fields;
}

