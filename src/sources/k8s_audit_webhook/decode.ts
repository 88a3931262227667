/**
 * Decoding a webhook body into audit events. Accepted shapes (Content-Type is a hint only,
 * the body decides):
 * - one `Event`, an `EventList`, or a JSON array of them (Fluent Bit `format json`, the API
 *   server's webhook backend sends an `EventList`);
 * - JSON lines, one of the above per line (Fluent Bit `format json_lines`);
 * - Fluent Bit records that carry the audit line unparsed in `log` (a `tail` input without a
 *   JSON parser): `{"date": 1700000000.1, "log": "{\"kind\":\"Event\",...}"}`.
 * Fluent Bit also adds its own `date` key to every record; it is left in `raw` untouched.
 * Each bad record becomes an error naming the request and the item (array index or line);
 * the other records are still taken.
 */
import { type AuditEvent, type DecodeError, collectAuditValue, isDecodeError } from '../../events/k8saudit.ts';
import { setRawText } from '../sink.ts';

export interface WebhookDecoded {
  events: AuditEvent[];
  errors: string[];
  /** True when every record was taken as is (the body can be spooled unchanged). */
  clean: boolean;
}

/** Unwrap `{"log": "<json>"}` records (Fluent Bit tail without a parser). */
function unwrap(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (o.auditID === undefined && o.kind === undefined) {
      const inner = typeof o.log === 'string' ? o.log : typeof o.message === 'string' ? o.message : undefined;
      if (inner !== undefined && inner.trimStart().startsWith('{')) {
        try {
          return { value: JSON.parse(inner) as unknown, unwrapped: true };
        } catch {
          return v;
        }
      }
    }
  }
  return v;
}

function take(v: unknown, origin: string, where: string, out: WebhookDecoded): void {
  const u = unwrap(v);
  let value = v;
  if (u !== v && typeof u === 'object' && u !== null && (u as { unwrapped?: boolean }).unwrapped) {
    value = (u as { value: unknown }).value;
    out.clean = false;
  }
  const got: Array<AuditEvent | DecodeError> = [];
  collectAuditValue(value, origin, undefined, got);
  for (const g of got) {
    if (isDecodeError(g)) {
      out.errors.push(`${where}: ${g.error}${g.detail ? ` (${g.detail})` : ''}`);
      out.clean = false;
    } else out.events.push(g);
  }
}

export function decodeWebhookBody(text: string, origin: string): WebhookDecoded {
  const out: WebhookDecoded = { events: [], errors: [], clean: true };
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') {
    out.errors.push('empty body');
    out.clean = false;
    return out;
  }
  let whole: unknown;
  let parsed = false;
  try {
    whole = JSON.parse(text);
    parsed = true;
  } catch {
    /* not one document: JSON lines */
  }
  if (parsed) {
    if (Array.isArray(whole)) {
      for (let i = 0; i < whole.length; i++) take(whole[i], origin, `item ${i}`, out);
    } else if (whole !== null && typeof whole === 'object' && (whole as { kind?: unknown }).kind === 'EventList') {
      const items = (whole as { items?: unknown }).items;
      if (!Array.isArray(items)) {
        out.errors.push('EventList without an items array');
        out.clean = false;
      } else for (let i = 0; i < items.length; i++) take(items[i], origin, `items[${i}]`, out);
    } else take(whole, origin, 'body', out);
    return out;
  }
  let start = 0;
  let line = 0;
  while (start <= text.length) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = text.length;
    line++;
    const s = text.slice(start, nl);
    start = nl + 1;
    if (s.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch (e) {
      out.errors.push(`line ${line}: invalid JSON: ${(e as Error).message}`);
      out.clean = false;
      continue;
    }
    const before = out.events.length;
    take(v, origin, `line ${line}`, out);
    // A JSON line that is one plain event: storage can keep the line as the raw event.
    if (out.events.length === before + 1 && v === out.events[before]!.raw) setRawText(out.events[before]!, s);
  }
  return out;
}
