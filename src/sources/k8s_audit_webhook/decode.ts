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
 *
 * Speed: a compact JSON array or EventList (what Fluent Bit and the API server send: `},{`
 * between items, no spaces) is cut at each `},{` and every item parsed on its own, so each
 * event keeps its exact text (storage keeps that text instead of serialising the event again,
 * ~3 µs per event saved) for no more than parsing the whole body costs (measured: the cut and
 * the per-item parses take the time of one JSON.parse of the body). A cut that falls inside an
 * item (a nested object, a string) leaves a piece that cannot parse: its opening brace or
 * quote is unmatched. So if every piece parses, the cuts were the items' boundaries;
 * otherwise the body is parsed whole, as before, and the events carry no text.
 */
import { type AuditEvent, type DecodeError, collectAuditValue, isDecodeError } from '../../events/k8saudit.ts';

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
  const got = scratch;
  collectAuditValue(value, origin, undefined, got);
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!;
    if (isDecodeError(g)) {
      out.errors.push(`${where}: ${g.error}${g.detail ? ` (${g.detail})` : ''}`);
      out.clean = false;
    } else out.events.push(g);
  }
  got.length = 0;
}

/** Reused by `take` (one array per record was measurable garbage). */
const scratch: Array<AuditEvent | DecodeError> = [];

export function decodeWebhookBody(text: string, origin: string): WebhookDecoded {
  const out: WebhookDecoded = { events: [], errors: [], clean: true };
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') {
    out.errors.push('empty body');
    out.clean = false;
    return out;
  }
  if (splitItems(text, origin, out)) return out;
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
    if (out.events.length === before + 1 && v === out.events[before]!.raw) out.events[before]!.rawText = s;
  }
  return out;
}

/**
 * The items of a compact JSON array (`[{...},{...}]`) or EventList (`{..."items":[{...},{...}]}`),
 * each parsed from its own text (see the header). False, with `out` untouched, when the body
 * is not of that shape; the caller then parses it whole.
 */
function splitItems(text: string, origin: string, out: WebhookDecoded): boolean {
  let from: number;
  let to: number;
  let where: string;
  const first = text.charCodeAt(0);
  if (first === 0x5b /* [ */) {
    to = text.lastIndexOf(']');
    if (to < 0 || !isBlank(text, to + 1)) return false;
    from = 1;
    where = 'item';
  } else if (first === 0x7b /* { */) {
    // An EventList as Go marshals it: kind, apiVersion, metadata, then items last.
    const at = text.indexOf('"items":[');
    if (at < 0 || at > 4096) return false;
    to = text.lastIndexOf(']');
    if (to < at || text.charCodeAt(to + 1) !== 0x7d /* } */ || !isBlank(text, to + 2)) return false;
    from = at + 9;
    let skeleton: unknown;
    try {
      skeleton = JSON.parse(text.slice(0, from) + text.slice(to));
    } catch {
      return false;
    }
    const sk = skeleton as { kind?: unknown; items?: unknown } | null;
    if (sk === null || typeof sk !== 'object' || sk.kind !== 'EventList' || !Array.isArray(sk.items) || sk.items.length !== 0) return false;
    where = 'items';
  } else return false;
  if (to <= from) return false;
  const pieces: string[] = [];
  const values: unknown[] = [];
  for (let a = from; ;) {
    const b = text.indexOf('},{', a);
    const end = b < 0 || b >= to ? to : b + 1;
    const piece = text.slice(a, end);
    try {
      values.push(JSON.parse(piece));
    } catch {
      return false;
    }
    pieces.push(piece);
    if (end === to) break;
    a = end + 1;
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const before = out.events.length;
    take(v, origin, where === 'item' ? `item ${i}` : `items[${i}]`, out);
    // An item that is one plain event: storage can keep its text as the raw event.
    const piece = pieces[i]!;
    if (out.events.length === before + 1 && v === out.events[before]!.raw && piece.charCodeAt(0) === 0x7b && piece.charCodeAt(piece.length - 1) === 0x7d) {
      out.events[before]!.rawText = piece;
    }
  }
  return true;
}

function isBlank(text: string, from: number): boolean {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false;
  }
  return true;
}
