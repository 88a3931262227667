/**
 * `falco_alerts`: `POST /` and `POST /falco` take Falco's JSON alerts exactly as Falcosidekick
 * does, so Falco's `http_output` (with `json_output: true`) can point at Vigil unchanged.
 *
 * Protocol quirks:
 * - Falco posts one alert per request, `Content-Type: application/json`; the body is the same
 *   JSON as Falco's `json_output` line (`hostname`, `output`, `output_fields`, `priority`,
 *   `rule`, `source`, `tags`, `time`; `uuid` when sent through Falcosidekick).
 * - Falcosidekick answers 400 `Please send a valid request body` to anything it cannot decode
 *   or that fails its checks (see decode.ts), 400 `Please send with post http method` to other
 *   methods, and 200 with an empty body otherwise; Vigil answers the same, and adds the reason
 *   in the JSON error body. Content-Type is not checked (Falcosidekick does not either).
 * - Vigil also takes a JSON array of alerts (each checked; the good ones are kept, 400 names the
 *   bad ones) and gzip bodies.
 * - Falco does not retry a failed post; the alert is then lost on Falco's side, so this
 *   endpoint refuses only what it must (auth, size, a full spool).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { type FalcoAlert, Overloaded, type Sink as Pipeline, SpoolFull as SpoolFullError, encodeSpoolPayload, falcoSpoolBody } from '../sink.ts';
import type { TelemetryHub as Telemetry } from '../sink.ts';
import { HttpError, type Routes as HttpServer, checkBearer, readBody, remote, sendJson } from '../http.ts';
import type { FalcoAlertsConfig } from './config.ts';
import { checkFalcoAlert } from './decode.ts';
import { PushHealth } from './health.ts';
import { falcoTelemetry } from './telemetry.ts';

export interface FalcoDeps {
  name: string;
  cfg: FalcoAlertsConfig;
  authToken?: string;
  pipeline: Pipeline;
  telemetry: Telemetry;
  log: Logger;
}

const INVALID = 'Please send a valid request body';

export class FalcoAlertsSource {
  readonly health = new PushHealth();
  private readonly tel;

  constructor(private readonly d: FalcoDeps) {
    this.tel = falcoTelemetry(d.telemetry, d.name);
  }

  register(server: HttpServer): void {
    for (const p of this.d.cfg.paths) server.route(p, (req, res) => this.handle(req, res));
  }

  private refuse(status: number, reason: string, message: string, headers?: Record<string, string>): never {
    this.tel.rejected(reason);
    this.tel.request(status);
    this.health.refused(status, message);
    throw new HttpError(status, message, headers);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') this.refuse(400, 'method', 'Please send with post http method');
    try {
      checkBearer(req, this.d.cfg.auth_token ?? this.d.authToken);
    } catch (e) {
      this.refuse(401, 'unauthorized', (e as Error).message, (e as HttpError).headers);
    }
    let body: Buffer;
    try {
      body = await readBody(req, this.d.cfg.max_body_bytes);
    } catch (e) {
      const he = e as HttpError;
      this.refuse(he.status ?? 400, he.status === 413 ? 'too_large' : 'invalid_alert', he.status === 413 ? he.message : `${INVALID}: ${he.message}`);
    }
    let v: unknown;
    try {
      v = JSON.parse(body.toString('utf8'));
    } catch (e) {
      this.tel.received(1, body.length);
      this.refuse(400, 'invalid_alert', `${INVALID}: invalid JSON: ${(e as Error).message}`);
    }
    const items = Array.isArray(v) ? v : [v];
    this.tel.received(items.length, body.length);
    const alerts: FalcoAlert[] = [];
    const errors: string[] = [];
    items.forEach((x, i) => {
      const c = checkFalcoAlert(x);
      if (c.ok) alerts.push(c.alert);
      else errors.push(Array.isArray(v) ? `item ${i}: ${c.reason}` : c.reason);
    });
    this.tel.parsed(alerts.length);
    if (alerts.length) {
      const labels = Object.keys(this.d.cfg.labels).length ? this.d.cfg.labels : undefined;
      try {
        await this.d.pipeline.submitSpooled(
          { kind: 'falco', source: this.d.name, labels, alerts, receivedAt: performance.now() },
          encodeSpoolPayload('falco', this.d.name, labels, falcoSpoolBody(alerts)),
          // Never refused for being behind: Falco's http_output does not retry, so a 429 would
          // lose the alert. Alerts are few; the spool's size cap (503) still bounds them.
          { admitted: true },
        );
      } catch (e) {
        if (e instanceof Overloaded) this.refuse(429, 'overloaded', e.message, { 'Retry-After': String(e.retryAfterS) });
        if (e instanceof SpoolFullError) this.refuse(503, 'spool_full', e.message, { 'Retry-After': '5' });
        throw e;
      }
      this.health.accepted();
    }
    if (errors.length) {
      this.tel.rejected('invalid_alert', errors.length);
      this.d.log.warn({ source: this.d.name, origin: `POST ${req.url} from ${remote(req)}`, reason: errors[0] }, 'falco: alert refused');
      this.tel.request(400);
      sendJson(res, 400, { error: `${INVALID}: ${errors[0]}`, accepted: alerts.length, rejected: errors.length, errors: errors.slice(0, 20) });
      return;
    }
    this.tel.request(200);
    res.writeHead(200, { 'Content-Length': 0 });
    res.end();
  }
}
