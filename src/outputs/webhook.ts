/**
 * `webhook` output: each alert is sent as Falco's JSON alert in its own request, as
 * Falcosidekick's webhook output does (`POST` or `PUT`, `Content-Type: application/json`,
 * custom headers for authentication), so a receiver written for Falcosidekick takes Vigil's
 * alerts unchanged.
 *
 * Protocol quirks:
 * - Any 2xx is delivered. 408, 425, 429 and 5xx are retried (with the receiver's
 *   `Retry-After`, seconds or an HTTP date, honoured by the retry wrapper); any other answer
 *   (400, 401, 403, 404, 413, ...) will not change on a retry, so those alerts are counted
 *   failed at once and the answer is logged.
 * - Connection errors and timeouts (`timeout_ms` per request) are retried.
 * - Up to `max_concurrent_requests` requests are in flight, so alerts of one batch may arrive
 *   out of order (as with Falcosidekick, which posts from goroutines); 1 keeps the order.
 * - The answer's body is not read beyond its first 1 KiB (quoted in the error when it fails).
 * - Credentials in the URL (`https://user:pass@host/`) are never logged.
 */
import { OutputSendError } from './retry.ts';
import type { AlertRecord, Output } from './types.ts';

export interface WebhookOptions {
  url: string;
  method: 'POST' | 'PUT';
  headers: Record<string, string>;
  timeoutMs: number;
  maxConcurrentRequests: number;
}

const RETRYABLE = new Set([408, 425, 429]);

/** The URL for messages: without user name and password. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '';
      u.password = '';
    }
    return u.toString();
  } catch {
    return '<invalid URL>';
  }
}

/** `Retry-After` in ms: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(h: string | null, now = Date.now()): number | undefined {
  if (h === null) return undefined;
  const s = h.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

class RequestFailed extends Error {
  constructor(message: string, readonly retryable: boolean, readonly retryAfterMs?: number) {
    super(message);
  }
}

export class WebhookOutput implements Output {
  private readonly shown: string;
  private readonly headers: Record<string, string>;

  constructor(readonly name: string, readonly minPriority: number, private readonly o: WebhookOptions) {
    this.shown = displayUrl(o.url);
    this.headers = { 'Content-Type': 'application/json; charset=utf-8', 'User-Agent': 'Vigil', ...o.headers };
  }

  async send(alerts: AlertRecord[], signal?: AbortSignal): Promise<void> {
    const failed: Array<{ a: AlertRecord; e: RequestFailed; i: number }> = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < alerts.length) {
        const i = next++;
        const a = alerts[i]!;
        try {
          await this.post(a.json, signal);
        } catch (e) {
          failed.push({ a, e: e instanceof RequestFailed ? e : new RequestFailed((e as Error).message, true), i });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.maxConcurrentRequests, alerts.length) }, worker));
    if (failed.length === 0) return;
    failed.sort((x, y) => x.i - y.i);
    const retry = failed.filter((f) => f.e.retryable);
    const first = (retry[0] ?? failed[0]!).e;
    const more = failed.length > 1 ? ` (${failed.length} of ${alerts.length} alerts failed)` : '';
    const after = retry.reduce<number | undefined>((m, f) => (f.e.retryAfterMs === undefined ? m : Math.max(m ?? 0, f.e.retryAfterMs)), undefined);
    throw new OutputSendError(first.message + more, {
      retryable: retry.length > 0,
      remaining: retry.map((f) => f.a),
      undeliverable: failed.length - retry.length,
      ...(after !== undefined ? { retryAfterMs: after } : {}),
    });
  }

  private async post(body: string, signal?: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(this.o.timeoutMs);
    let res: Response;
    try {
      res = await fetch(this.o.url, { method: this.o.method, headers: this.headers, body, signal: signal ? AbortSignal.any([timeout, signal]) : timeout });
    } catch (e) {
      if (timeout.aborted) throw new RequestFailed(`${this.o.method} ${this.shown}: no answer within ${this.o.timeoutMs} ms (timeout_ms)`, true);
      if (signal?.aborted) throw new RequestFailed(`${this.o.method} ${this.shown}: aborted (stopping)`, true);
      const cause = (e as Error & { cause?: Error & { code?: string } }).cause;
      throw new RequestFailed(`${this.o.method} ${this.shown}: cannot connect: ${cause?.code ?? cause?.message ?? (e as Error).message}`, true);
    }
    if (res.ok) {
      // Release the connection for keep-alive without reading what we do not need.
      await res.body?.cancel().catch(() => undefined);
      return;
    }
    const text = await readSome(res, 1024);
    const retryable = res.status >= 500 || RETRYABLE.has(res.status);
    throw new RequestFailed(
      `${this.o.method} ${this.shown} answered ${res.status}${res.statusText ? ' ' + res.statusText : ''}${text ? `: ${text}` : ''}`,
      retryable, retryable ? retryAfterMs(res.headers.get('retry-after')) : undefined,
    );
  }

  async close(): Promise<void> {}
}

/** The first `max` bytes of the answer, on one line. */
async function readSome(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    /* what we have */
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8').replace(/\s+/g, ' ').trim();
}
