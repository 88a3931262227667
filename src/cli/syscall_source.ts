/**
 * The syscall sensor inside `vigil run`: starts the sensor (src/sources/syscall) when the
 * configuration has a `type: syscall` source, judges its events with the service's engine as
 * they come (synchronously, in order, as `vigil sensor` does), and hands the alerts to the
 * pipeline as a pushed batch, so they take the path every alert takes: the disk spool, storage,
 * routes, outputs, the live feed.
 *
 * Syscall events are not stored on their own (there are far too many); an alert is stored with
 * its event (`StoredAlert.event`): the resolved value of every field the loaded rules and
 * outputs read, in the form `vigil sensor --record` writes (`{"time", "fields"}`), so a stored
 * alert's event can be replayed with `vigil replay --source syscall`.
 *
 * When the sensor cannot run here (not root, no bpftrace, no BTF, no tracefs) the service runs
 * without it and says why: one warning in the log and `state: unavailable` with `why` in
 * /readyz. If bpftrace dies later, the log says so and /readyz shows `state: stopped`.
 *
 * Alerts are handed over in small batches (every 20 ms at most); when the pipeline is behind
 * (spool above its high-water mark, or full) they wait here, up to MAX_PENDING, and are
 * handed over again; beyond that they are dropped and counted
 * (`vigil_dropped_total{stage="syscall",reason="pipeline_full"}`) with a log line.
 */
import os from 'node:os';
import type { Logger } from 'pino';
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
import { canRunSensor, type Sensor, startSensor } from '../sources/syscall/runtime.ts';
import { registerSensorMetrics } from '../sources/syscall/telemetry.ts';

const FLUSH_MS = 20;
const BATCH_MAX = 1000;
const MAX_PENDING = 10_000;
const LOG_EVERY_MS = 10_000;

export interface SyscallSourceDeps {
  name: string;
  cfg: SyscallSensorConfig;
  engine: Engine;
  pipeline: Sink;
  telemetry: Telemetry;
  log: Logger;
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
  readonly counters = { events: 0, alerts: 0, dropped: 0 };

  constructor(private readonly d: SyscallSourceDeps) {
    if (Object.keys(d.cfg.labels).length) this.labels = d.cfg.labels;
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
    try {
      this.sensor = startSensor({
        ...sensorOptions(cfg),
        onEvent: (ev) => this.onEvent(ev),
        log: (level, msg) => log[level]({ source: name }, msg),
      });
    } catch (e) {
      this.unavailable(`failed to start: ${(e as Error).message}`);
      return;
    }
    const sensor = this.sensor;
    registerSensorMetrics(this.d.telemetry.registry, name, sensor);
    log.info({ source: name, bpftrace: can.bpftrace, tracefs: can.tracefs, rules: active }, `syscall sensor '${name}': starting bpftrace (attaching probes takes several seconds)`);
    sensor.ready.then(
      () => {
        if (this.state === 'starting') this.state = 'running';
        log.info({ source: name }, `syscall sensor '${name}': running`);
      },
      (e: unknown) => {
        if (!this.stopping) this.unavailable(`failed to start: ${(e as Error).message}`);
      },
    );
    void sensor.done.then((r) => {
      if (this.stopping) return;
      this.state = 'stopped';
      this.why = `bpftrace exited (${r.error ?? (r.signal ? `signal ${r.signal}` : `code ${String(r.code)}`)}); syscall events are no longer watched (restart vigil run)`;
      log.error({ source: name, code: r.code, signal: r.signal }, `syscall sensor '${name}': ${this.why}`);
    });
  }

  health(): SensorHealth {
    return sensorHealth(this.state, this.sensor?.stats(), this.why);
  }

  /** Stop the sensor and hand over the alerts it raised. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.sensor) {
      await this.sensor.stop().catch((e: unknown) => this.d.log.warn({ err: e, source: this.d.name }, 'syscall sensor: stop failed'));
      if (this.state !== 'unavailable') this.state = 'stopped';
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
    await this.chain;
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
    if (found.length === 0) return;
    const event = JSON.parse(encodeRecordedEvent(ev.timeNs, this.recorder!.record(ev))) as Record<string, unknown>;
    for (const a of found) this.pending.push(this.falcoAlert(a, event));
    this.counters.alerts += found.length;
    this.trim();
    this.timer ??= setTimeout(() => { this.timer = undefined; this.flush(); }, FLUSH_MS);
  }

  private falcoAlert(a: Alert, event: Record<string, unknown>): FalcoAlert {
    return {
      output: a.output, priority: a.priority, rule: a.rule, time: formatIso8601(a.time), timeNs: a.time,
      output_fields: plainFields(a.output_fields), source: a.source, tags: a.tags, hostname: a.hostname || this.hostname, event,
    };
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
