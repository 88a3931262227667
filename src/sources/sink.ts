/**
 * The hand-off contract between sources and the pipeline, kept on the sources' side so that
 * sources depend on nothing to their right (DESIGN.md): the pipeline implements `Sink` and
 * `TelemetryHub`, and reads the spool payloads written here.
 *
 * Two kinds of hand-off:
 * - push sources (webhook, Falco) `submitSpooled` a batch with its serialised form; it resolves
 *   once the batch is durable (spooled and fsynced), or throws `Overloaded` (answer 429) or
 *   `SpoolFull` (answer 503). A source that decides admission before reading a body (the
 *   webhook checks `ready` first) or must not be refused for being behind (alerts: Falco's
 *   `http_output` does not retry) passes `admitted`, so a body already read and decoded is
 *   not thrown away over the high-water mark; the spool's size cap still applies;
 * - pull sources (file tail, demo) `submitDirect` a batch with an `ack` called once its events
 *   are stored, and wait on `capacity()` before reading more.
 */
import type { AuditEvent } from '../events/k8saudit.ts';
import { decodeWebhookBody } from './k8s_audit_webhook/decode.ts';

/** A Falco alert as received (validated by the falco_alerts source). */
export interface FalcoAlert {
  output: string;
  priority: string;
  rule: string;
  /** RFC 3339 as sent. */
  time: string;
  timeNs: bigint;
  output_fields: Record<string, unknown>;
  source: string;
  tags: string[];
  hostname?: string;
  uuid?: string;
  /**
   * The event that raised the alert, for alerts raised in this process on events that are not
   * stored on their own (the syscall sensor's): stored with the alert. Never taken from a
   * request.
   */
  event?: Record<string, unknown>;
}

/** A pushed batch, decoded; `receivedAt` (performance.now()) measures arrival → stored. */
export type SpoolItem =
  | { kind: 'audit'; source: string; labels?: Record<string, string>; events: AuditEvent[]; receivedAt?: number }
  | { kind: 'falco'; source: string; labels?: Record<string, string>; alerts: FalcoAlert[]; receivedAt?: number };

export interface SubmitOptions {
  /** Do not refuse for the high-water mark (admission was decided before; see above). */
  admitted?: boolean;
}

export interface Sink {
  /** Storage answers and the spool is below its high-water mark. */
  readonly ready: boolean;
  submitSpooled(item: SpoolItem, payload: Buffer, opts?: SubmitOptions): Promise<void>;
  hasCapacity(): boolean;
  capacity(): Promise<void>;
  submitDirect(source: string, events: AuditEvent[], ack: () => void, labels?: Record<string, string>): void;
}

/**
 * The JSON text an event was parsed from, when a source has exactly that text (a tail line, a
 * JSON-lines record, an item of a JSON array): storage keeps it instead of serialising the
 * event again. Kept on the event (`AuditEvent.rawText`), so it lives exactly as long as it.
 */
export function setRawText(ev: AuditEvent, text: string): void {
  ev.rawText = text;
}

export function rawTextOf(ev: AuditEvent): string | undefined {
  return ev.rawText;
}

/** Detection or storage is behind: retry after `retryAfterS`. */
export class Overloaded extends Error {
  constructor(readonly retryAfterS: number, why: string) {
    super(why);
  }
}

/** The disk spool is at its size cap. */
export class SpoolFull extends Error {}

/** Counters of one source, bound once (see pipeline/telemetry.ts). */
export interface SourceTelemetry {
  received(events: number, bytes: number): void;
  parsed(events: number): void;
  rejected(reason: string, n?: number): void;
  request(code: number): void;
}

export interface TelemetryHub {
  source(name: string): SourceTelemetry;
  /** A gauge read at scrape time. */
  gauge(name: string, help: string, labelNames: string[], read: () => Array<[Record<string, string>, number]>): void;
}

// ---------------------------------------------------------------------------------------------
// Spool payloads: one header line (JSON), then the body as received (or re-serialised when
// some records of it were refused).

interface PayloadHeader {
  v: 1;
  k: 'audit' | 'falco';
  s: string;
  l?: Record<string, string>;
}

export function encodeSpoolPayload(kind: 'audit' | 'falco', source: string, labels: Record<string, string> | undefined, body: string | Buffer): Buffer {
  const h: PayloadHeader = { v: 1, k: kind, s: source };
  if (labels) h.l = labels;
  const head = Buffer.from(JSON.stringify(h) + '\n');
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([head, b], head.length + b.length);
}

export function decodeSpoolPayload(buf: Buffer): SpoolItem {
  const text = buf.toString('utf8');
  const nl = text.indexOf('\n');
  const h = JSON.parse(nl < 0 ? text : text.slice(0, nl)) as PayloadHeader;
  const body = nl < 0 ? '' : text.slice(nl + 1);
  if (h.v !== 1) throw new Error(`unknown spool record version ${String(h.v)}`);
  if (h.k === 'audit') {
    // The body as the webhook took it (or its accepted events as JSON lines): decoded as it
    // was then, texts included.
    return { kind: 'audit', source: h.s, labels: h.l, events: decodeWebhookBody(body, `spool:${h.s}`).events };
  }
  const arr = JSON.parse(body) as Array<Omit<FalcoAlert, 'timeNs'> & { timeNs: string }>;
  return { kind: 'falco', source: h.s, labels: h.l, alerts: arr.map((a) => ({ ...a, timeNs: BigInt(a.timeNs) })) };
}

/** Falco alerts as a spool body (timeNs as a string: JSON has no bigint). */
export function falcoSpoolBody(alerts: FalcoAlert[]): string {
  return JSON.stringify(alerts.map((a) => ({ ...a, timeNs: a.timeNs.toString() })));
}
