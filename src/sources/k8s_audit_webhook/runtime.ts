/**
 * `k8s_audit_webhook`: `POST <path>` and `POST <path>/<cluster>` take Kubernetes audit events
 * from the API server's webhook backend, Fluent Bit's `http` output, or anything that posts
 * JSON.
 *
 * Protocol quirks:
 * - The API server's webhook backend posts an `EventList` (`audit.k8s.io/v1`) with
 *   `Content-Type: application/json` and retries on any non-2xx with back-off; it does not
 *   read Retry-After, so 429/503 only slow it through its own back-off.
 * - Fluent Bit's `http` output posts a JSON array (`format json`, `application/json`) or JSON
 *   lines (`format json_lines`, `application/x-ndjson`), `User-Agent: Fluent-Bit`, gzip with
 *   `compress gzip` (`Content-Encoding: gzip`). Each record carries Fluent Bit's `date` key; a
 *   `tail` input without a parser sends the audit line as a string in `log`. Fluent Bit retries
 *   any status other than 200-205, so a partial 400 makes it resend the whole batch: duplicates
 *   are then dropped by identity (auditID + stage).
 * - The status means: 200 every record is durably spooled; 400 some or all records were bad
 *   (the good ones are spooled; the body lists the reasons); 401 bad token; 413 body too large;
 *   415 a content type or encoding we cannot read; 429 the detector or storage is behind
 *   (Retry-After); 503 the spool is full, Vigil is stopping, or the bodies of the requests in
 *   progress already take `pipeline.max_inflight_body_bytes` (Retry-After).
 * - Memory: a body is held whole while it is decoded and spooled. Bodies in flight, all webhook
 *   sources together, are bounded by one BodyBudget: a request whose declared length does not
 *   fit is refused before its body is read, and one that outgrows it while being read
 *   (chunked, gzip) is cut off with the same 503.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Overloaded, type Sink as Pipeline, SpoolFull as SpoolFullError, encodeSpoolPayload } from '../sink.ts';
import type { TelemetryHub as Telemetry } from '../sink.ts';
import { HttpError, type Routes as HttpServer, checkBearer, mediaType, readBody, remote, sendJson } from '../http.ts';
import type { K8sAuditWebhookConfig } from './config.ts';
import { decodeWebhookBody } from './decode.ts';
import { PushHealth } from './health.ts';
import { webhookTelemetry } from './telemetry.ts';

const MEDIA_TYPES = new Set(['', 'application/json', 'application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/json-lines', 'application/jsonlines', 'application/x-json-stream', 'text/plain']);
const CLUSTER = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,252}$/;

/**
 * Bytes of request bodies held at once by the webhook sources that share it (decompressed, as
 * read). One request may always proceed alone, so a body up to `max_body_bytes` is never
 * refused for the budget's sake.
 */
export class BodyBudget {
  used = 0;
  constructor(readonly maxBytes: number) {}
}

export interface WebhookDeps {
  name: string;
  cfg: K8sAuditWebhookConfig;
  authToken?: string;
  /** Shared by every webhook source; none: only `max_inflight_requests` × `max_body_bytes` bound them. */
  bodyBudget?: BodyBudget;
  pipeline: Pipeline;
  telemetry: Telemetry;
  log: Logger;
}

export class K8sAuditWebhook {
  readonly health = new PushHealth();
  private readonly tel;
  private readonly labels: Record<string, string>;
  private inflight = 0;

  constructor(private readonly d: WebhookDeps) {
    this.tel = webhookTelemetry(d.telemetry, d.name);
    this.labels = Object.freeze({ ...d.cfg.labels }) as Record<string, string>;
  }

  register(server: HttpServer): void {
    server.route(this.d.cfg.path, (req, res, rest) => this.handle(req, res, rest), true);
  }

  private refuse(status: number, reason: Parameters<typeof this.tel.rejected>[0], message: string, headers?: Record<string, string>): never {
    this.tel.rejected(reason);
    this.tel.request(status);
    this.health.refused(status, message);
    throw new HttpError(status, message, headers);
  }

  private async handle(req: IncomingMessage, res: ServerResponse, rest: string): Promise<void> {
    const cfg = this.d.cfg;
    if (req.method !== 'POST') this.refuse(405, 'method', `use POST on ${cfg.path}`, { Allow: 'POST' });
    try {
      checkBearer(req, cfg.auth_token ?? this.d.authToken);
    } catch (e) {
      this.refuse(401, 'unauthorized', (e as Error).message, (e as HttpError).headers);
    }
    const mt = mediaType(req);
    if (!MEDIA_TYPES.has(mt)) this.refuse(415, 'unsupported_media_type', `unsupported Content-Type '${mt}': send application/json (an Event, an EventList or a JSON array) or application/x-ndjson (JSON lines)`);
    if (!this.d.pipeline.ready) {
      // Refuse before reading the body: a flood costs us headers only.
      this.refuse(429, 'overloaded', 'Vigil is behind: retry later', { 'Retry-After': '1' });
    }
    if (this.inflight >= cfg.max_inflight_requests) {
      this.refuse(429, 'overloaded', `too many requests in progress (${this.inflight}): retry later`, { 'Retry-After': '1' });
    }
    // Reserve the declared length now (compressed bodies grow as they are read, below).
    const budget = this.d.bodyBudget;
    const declared = Number(req.headers['content-length']);
    const held = { bytes: Number.isFinite(declared) && declared > 0 ? Math.min(declared, cfg.max_body_bytes) : 0 };
    if (budget && budget.used > 0 && budget.used + held.bytes > budget.maxBytes) {
      this.refuse(503, 'overloaded', `request bodies in progress already take ${budget.used} bytes (max_inflight_body_bytes ${budget.maxBytes}): retry later`, { 'Retry-After': '1' });
    }
    if (budget) budget.used += held.bytes;
    this.inflight++;
    try {
      await this.take(req, res, rest, held);
    } finally {
      this.inflight--;
      if (budget) budget.used -= held.bytes;
    }
  }

  /** Counts a body's bytes as they are read against the shared budget; throws 503 past it. */
  private budgetChunks(held: { bytes: number }): ((n: number) => void) | undefined {
    const budget = this.d.bodyBudget;
    if (!budget) return undefined;
    let read = 0;
    return (n) => {
      read += n;
      if (read <= held.bytes) return;
      budget.used += read - held.bytes;
      held.bytes = read;
      if (budget.used > budget.maxBytes && budget.used > held.bytes) {
        throw new HttpError(503, `request bodies in progress take over max_inflight_body_bytes (${budget.maxBytes}): retry later`, { 'Retry-After': '1' });
      }
    };
  }

  private async take(req: IncomingMessage, res: ServerResponse, rest: string, held: { bytes: number }): Promise<void> {
    const cfg = this.d.cfg;
    let cluster: string | undefined;
    if (rest !== '') {
      if (!CLUSTER.test(rest)) this.refuse(400, 'bad_body', `invalid cluster name in the path: '${rest}'`);
      cluster = rest;
    } else {
      const h = req.headers[cfg.cluster_header.toLowerCase()];
      if (typeof h === 'string' && h !== '') {
        if (!CLUSTER.test(h)) this.refuse(400, 'bad_body', `invalid cluster name in ${cfg.cluster_header}: '${h}'`);
        cluster = h;
      }
    }
    let body: Buffer;
    try {
      body = await readBody(req, cfg.max_body_bytes, this.budgetChunks(held));
    } catch (e) {
      const he = e as HttpError;
      const reason = he.status === 413 ? 'too_large' : he.status === 415 ? 'unsupported_media_type' : he.status === 503 ? 'overloaded' : 'bad_body';
      this.refuse(he.status ?? 400, reason, he.message, he.headers);
    }
    const origin = `POST ${req.url ?? cfg.path} from ${remote(req)}`;
    const dec = decodeWebhookBody(body.toString('utf8'), origin);
    const records = dec.events.length + dec.errors.length;
    this.tel.received(records, body.length);
    this.tel.parsed(dec.events.length);
    if (dec.errors.length) {
      this.tel.rejected('invalid_record', dec.errors.length);
      this.d.log.warn({ source: this.d.name, origin, rejected: dec.errors.length, accepted: dec.events.length, first: dec.errors[0] }, 'webhook: records refused');
    }
    if (dec.events.length > 0) {
      const labels = cluster !== undefined ? { ...this.labels, cluster } : undefined;
      const text = dec.clean ? body : dec.events.map((e) => JSON.stringify(e.raw)).join('\n');
      try {
        await this.d.pipeline.submitSpooled(
          { kind: 'audit', source: this.d.name, labels, events: dec.events, receivedAt: performance.now() },
          encodeSpoolPayload('audit', this.d.name, labels, text),
          // Admitted when the request began (`ready`): refusing it now would throw away a body
          // read and decoded, and under load that was most of the work spent on refused POSTs.
          { admitted: true },
        );
      } catch (e) {
        if (e instanceof Overloaded) this.refuse(429, 'overloaded', e.message, { 'Retry-After': String(e.retryAfterS) });
        if (e instanceof SpoolFullError) this.refuse(503, 'spool_full', e.message, { 'Retry-After': '5' });
        throw e;
      }
      this.health.accepted();
    }
    if (dec.errors.length) {
      this.tel.request(400);
      this.health.refused(400, dec.errors[0]!);
      sendJson(res, 400, {
        error: `${dec.errors.length} of ${records} record(s) refused: ${dec.errors[0]}`,
        accepted: dec.events.length,
        rejected: dec.errors.length,
        errors: dec.errors.slice(0, 20),
      });
      return;
    }
    this.tel.request(200);
    sendJson(res, 200, { accepted: dec.events.length });
  }
}
