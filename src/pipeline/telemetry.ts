/**
 * Telemetry: named events (received, parsed, rejected with reason, dropped with reason, sent,
 * failed, retried) exposed as Prometheus metrics through prom-client. Each Vigil instance has
 * its own registry (tests run several in one process).
 *
 * Per-event cost is one `inc()` on a child bound at configure time (`bind*` below), never a
 * label lookup per event. Values the pipeline already keeps (queue depths, spool size, rule
 * matches) are read only when /metrics is scraped, so they cost nothing when nobody listens.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

import type { SourceTelemetry, TelemetryHub } from '../sources/sink.ts';

export type { SourceTelemetry };

export class Telemetry implements TelemetryHub {
  readonly registry = new Registry();
  private readonly receivedEvents: Counter;
  private readonly receivedBytes: Counter;
  private readonly parsedEvents: Counter;
  private readonly rejected: Counter;
  private readonly requests: Counter;
  readonly dropped: Counter;
  readonly queueSpilled: Counter;
  readonly outputSent: Counter;
  readonly outputFailed: Counter;
  readonly outputRetried: Counter;
  readonly storeWritten: Counter;
  readonly storeErrors: Counter;
  readonly storeWriteSeconds: Histogram;
  readonly alerts: Counter;
  private gauges: Array<() => void> = [];

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'vigil_process_' });
    this.receivedEvents = new Counter({ name: 'vigil_source_received_events_total', help: 'Records received per source (before decoding).', labelNames: ['source'], registers });
    this.receivedBytes = new Counter({ name: 'vigil_source_received_bytes_total', help: 'Bytes received per source (decompressed).', labelNames: ['source'], registers });
    this.parsedEvents = new Counter({ name: 'vigil_source_parsed_events_total', help: 'Events decoded per source.', labelNames: ['source'], registers });
    this.rejected = new Counter({ name: 'vigil_source_rejected_total', help: 'Records or requests refused per source, with the reason.', labelNames: ['source', 'reason'], registers });
    this.requests = new Counter({ name: 'vigil_source_requests_total', help: 'HTTP requests per source and status code.', labelNames: ['source', 'code'], registers });
    this.dropped = new Counter({ name: 'vigil_dropped_total', help: 'Events dropped, per stage and reason (duplicates included).', labelNames: ['stage', 'reason'], registers });
    this.queueSpilled = new Counter({ name: 'vigil_queue_spilled_total', help: 'Batches kept on disk only because the memory queue was full.', labelNames: ['queue'], registers });
    this.outputSent = new Counter({ name: 'vigil_output_sent_total', help: 'Alerts delivered per output.', labelNames: ['output'], registers });
    this.outputFailed = new Counter({ name: 'vigil_output_failed_total', help: 'Alerts an output did not deliver: after its last retry, refused by the receiver, or dropped (queue full, stopping).', labelNames: ['output'], registers });
    this.outputRetried = new Counter({ name: 'vigil_output_retried_total', help: 'Alerts sent again after a failed send, per output (counted once per retry).', labelNames: ['output'], registers });
    this.storeWritten = new Counter({ name: 'vigil_store_written_total', help: 'Rows written to storage per table (new rows only).', labelNames: ['table'], registers });
    this.storeErrors = new Counter({ name: 'vigil_store_write_errors_total', help: 'Failed storage writes (retried).', registers });
    this.storeWriteSeconds = new Histogram({ name: 'vigil_store_write_seconds', help: 'Time to write one batch to storage.', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers });
    this.alerts = new Counter({ name: 'vigil_alerts_total', help: 'Alerts per priority and origin: `engine` raised by Vigil\'s rules (audit events and the syscall sensor), `falco` received from Falco.', labelNames: ['priority', 'origin'], registers });
  }

  /** Counters of one source, bound once. */
  source(name: string): SourceTelemetry {
    const rec = this.receivedEvents.labels(name);
    const bytes = this.receivedBytes.labels(name);
    const parsed = this.parsedEvents.labels(name);
    const rejected = new Map<string, ReturnType<Counter['labels']>>();
    const requests = new Map<number, ReturnType<Counter['labels']>>();
    return {
      received: (n, b) => { rec.inc(n); bytes.inc(b); },
      parsed: (n) => parsed.inc(n),
      rejected: (reason, n = 1) => {
        let c = rejected.get(reason);
        if (!c) rejected.set(reason, (c = this.rejected.labels(name, reason)));
        c.inc(n);
      },
      request: (code) => {
        let c = requests.get(code);
        if (!c) requests.set(code, (c = this.requests.labels(name, String(code))));
        c.inc();
      },
    };
  }

  /** A gauge whose value is read at scrape time. */
  gauge(name: string, help: string, labelNames: string[], read: () => Array<[Record<string, string>, number]>): void {
    new Gauge({
      name, help, labelNames, registers: [this.registry],
      collect() {
        this.reset();
        for (const [labels, v] of read()) this.set(labels, v);
      },
    });
  }

  /** A counter mirrored from a monotonically growing map (e.g. the engine's per-rule matches). */
  mirroredCounter(name: string, help: string, label: string, read: () => Map<string, number>): void {
    const last = new Map<string, number>();
    new Counter({
      name, help, labelNames: [label], registers: [this.registry],
      collect() {
        for (const [k, v] of read()) {
          const d = v - (last.get(k) ?? 0);
          if (d > 0) this.inc({ [label]: k }, d);
          last.set(k, v);
        }
      },
    });
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
