/**
 * Kubernetes audit events: the event type of the `k8s_audit` source and its decoders.
 *
 * Accepted input, whether a file, stdin or a webhook body:
 * - one audit `Event` object;
 * - an `EventList` (`"kind": "EventList"`): every element of `items` becomes an event;
 * - a JSON array whose elements are any of the above (nested arrays are walked too);
 * - JSON lines: one of the above per line;
 * - one or more whole JSON documents pretty-printed across lines (a document starts on a
 *   line of its own that does not parse alone and begins with `{` or `[`).
 * Both `audit.k8s.io/v1` and `v1beta1` are read, and so are old traces that carry no
 * `apiVersion`/`kind` at all.
 *
 * What counts as an audit event (Falco's plugin insists on `kind: Event` and a parseable
 * `stageTimestamp`; we are a little more lenient so that old traces load):
 * - a JSON object (not an array, not null);
 * - with a string `auditID`;
 * - whose `kind`, if present, is `"Event"` (an object with another kind is not an event);
 * - with a time: `stageTimestamp`, else `requestReceivedTimestamp`, else `timestamp` (very old
 *   events), the first of them that is an RFC 3339 string. The time is parsed exactly into
 *   nanoseconds (no float rounding; digits beyond the 9th are truncated, as Go does).
 * `apiVersion` is not checked. Anything else produces a DecodeError record (`not a k8s audit
 * event`, or `invalid JSON: ...` when a line/document does not parse) naming the origin and the
 * 1-based line where the record starts; decoding goes on with the next record.
 *
 * The parsed object is kept as received (`raw`): no copy, no normalisation. Unlike Falco we do
 * not drop events larger than 256 KiB.
 */
import { StringDecoder } from 'node:string_decoder';
import type { VigilEvent } from './event.ts';

export class AuditEvent implements VigilEvent {
  /** Enrichment labels, readable as `vigil.<label>`. */
  labels?: Record<string, string>;
  /** Sequence number assigned by the engine (`evt.num`). */
  num?: number;
  /**
   * The JSON text this event was parsed from, when a source has exactly that text (a tail
   * line, an item of a webhook body): storage keeps it instead of serialising `raw` again.
   * A field rather than a WeakMap beside the event (measured: WeakMap.set cost 2.5% of the
   * ingest path, and ephemerons slow every garbage collection).
   */
  rawText?: string;

  constructor(
    /** The audit Event object exactly as parsed. */
    readonly raw: Record<string, unknown>,
    /** Event time, ns since the epoch (from stageTimestamp). */
    readonly timeNs: bigint,
    labels?: Record<string, string>,
  ) {
    this.labels = labels;
    this.num = undefined;
    this.rawText = undefined;
  }

  get source(): 'k8s_audit' {
    return 'k8s_audit';
  }
}

export interface DecodeError {
  error: string;
  /** File name, `stdin`, or a label given by the caller (`webhook 10.0.0.7`, ...). */
  origin: string;
  /** 1-based line where the offending record (or document) starts. */
  line?: number;
  /** Why an object was not taken as an event, when that is more than "not an object". */
  detail?: string;
}

export const NOT_AN_AUDIT_EVENT = 'not a k8s audit event';

export function isDecodeError(x: AuditEvent | DecodeError): x is DecodeError {
  return !(x instanceof AuditEvent);
}

// ---------------------------------------------------------------------------------------------
// RFC 3339 timestamps, exact to the nanosecond

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const NS_PER_S = 1_000_000_000n;

/** Days since 1970-01-01 of a proleptic Gregorian date. */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * Parse an RFC 3339 timestamp (`2018-10-25T13:58:49.736141Z`, `...+02:00`) into ns since the
 * epoch. Returns undefined for anything else (including impossible dates).
 */
// One-entry cache of the whole-seconds part: audit events arrive in time order, so the
// same second repeats for thousands of events (profiling showed the regex and BigInt work
// of a full parse at ~7% of detection time).
let lastSecondsKey = '';
let lastSecondsNs = 0n;

export function parseRfc3339Ns(s: unknown): bigint | undefined {
  if (typeof s !== 'string') return undefined;
  // Fast path: `YYYY-MM-DDTHH:MM:SS.fffffffffZ` (what API servers write).
  // (No slices or regex for the usual case: measured at 1% of the webhook's ingest path.)
  const n = s.length;
  if (n > 21 && n <= 30 && s.charCodeAt(19) === 46 && s.charCodeAt(n - 1) === 90) {
    let frac = 0;
    let i = 20;
    for (; i < n - 1; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      frac = frac * 10 + d;
    }
    if (i === n - 1) {
      if (!s.startsWith(lastSecondsKey) || lastSecondsKey === '') {
        const key = s.slice(0, 19);
        const whole = parseRfc3339Full(key + 'Z');
        if (whole === undefined) return undefined;
        lastSecondsKey = key;
        lastSecondsNs = whole;
      }
      return lastSecondsNs + BigInt(frac * 10 ** (30 - n));
    }
  }
  return parseRfc3339Full(s);
}

function parseRfc3339Full(s: string): bigint | undefined {
  const m = RFC3339.exec(s);
  if (m === null) return undefined;
  const year = +m[1]!, month = +m[2]!, day = +m[3]!;
  const hour = +m[4]!, min = +m[5]!, sec = +m[6]!;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || min > 59 || sec > 59) return undefined;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const dim = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
  if (day > dim) return undefined;
  let offset = 0;
  if (m[8] === undefined) {
    const oh = +m[10]!, om = +m[11]!;
    if (oh > 23 || om > 59) return undefined;
    offset = (oh * 60 + om) * 60 * (m[9] === '-' ? -1 : 1);
  }
  const seconds = daysFromCivil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec - offset;
  let frac = 0;
  const f = m[7];
  if (f !== undefined) {
    frac = f.length >= 9 ? +f.slice(0, 9) : +f * 10 ** (9 - f.length);
  }
  return BigInt(seconds) * NS_PER_S + BigInt(frac);
}

// ---------------------------------------------------------------------------------------------
// From parsed JSON values to events

function eventTime(o: Record<string, unknown>): bigint | undefined {
  return parseRfc3339Ns(o.stageTimestamp) ?? parseRfc3339Ns(o.requestReceivedTimestamp) ?? parseRfc3339Ns(o.timestamp);
}

/**
 * Turn one parsed JSON value (Event, EventList or array of them) into events and error records,
 * appended to `out`. `line` is where the value starts in its origin.
 */
export function collectAuditValue(v: unknown, origin: string, line: number | undefined, out: Array<AuditEvent | DecodeError>): void {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) collectAuditValue(v[i], origin, line, out);
    return;
  }
  if (v === null || typeof v !== 'object') {
    out.push(notAnEvent(origin, line));
    return;
  }
  const o = v as Record<string, unknown>;
  const kind = o.kind;
  if (kind === 'EventList') {
    const items = o.items;
    if (!Array.isArray(items)) {
      out.push(notAnEvent(origin, line, 'EventList without an items array'));
      return;
    }
    for (let i = 0; i < items.length; i++) pushEvent(items[i], origin, line, out);
    return;
  }
  pushEvent(o, origin, line, out);
}

function pushEvent(v: unknown, origin: string, line: number | undefined, out: Array<AuditEvent | DecodeError>): void {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    out.push(notAnEvent(origin, line));
    return;
  }
  const o = v as Record<string, unknown>;
  if (typeof o.auditID !== 'string') {
    out.push(notAnEvent(origin, line));
    return;
  }
  if (o.kind !== undefined && o.kind !== 'Event') {
    out.push(notAnEvent(origin, line, `kind is ${JSON.stringify(o.kind)}, not Event`));
    return;
  }
  const t = eventTime(o);
  if (t === undefined) {
    out.push(notAnEvent(origin, line, 'no valid stageTimestamp'));
    return;
  }
  out.push(new AuditEvent(o, t));
}

function notAnEvent(origin: string, line: number | undefined, detail?: string): DecodeError {
  const e: DecodeError = { error: NOT_AN_AUDIT_EVENT, origin };
  if (line !== undefined) e.line = line;
  if (detail !== undefined) e.detail = detail;
  return e;
}

function invalidJson(origin: string, line: number | undefined, message: string): DecodeError {
  const e: DecodeError = { error: 'invalid JSON: ' + message, origin };
  if (line !== undefined) e.line = line;
  return e;
}

// ---------------------------------------------------------------------------------------------
// Line-driven decoder shared by the text and the stream readers

const FAILED: unique symbol = Symbol('failed');
let lastParseError = '';

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    lastParseError = e instanceof Error ? e.message : String(e);
    return FAILED;
  }
}

/** Index of the first non-whitespace char, or -1 for a blank line. */
function firstNonBlank(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) return i;
  }
  return -1;
}

const CH_LBRACE = 0x7b, CH_LBRACKET = 0x5b, CH_RBRACE = 0x7d, CH_RBRACKET = 0x5d;

/** A line that is just `}` or `]` (plus blanks): possibly the end of a pretty-printed document. */
function isClosingLine(s: string): boolean {
  const c = s.charCodeAt(0);
  if (c !== CH_RBRACE && c !== CH_RBRACKET) return false;
  for (let i = 1; i < s.length; i++) {
    const d = s.charCodeAt(i);
    if (d !== 0x20 && d !== 0x09 && d !== 0x0d) return false;
  }
  return true;
}

/** A line that is just `{` or `[` (plus blanks): the start of a pretty-printed document. */
function isBareOpener(s: string): boolean {
  const t = s.trim();
  return t === '{' || t === '[';
}

/**
 * Feeds on lines, one call per line (without its `\n`), and appends the decoded events and
 * error records to `out`. JSON lines are parsed one by one; a line starting with `{`/`[` that
 * does not parse alone opens a multi-line document, which is parsed whole when a line made of a
 * lone `}`/`]` completes it (or at the end of input). If, while a document is open, a line at
 * column 0 parses alone as a JSON object/array, the open document was in fact a broken record:
 * its lines are reported (and re-read one by one) and line-by-line decoding resumes.
 */
export class AuditLineDecoder {
  private acc: string[] = [];
  private accStart = 0;

  constructor(private readonly origin: string, readonly out: Array<AuditEvent | DecodeError>) {}

  line(text: string, lineNo: number): void {
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // byte order mark
    if (this.acc.length > 0) {
      const c = text.charCodeAt(0);
      if ((c === CH_LBRACE || c === CH_LBRACKET) && !this.openEnded()) {
        const v = tryParse(text);
        if (v !== FAILED) {
          this.flushBroken();
          this.line(text, lineNo);
          return;
        }
      }
      this.acc.push(text);
      if (isClosingLine(text)) {
        const v = tryParse(this.acc.join('\n'));
        if (v !== FAILED) {
          const start = this.accStart;
          this.acc = [];
          collectAuditValue(v, this.origin, start, this.out);
        } else if (this.indented()) {
          // In an indented document a lone `}`/`]` at column 0 is the top-level end: the
          // document is broken, report it now rather than swallow what follows.
          this.flushBroken();
        }
      }
      return;
    }
    // Fast path: a JSON line starts with `{` right away.
    let i = 0;
    if (text.charCodeAt(0) !== CH_LBRACE) {
      i = firstNonBlank(text);
      if (i < 0) return;
    }
    const v = tryParse(text);
    if (v !== FAILED) {
      collectAuditValue(v, this.origin, lineNo, this.out);
      return;
    }
    const c = text.charCodeAt(i);
    if (c === CH_LBRACE || c === CH_LBRACKET) {
      this.acc = [text];
      this.accStart = lineNo;
    } else {
      this.out.push(invalidJson(this.origin, lineNo, lastParseError));
    }
  }

  /**
   * The last non-blank line of the open document ends with `,`, `[`, `{` or `:`, so the
   * document is still going on (a one-line element of a pretty-printed array must not be
   * mistaken for a new JSON line).
   */
  private openEnded(): boolean {
    for (let k = this.acc.length - 1; k >= 0; k--) {
      const t = this.acc[k]!.trimEnd();
      if (t.length === 0) continue;
      const c = t.charCodeAt(t.length - 1);
      return c === 0x2c || c === CH_LBRACKET || c === CH_LBRACE || c === 0x3a;
    }
    return true;
  }

  /** The open document starts with a lone `{`/`[` and its next line is indented. */
  private indented(): boolean {
    if (this.acc.length < 3 || !isBareOpener(this.acc[0]!)) return false;
    const c = this.acc[1]!.charCodeAt(0);
    return c === 0x20 || c === 0x09;
  }

  /** End of input: settle an open document. */
  end(): void {
    while (this.acc.length > 0) {
      const v = tryParse(this.acc.join('\n'));
      if (v !== FAILED) {
        const start = this.accStart;
        this.acc = [];
        collectAuditValue(v, this.origin, start, this.out);
      } else {
        this.flushBroken();
      }
    }
  }

  /** The open document never parsed: report it and re-read its other lines one by one. */
  private flushBroken(): void {
    const lines = this.acc;
    const start = this.accStart;
    this.acc = [];
    if (lines.length > 1 && isBareOpener(lines[0]!)) {
      tryParse(lines.join('\n'));
      this.out.push(invalidJson(this.origin, start, lastParseError));
      return;
    }
    tryParse(lines[0]!);
    this.out.push(invalidJson(this.origin, start, lastParseError));
    for (let k = 1; k < lines.length; k++) this.line(lines[k]!, start + k);
  }
}

// ---------------------------------------------------------------------------------------------
// Public decoders

/**
 * Decode a whole text (file contents, webhook body). Errors are yielded as DecodeError records
 * in input order, and decoding continues after them.
 */
export function* decodeAuditText(text: string, origin: string): Generator<AuditEvent | DecodeError> {
  const out: Array<AuditEvent | DecodeError> = [];
  const dec = new AuditLineDecoder(origin, out);
  let lineNo = 0;
  let start = 0;
  const n = text.length;
  while (start < n) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = n;
    lineNo++;
    dec.line(text.slice(start, nl), lineNo);
    start = nl + 1;
    if (out.length > 0) {
      for (let i = 0; i < out.length; i++) yield out[i]!;
      out.length = 0;
    }
  }
  dec.end();
  for (let i = 0; i < out.length; i++) yield out[i]!;
}

/**
 * Decode a stream (file, stdin, socket) incrementally: JSON lines are yielded as soon as their
 * line is complete; multi-line documents when they close. Lines of any length are handled
 * (they are only bounded by the maximum string length of the JS engine).
 */
export async function* readAuditStream(input: NodeJS.ReadableStream, origin: string): AsyncGenerator<AuditEvent | DecodeError> {
  const out: Array<AuditEvent | DecodeError> = [];
  const dec = new AuditLineDecoder(origin, out);
  const sd = new StringDecoder('utf8');
  let pending: string[] = [];
  let lineNo = 0;

  const feed = (s: string): void => {
    let start = 0;
    for (;;) {
      const nl = s.indexOf('\n', start);
      if (nl < 0) break;
      let line = s.slice(start, nl);
      if (pending.length > 0) {
        pending.push(line);
        line = pending.join('');
        pending = [];
      }
      lineNo++;
      dec.line(line, lineNo);
      start = nl + 1;
    }
    if (start < s.length) pending.push(start === 0 ? s : s.slice(start));
  };

  for await (const chunk of input) {
    feed(typeof chunk === 'string' ? chunk : sd.write(chunk as Buffer));
    if (out.length > 0) {
      for (let i = 0; i < out.length; i++) yield out[i]!;
      out.length = 0;
    }
  }
  const tail = sd.end();
  if (tail) feed(tail);
  if (pending.length > 0) {
    lineNo++;
    dec.line(pending.join(''), lineNo);
    pending = [];
  }
  dec.end();
  for (let i = 0; i < out.length; i++) yield out[i]!;
}
