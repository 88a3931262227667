/**
 * The syscall sensor inside `vigil run`: starts the sensor (src/sources/syscall) when the
 * configuration has a `type: syscall` source, judges its events with the service's engine as
 * they come (synchronously, in order, as `vigil sensor` does), and hands the alerts to the
 * pipeline as a pushed batch, so they take the path every alert takes: the disk spool, storage,
 * routes, outputs, the live feed.
 *
 * An alert is stored with its event (`StoredAlert.event`): the resolved value of every field
 * the loaded rules and outputs read, in the form `vigil sensor --record` writes (`{"time",
 * "fields"}`), so a stored alert's event can be replayed with `vigil replay --source syscall`
 * (`store_events: none` leaves it out). With `store_events: all`, every event is also stored
 * in `syscall_events` (Store.writeSyscallEvents) in the same form: events wait in a bounded
 * queue and are written in batches, one write at a time, off the sensor's path; when storage
 * falls behind and the queue is full, new events are dropped and counted
 * (`vigil_syscall_store_dropped_total{reason}`, `vigil_dropped_total{stage="syscall_store"}`)
 * with a log line at most every 10 s. The sensor never waits for storage.
 *
 * When the sensor cannot run here (not root, no bpftrace, no BTF, no tracefs) the service runs
 * without it and says why: one warning in the log and `state: unavailable` with `why` in
 * /readyz. If bpftrace dies after it started, the log says why and the sensor is started
 * again after a backoff (1 s, doubling up to `restart_max_backoff_ms`; back to 1 s once a
 * sensor has run 5 minutes): /readyz shows `state: restarting` with `why` meanwhile and
 * `restarts` always, counted in `vigil_sensor_restarts_total`. The sensor's own metrics
 * (registerSensorMetrics) read the current sensor's counters plus those of the sensors before
 * it, so they keep growing across restarts.
 *
 * Alerts are handed over in small batches (every 20 ms at most); when the pipeline is behind
 * (spool above its high-water mark, or full) they wait here, up to MAX_PENDING, and are
 * handed over again; beyond that they are dropped and counted
 * (`vigil_dropped_total{stage="syscall",reason="pipeline_full"}`) with a log line.
 */
import os from 'node:os';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import type { Alert, Engine } from '../engine/engine.ts';
import { defaultTables } from '../engine/tables.ts';
import { encodeRecordedEvent, type SyscallEvent } from '../events/syscall.ts';
import { formatIso8601 } from '../fields/generic.ts';
import { fieldRecorder, type FieldRecorder } from '../fields/syscall/record.ts';
import { usedSyscallFields } from '../fields/syscall/table.ts';
import { stringifyBig } from '../engine/engine.ts';
import type { Telemetry } from '../pipeline/telemetry.ts';
import { type FalcoAlert, Overloaded, type Sink, SpoolFull, encodeSpoolPayload } from '../sources/sink.ts';
import { type SyscallSensorConfig, sensorOptions } from '../sources/syscall/config.ts';
import { type SensorHealth, sensorHealth } from '../sources/syscall/health.ts';
import { canRunSensor, type Sensor, type SensorStats, startSensor } from '../sources/syscall/runtime.ts';
import { registerSensorMetrics } from '../sources/syscall/telemetry.ts';
import { storedSyscallEvent } from '../store/syscall.ts';
import type { Store, StoredSyscallEvent } from '../store/types.ts';

const FLUSH_MS = 20;
const BATCH_MAX = 1000;
const MAX_PENDING = 10_000;
const LOG_EVERY_MS = 10_000;
/** How often queued syscall events are written when fewer than a batch wait. */
const STORE_FLUSH_MS = 250;
/** Attempts at writing one batch of syscall events before it is dropped (counted). */
const STORE_ATTEMPTS = 3;
const RESTART_MIN_MS = 1000;
/** A sensor that ran this long resets the backoff. */
const RESTART_RESET_MS = 5 * 60_000;

export interface SyscallSourceDeps {
  name: string;
  cfg: SyscallSensorConfig;
  engine: Engine;
  pipeline: Sink;
  telemetry: Telemetry;
  log: Logger;
  /** Where `store_events: all` writes every event; without it, events are not stored on their own. */
  store?: Pick<Store, 'writeSyscallEvents'>;
}

export class SyscallSource {
  private state: SensorHealth['state'] = 'starting';
  private why?: string;
  private sensor?: Sensor;
  private recorder?: FieldRecorder;
  private pending: FalcoAlert[] = [];
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly labels?: Record<string, string>;
  private readonly hostname = os.hostname();
  private lastDropLog = 0;
  private unloggedDrops = 0;
  readonly counters = { events: 0, alerts: 0, dropped: 0, stored: 0, storeDropped: 0, restarts: 0 };
  /** Counters of the sensors that ran before the current one (restarts). */
  private before?: SensorStats;
  private restartTimer?: NodeJS.Timeout;
  private backoffMs = RESTART_MIN_MS;
  private startedAt = 0;
  /** `store_events: all`: events waiting to be written, and the write in flight. */
  private readonly storeAll: boolean;
  private storeQueue: StoredSyscallEvent[] = [];
  private storeTimer?: NodeJS.Timeout;
  private storeWriting?: Promise<void>;
  private lastStoreLog = 0;
  private unloggedStoreDrops = 0;
  private readonly metrics?: { restarts: Counter; stored: Counter; storeDropped: Counter };

  constructor(private readonly d: SyscallSourceDeps) {
    if (Object.keys(d.cfg.labels).length) this.labels = d.cfg.labels;
    this.storeAll = d.cfg.store_events === 'all' && d.store !== undefined;
    const registers = [d.telemetry.registry];
    const source = d.name;
    const self = this;
    this.metrics = {
      restarts: new Counter({ name: 'vigil_sensor_restarts_total', help: 'Times the syscall sensor was started again after bpftrace died.', labelNames: ['source'], registers }),
      stored: new Counter({ name: 'vigil_syscall_store_written_total', help: 'Syscall events written to storage (store_events: all).', labelNames: ['source'], registers }),
      storeDropped: new Counter({ name: 'vigil_syscall_store_dropped_total', help: 'Syscall events not stored (store_events: all): queue_full (storage behind), store_error (writes failed), stopping.', labelNames: ['source', 'reason'], registers }),
    };
    new Gauge({
      name: 'vigil_syscall_store_queue', help: 'Syscall events waiting to be written to storage (store_events: all).', labelNames: ['source'], registers,
      collect() { this.set({ source }, self.storeQueue.length); },
    });
    this.metrics.restarts.inc({ source }, 0);
  }

  /**
   * Start the sensor in the background (bpftrace takes seconds to attach its probes); the
   * service does not wait for it. Never throws: a sensor that cannot run is reported.
   */
  start(): void {
    const { name, cfg, log, engine } = this.d;
    const can = canRunSensor({ bpftracePath: cfg.bpftrace_path, mountTracefs: cfg.mount_tracefs });
    if (!can.ok) {
      this.unavailable(`cannot run here: ${can.why ?? 'unknown reason'}`);
      return;
    }
    const active = engine.allRules.filter((r) => r.source === 'syscall' && engine.isActive(r)).length;
    if (active === 0) log.warn({ source: name }, `syscall sensor '${name}': no active syscall rule is loaded (rules.files); it runs, but nothing can alert`);
    this.recorder = fieldRecorder(defaultTables().get('syscall')!, usedSyscallFields());
    // Metrics read the current sensor plus those before it (restarts).
    registerSensorMetrics(this.d.telemetry.registry, name, { stats: () => this.stats() });
    log.info({ source: name, bpftrace: can.bpftrace, tracefs: can.tracefs, rules: active, store_events: cfg.store_events },
      `syscall sensor '${name}': starting bpftrace (attaching probes takes several seconds)`);
    if (!this.launch()) return;
  }

  /** Start one sensor; false when it could not even start (reported). */
  private launch(): boolean {
    const { name, cfg, log } = this.d;
    let sensor: Sensor;
    try {
      sensor = startSensor({
        ...sensorOptions(cfg),
        onEvent: (ev) => this.onEvent(ev),
        log: (level, msg) => log[level]({ source: name }, msg),
      });
    } catch (e) {
      if (this.counters.restarts === 0) {
        this.unavailable(`failed to start: ${(e as Error).message}`);
        return false;
      }
      this.died(`failed to start again: ${(e as Error).message}`, undefined);
      return false;
    }
    this.sensor = sensor;
    this.startedAt = Date.now();
    let readyFailed = false;
    sensor.ready.then(
      () => {
        if (this.sensor !== sensor || this.stopping) return;
        this.state = 'running';
        this.why = undefined;
        log.info({ source: name, restarts: this.counters.restarts }, `syscall sensor '${name}': running`);
      },
      (e: unknown) => {
        if (this.stopping || this.sensor !== sensor) return;
        readyFailed = true;
        // The first start failing is a sensor that cannot run here; a restart failing is retried.
        if (this.counters.restarts === 0) this.unavailable(`failed to start: ${(e as Error).message}`);
        else this.died(`failed to start again: ${(e as Error).message}`, sensor);
      },
    );
    void sensor.done.then((r) => {
      if (this.stopping || this.sensor !== sensor || readyFailed || this.state === 'unavailable') return;
      // r.error carries bpftrace's own messages, which the sensor has logged already.
      this.died(`bpftrace exited (${r.signal ? `signal ${r.signal}` : `code ${String(r.code)}`})`, sensor);
    });
    return true;
  }

  /** The sensor died (or a restart failed): keep its counters, start again after the backoff. */
  private died(why: string, sensor: Sensor | undefined): void {
    const { name, log, cfg } = this.d;
    if (sensor) {
      this.before = addStats(this.before, sensor.stats());
      if (this.sensor === sensor) this.sensor = undefined;
    }
    if (Date.now() - this.startedAt >= RESTART_RESET_MS) this.backoffMs = RESTART_MIN_MS;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, cfg.restart_max_backoff_ms);
    this.state = 'restarting';
    this.why = `${why}; syscall events are not watched until it restarts (in ${wait} ms)`;
    log.error({ source: name, restarts: this.counters.restarts, backoff_ms: wait }, `syscall sensor '${name}': ${this.why}`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.counters.restarts++;
      this.metrics?.restarts.inc({ source: name });
      const can = canRunSensor({ bpftracePath: cfg.bpftrace_path, mountTracefs: cfg.mount_tracefs });
      if (!can.ok) {
        this.died(`cannot run: ${can.why ?? 'unknown reason'}`, undefined);
        return;
      }
      log.info({ source: name, restarts: this.counters.restarts }, `syscall sensor '${name}': starting bpftrace again (restart ${this.counters.restarts})`);
      this.state = 'starting';
      this.launch();
    }, wait);
  }

  /** Counters of every sensor this source ran. */
  private stats(): SensorStats {
    const cur = this.sensor?.stats();
    if (!cur) return this.before ?? addStats(undefined, undefined);
    return this.before ? addStats(this.before, cur, cur) : cur;
  }

  health(): SensorHealth {
    const h = sensorHealth(this.state, this.sensor || this.before ? this.stats() : undefined, this.why);
    h.restarts = this.counters.restarts;
    if (this.storeAll) h.stored = { events: this.counters.stored, dropped: this.counters.storeDropped, queued: this.storeQueue.length };
    return h;
  }

  /** Stop the sensor, hand over the alerts it raised and write the events still queued. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    if (this.sensor) {
      await this.sensor.stop().catch((e: unknown) => this.d.log.warn({ err: e, source: this.d.name }, 'syscall sensor: stop failed'));
      if (this.state !== 'unavailable') this.state = 'stopped';
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
    await this.chain;
    if (this.storeTimer) clearTimeout(this.storeTimer);
    this.storeTimer = undefined;
    while (this.storeQueue.length || this.storeWriting) {
      if (this.storeWriting) await this.storeWriting;
      else this.writeStored();
    }
  }

  // -------------------------------------------------------------------------------------------

  private unavailable(why: string): void {
    this.state = 'unavailable';
    this.why = why;
    this.d.log.warn({ source: this.d.name }, `syscall sensor '${this.d.name}' is not running: ${why}. Everything else runs.`);
  }

  private onEvent(ev: SyscallEvent): void {
    this.counters.events++;
    const found = this.d.engine.process(ev);
    let event: Record<string, unknown> | undefined;
    if (this.storeAll) {
      event = JSON.parse(encodeRecordedEvent(ev.timeNs, this.recorder!.record(ev))) as Record<string, unknown>;
      this.queueStored(storedSyscallEvent(this.hostname, ev.timeNs, event, this.labels));
    }
    if (found.length === 0) return;
    if (this.d.cfg.store_events !== 'none') event ??= JSON.parse(encodeRecordedEvent(ev.timeNs, this.recorder!.record(ev))) as Record<string, unknown>;
    for (const a of found) this.pending.push(this.falcoAlert(a, event));
    this.counters.alerts += found.length;
    this.trim();
    this.timer ??= setTimeout(() => { this.timer = undefined; this.flush(); }, FLUSH_MS);
  }

  private falcoAlert(a: Alert, event: Record<string, unknown> | undefined): FalcoAlert {
    return {
      output: a.output, priority: a.priority, rule: a.rule, time: formatIso8601(a.time), timeNs: a.time,
      output_fields: plainFields(a.output_fields), source: a.source, tags: a.tags, hostname: a.hostname || this.hostname, ...(event ? { event } : {}),
    };
  }

  // ---- store_events: all ---------------------------------------------------------------------

  /** Queue an event for storage; a full queue drops it (counted), it never waits. */
  private queueStored(e: StoredSyscallEvent): void {
    if (this.storeQueue.length >= this.d.cfg.store_queue_max_events) {
      this.storeDrop(1, 'queue_full', `storage is behind and ${this.d.cfg.store_queue_max_events} events already wait`);
      return;
    }
    this.storeQueue.push(e);
    if (this.storeWriting) return;
    if (this.storeQueue.length >= this.d.cfg.store_batch_max_events) this.writeStored();
    else this.storeTimer ??= setTimeout(() => { this.storeTimer = undefined; this.writeStored(); }, STORE_FLUSH_MS);
  }

  /** Write one batch (one write at a time); the next starts when it is done, if events wait. */
  private writeStored(): void {
    if (this.storeWriting || this.storeQueue.length === 0) return;
    if (this.storeTimer) clearTimeout(this.storeTimer);
    this.storeTimer = undefined;
    const batch = this.storeQueue.splice(0, this.d.cfg.store_batch_max_events);
    this.storeWriting = (async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          const n = await this.d.store!.writeSyscallEvents(batch);
          this.counters.stored += n;
          this.metrics?.stored.inc({ source: this.d.name }, n);
          return;
        } catch (e) {
          if (attempt >= STORE_ATTEMPTS || this.stopping) {
            this.storeDrop(batch.length, this.stopping ? 'stopping' : 'store_error', `writing them failed ${attempt} times: ${(e as Error).message}`);
            return;
          }
          await new Promise((r) => setTimeout(r, 500 * attempt));
        }
      }
    })().finally(() => {
      this.storeWriting = undefined;
      if (this.stopping) return;
      if (this.storeQueue.length >= this.d.cfg.store_batch_max_events) this.writeStored();
      else if (this.storeQueue.length) this.storeTimer ??= setTimeout(() => { this.storeTimer = undefined; this.writeStored(); }, STORE_FLUSH_MS);
    });
  }

  private storeDrop(n: number, reason: 'queue_full' | 'store_error' | 'stopping', why: string): void {
    this.counters.storeDropped += n;
    this.metrics?.storeDropped.inc({ source: this.d.name, reason }, n);
    this.d.telemetry.dropped.inc({ stage: 'syscall_store', reason }, n);
    const now = Date.now();
    if (now - this.lastStoreLog < LOG_EVERY_MS) {
      this.unloggedStoreDrops += n;
      return;
    }
    const more = this.unloggedStoreDrops ? ` (and ${this.unloggedStoreDrops} more since the last report)` : '';
    this.d.log.error({ source: this.d.name, events: n, reason }, `syscall sensor '${this.d.name}': ${n} syscall events not stored: ${why}${more}`);
    this.lastStoreLog = now;
    this.unloggedStoreDrops = 0;
  }

  /** Hand the pending alerts to the pipeline, one batch at a time, in order. */
  private flush(): void {
    if (this.pending.length === 0) return;
    this.chain = this.chain.then(async () => {
      while (this.pending.length) {
        const batch = this.pending.splice(0, BATCH_MAX);
        const body = stringifyBig(batch.map((a) => ({ ...a, timeNs: a.timeNs.toString() })));
        try {
          await this.d.pipeline.submitSpooled(
            { kind: 'falco', source: this.d.name, ...(this.labels ? { labels: this.labels } : {}), alerts: batch, receivedAt: performance.now() },
            encodeSpoolPayload('falco', this.d.name, this.labels, body),
            // Alerts are few and precious: not held back by the high-water mark (the size cap still applies).
            { admitted: true },
          );
        } catch (e) {
          const behind = e instanceof Overloaded || e instanceof SpoolFull;
          if (!behind || this.stopping) {
            this.drop(batch.length, behind ? 'the service is stopping' : `the pipeline refused them: ${(e as Error).message}`);
            continue;
          }
          // Behind: keep them (in order, bounded) and try again a little later.
          this.pending.unshift(...batch);
          this.trim();
          const waitMs = e instanceof Overloaded ? Math.min(5000, e.retryAfterS * 1000) : 1000;
          this.timer ??= setTimeout(() => { this.timer = undefined; this.flush(); }, waitMs);
          return;
        }
      }
    });
  }

  /** Keep at most MAX_PENDING alerts waiting: the oldest beyond it are dropped, counted. */
  private trim(): void {
    const over = this.pending.length - MAX_PENDING;
    if (over > 0) {
      this.pending.splice(0, over);
      this.drop(over, `the pipeline is behind and ${MAX_PENDING} alerts already wait`);
    }
  }

  private drop(n: number, why: string): void {
    this.counters.dropped += n;
    this.d.telemetry.dropped.inc({ stage: 'syscall', reason: 'pipeline_full' }, n);
    const now = Date.now();
    if (now - this.lastDropLog < LOG_EVERY_MS) {
      this.unloggedDrops += n;
      return;
    }
    const more = this.unloggedDrops ? ` (and ${this.unloggedDrops} more since the last report)` : '';
    this.d.log.error({ source: this.d.name, alerts: n }, `syscall sensor '${this.d.name}': ${n} alerts dropped: ${why}${more}`);
    this.lastDropLog = now;
    this.unloggedDrops = 0;
  }
}

/**
 * Counters of two sensors added (the gauges, uptime and lateness are `cur`'s); `undefined`
 * counts as zeros.
 */
function addStats(a: SensorStats | undefined, b: SensorStats | undefined, cur?: SensorStats): SensorStats {
  const z = (s: SensorStats | undefined, f: (s: SensorStats) => number) => (s ? f(s) : 0);
  const sum = (f: (s: SensorStats) => number) => z(a, f) + z(b, f);
  const last = cur ?? b ?? a;
  return {
    records: sum((s) => s.records), events: sum((s) => s.events), delivered: sum((s) => s.delivered),
    drops: { kernel: sum((s) => s.drops.kernel), queue: sum((s) => s.drops.queue), parse: sum((s) => s.drops.parse), total: sum((s) => s.drops.total) },
    processes: cur?.processes ?? 0, containers: cur?.containers ?? 0,
    procLookups: sum((s) => s.procLookups), partialProcs: sum((s) => s.partialProcs),
    bpftraceCpuSeconds: sum((s) => s.bpftraceCpuSeconds), processCpuSeconds: sum((s) => s.processCpuSeconds),
    uptimeSeconds: cur?.uptimeSeconds ?? 0, probes: cur?.probes ?? last?.probes ?? 0,
    lateMaxMs: Math.max(z(a, (s) => s.lateMaxMs), z(b, (s) => s.lateMaxMs)), lateBeyondWindow: sum((s) => s.lateBeyondWindow),
    reorder: {
      earlyChildren: sum((s) => s.reorder.earlyChildren), deferred: sum((s) => s.reorder.deferred), lostExecs: sum((s) => s.reorder.lostExecs),
      lateBeforeExec: sum((s) => s.reorder.lateBeforeExec), lateAfterExit: sum((s) => s.reorder.lateAfterExit),
    },
  };
}

/**
 * Output fields without bigints (the pipeline writes Falco's JSON with JSON.stringify): a
 * 64-bit integer that a double holds exactly becomes a number, a larger one (nanosecond
 * times) a string of its digits, which keeps it exact.
 */
function plainFields(f: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(f)) {
    const v = f[k];
    if (typeof v === 'bigint') {
      out ??= { ...f };
      out[k] = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    } else if (Array.isArray(v) && v.some((x) => typeof x === 'bigint')) {
      out ??= { ...f };
      out[k] = v.map((x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
    }
  }
  return out ?? f;
}
