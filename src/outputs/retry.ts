/**
 * Delivery for every output: a bounded queue in front of it and bounded retries with
 * exponential backoff behind it, so that a slow or dead output never blocks the pipeline
 * (detection, storage, the other outputs) and never crashes the process.
 *
 *   pipeline ─► send(): enqueue, return at once ─► queue (≤ queue_max_alerts) ─► worker ─► output.send()
 *                                                                                  └─ failed: retry after
 *                                                                                     backoff, ≤ max_retries
 *
 * The wrapper counts what happens to each alert (it is the one that knows): sent, failed (after
 * the last retry, refused as undeliverable, or dropped because the queue was full or the
 * service stopped), retried (alerts sent again, once per retry). The pipeline sees
 * `countsOwnTelemetry` and leaves those counters to it.
 *
 * An output says how a send failed by throwing an `OutputSendError`: not retryable (an answer
 * that will not change, e.g. HTTP 400), a `Retry-After`, or only some alerts failed (the rest
 * were delivered: only those are retried). Any other error is retried as a whole.
 *
 * Logs name the output: the first failure of a streak (warn), each give-up (error; at most one
 * line per 10 s, with the count of what was not logged), a full queue (warn, idem), and the
 * recovery (info).
 */
import type { Logger } from 'pino';
import type { AlertRecord, Output } from './types.ts';

export interface DeliveryOptions {
  maxRetries: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  queueMaxAlerts: number;
  batchMaxAlerts: number;
  drainTimeoutMs: number;
}

/** Counters of one output, bound once (see pipeline/telemetry.ts). */
export interface DeliveryCounters {
  sent(n: number): void;
  failed(n: number): void;
  retried(n: number): void;
}

/** How a send failed, for the retry wrapper. */
export class OutputSendError extends Error {
  /** false: retrying cannot help (e.g. HTTP 400); the alerts are counted failed at once. */
  readonly retryable: boolean;
  /** Wait at least this long before the next attempt (the receiver's Retry-After). */
  readonly retryAfterMs?: number;
  /** Only these alerts are to be sent again (the others were delivered or are undeliverable). */
  readonly remaining?: AlertRecord[];
  /** Alerts of the batch that can never be delivered (counted failed, not retried). */
  readonly undeliverable: number;

  constructor(message: string, o: { retryable?: boolean; retryAfterMs?: number; remaining?: AlertRecord[]; undeliverable?: number } = {}) {
    super(message);
    this.name = 'OutputSendError';
    this.retryable = o.retryable ?? true;
    if (o.retryAfterMs !== undefined) this.retryAfterMs = o.retryAfterMs;
    if (o.remaining !== undefined) this.remaining = o.remaining;
    this.undeliverable = o.undeliverable ?? 0;
  }
}

export interface DeliveryHealth {
  state: 'ok' | 'retrying' | 'failing' | 'stopped';
  queued: number;
  sent: number;
  failed: number;
  retried: number;
  last_error?: string;
  last_error_at?: string;
}

const LOG_EVERY_MS = 10_000;
const WATCHDOG_MS = 10_000;

export class RetryingOutput implements Output {
  readonly countsOwnTelemetry = true;
  private queue: AlertRecord[] = [];
  private wake?: () => void;
  private closing = false;
  private readonly giveUp = new AbortController();
  private readonly loop: Promise<void>;
  private readonly stats = { sent: 0, failed: 0, retried: 0 };
  private state: DeliveryHealth['state'] = 'ok';
  private lastError?: { message: string; at: number };
  private failedAttempts = 0;
  private lastFailLog = 0;
  private unloggedFailures = 0;
  private lastDropLog = 0;
  private unloggedDrops = 0;

  constructor(
    private readonly inner: Output,
    private readonly opts: DeliveryOptions,
    private readonly counters: DeliveryCounters,
    private readonly log: Logger,
  ) {
    this.loop = this.run().catch((e: unknown) => {
      // Nothing above should throw; if it does, say so and keep the process alive.
      this.log.error({ err: e, output: this.name }, `output '${this.name}': delivery stopped on an unexpected error`);
      this.state = 'stopped';
    });
  }

  get name(): string { return this.inner.name; }
  get minPriority(): number { return this.inner.minPriority; }

  /** Queue the alerts and return at once; past the queue's bound they are counted failed. */
  send(alerts: AlertRecord[]): Promise<void> {
    if (this.closing || this.state === 'stopped') {
      this.fail(alerts.length);
      this.logDrop(alerts.length, 'the output is stopping');
      return Promise.resolve();
    }
    const room = this.opts.queueMaxAlerts - this.queue.length;
    if (room >= alerts.length) {
      for (const a of alerts) this.queue.push(a);
    } else {
      for (let i = 0; i < room; i++) this.queue.push(alerts[i]!);
      const dropped = alerts.length - Math.max(0, room);
      this.fail(dropped);
      this.logDrop(dropped, `its queue is full (${this.opts.queueMaxAlerts} alerts waiting)`);
    }
    const w = this.wake;
    if (w) {
      this.wake = undefined;
      w();
    }
    return Promise.resolve();
  }

  health(): DeliveryHealth {
    const h: DeliveryHealth = { state: this.state, queued: this.queue.length, ...this.stats };
    if (this.lastError) {
      h.last_error = this.lastError.message;
      h.last_error_at = new Date(this.lastError.at).toISOString();
    }
    return h;
  }

  /** Deliver what is queued within drain_timeout_ms, count the rest failed, close the output. */
  async close(): Promise<void> {
    this.closing = true;
    this.wake?.();
    const t = setTimeout(() => this.giveUp.abort(), this.opts.drainTimeoutMs);
    await this.loop;
    clearTimeout(t);
    this.state = 'stopped';
    await this.inner.close();
  }

  // -------------------------------------------------------------------------------------------

  private async run(): Promise<void> {
    for (;;) {
      if (this.queue.length === 0) {
        if (this.closing) return;
        await new Promise<void>((r) => { this.wake = r; });
        continue;
      }
      if (this.giveUp.signal.aborted) {
        const n = this.queue.length;
        this.queue = [];
        this.fail(n);
        this.log.error({ output: this.name, alerts: n }, `output '${this.name}': ${n} queued alerts not delivered before the stop deadline (delivery.drain_timeout_ms)`);
        return;
      }
      const batch = this.queue.length <= this.opts.batchMaxAlerts ? this.queue.splice(0) : this.queue.splice(0, this.opts.batchMaxAlerts);
      await this.deliver(batch);
    }
  }

  private async deliver(first: AlertRecord[]): Promise<void> {
    let batch = first;
    for (let attempt = 0; ; attempt++) {
      const dog = setInterval(() => this.log.warn({ output: this.name, alerts: batch.length }, `watchdog: output '${this.name}' has been sending ${batch.length} alerts for ${WATCHDOG_MS / 1000} s (the pipeline does not wait for it; its queue holds ${this.queue.length})`), WATCHDOG_MS);
      dog.unref();
      try {
        await this.inner.send(batch, this.giveUp.signal);
        this.succeeded(batch.length);
        return;
      } catch (e) {
        const err = e instanceof OutputSendError ? e : undefined;
        const message = errorMessage(e);
        let retry = batch;
        let lost = 0;
        if (err?.remaining) {
          retry = err.remaining;
          lost = err.undeliverable;
          const delivered = batch.length - retry.length - lost;
          if (delivered > 0) this.succeeded(delivered, false);
        } else if (err && !err.retryable) {
          retry = [];
          lost = batch.length;
        }
        if (err && !err.retryable) {
          lost += retry.length;
          retry = [];
        }
        this.lastError = { message, at: Date.now() };
        this.failedAttempts++;
        if (lost > 0) this.gaveUp(lost, message, attempt, 'not retried: the answer will not change');
        if (retry.length === 0) return;
        if (attempt >= this.opts.maxRetries || this.giveUp.signal.aborted) {
          this.gaveUp(retry.length, message, attempt, this.giveUp.signal.aborted ? 'stopping' : `after ${attempt + 1} attempts`);
          return;
        }
        const wait = this.backoff(attempt, err?.retryAfterMs);
        if (this.state === 'ok') {
          this.log.warn({ output: this.name, alerts: retry.length, attempt: attempt + 1, retry_in_ms: wait }, `output '${this.name}': send failed: ${message}; retrying in ${wait} ms (at most ${this.opts.maxRetries} retries)`);
        } else {
          this.log.debug({ output: this.name, alerts: retry.length, attempt: attempt + 1, retry_in_ms: wait }, `output '${this.name}': send failed again: ${message}`);
        }
        if (this.state === 'ok') this.state = 'retrying';
        this.stats.retried += retry.length;
        this.counters.retried(retry.length);
        batch = retry;
        await this.sleep(wait);
      } finally {
        clearInterval(dog);
      }
    }
  }

  /** Exponential backoff with jitter (half fixed, half random), within max_backoff_ms. */
  private backoff(attempt: number, retryAfterMs?: number): number {
    const exp = Math.min(this.opts.maxBackoffMs, this.opts.initialBackoffMs * 2 ** Math.min(attempt, 30));
    const jittered = Math.round(exp / 2 + Math.random() * (exp / 2));
    return Math.min(this.opts.maxBackoffMs, Math.max(jittered, retryAfterMs ?? 0));
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.giveUp.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      signal.addEventListener('abort', done);
    });
  }

  private succeeded(n: number, streakEnds = true): void {
    this.stats.sent += n;
    this.counters.sent(n);
    if (!streakEnds) return;
    if (this.state !== 'ok' && this.state !== 'stopped') {
      this.log.info({ output: this.name, failed_attempts: this.failedAttempts }, `output '${this.name}': delivering again (after ${this.failedAttempts} failed attempts)`);
      this.state = 'ok';
    }
    this.failedAttempts = 0;
  }

  private fail(n: number): void {
    if (n <= 0) return;
    this.stats.failed += n;
    this.counters.failed(n);
  }

  private gaveUp(n: number, message: string, attempt: number, why: string): void {
    this.fail(n);
    if (this.state !== 'stopped') this.state = 'failing';
    const now = Date.now();
    if (now - this.lastFailLog < LOG_EVERY_MS) {
      this.unloggedFailures += n;
      return;
    }
    const more = this.unloggedFailures ? ` (and ${this.unloggedFailures} more alerts failed since the last report)` : '';
    this.log.error({ output: this.name, alerts: n, attempts: attempt + 1 }, `output '${this.name}': ${n} alerts not delivered (${why}): ${message}${more}`);
    this.lastFailLog = now;
    this.unloggedFailures = 0;
  }

  private logDrop(n: number, why: string): void {
    const now = Date.now();
    if (now - this.lastDropLog < LOG_EVERY_MS) {
      this.unloggedDrops += n;
      return;
    }
    const more = this.unloggedDrops ? ` (and ${this.unloggedDrops} more since the last report)` : '';
    this.log.warn({ output: this.name, alerts: n }, `output '${this.name}': ${n} alerts dropped (counted failed): ${why}${more}`);
    this.lastDropLog = now;
    this.unloggedDrops = 0;
  }
}

function errorMessage(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as Error & { cause?: unknown }).cause;
    return cause instanceof Error && !e.message.includes(cause.message) ? `${e.message}: ${cause.message}` : e.message;
  }
  return String(e);
}
