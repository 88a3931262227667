/**
 * The store's JSON HTTP API, for the UI and for the CLI while `vigil run` holds the store.
 * It is a plain node:http handler that the server mounts under a prefix (`/api/store`); the
 * server holds no logic of its own for it. Every query takes GET parameters or a POST JSON
 * body with the same names.
 *
 *   GET|POST  /events            search events: from, to | since, condition, limit, cursor, order
 *   GET       /events/<auditID>  one event (?stage=...; without it the latest stage)
 *   GET|POST  /alerts            search alerts: as /events, plus rule (repeatable), min_priority, source, hunt
 *   POST      /alerts            write alerts (a JSON array), e.g. hunt results: {"written": n}
 *   GET       /alerts/<id>       one alert
 *   GET|POST  /histogram         table (events|alerts), from, to | since, condition, buckets
 *   GET|POST  /top               table, column, n, from, to | since, condition
 *   GET|POST  /priorities        alert counts by priority: from, to | since, condition
 *   GET|POST  /syscall_events    search stored syscall events: as /events, the condition over the
 *                                `syscall` fields; items carry the record (`vigil replay --source syscall`)
 *   GET       /counts            {events, alerts, kind} (kind: duckdb or clickhouse)
 *
 * Times: `from`/`to` are RFC 3339 or nanoseconds since the epoch; `since` a duration (`24h`,
 * `30d`) back from now. In answers, 64-bit integers (times in ns, `evt.time` in output fields)
 * are JSON strings, with `time` beside `timeNs` in RFC 3339 for people. Errors are
 * `{"error": "..."}` with status 400 (bad input) or 404; a condition that does not compile is
 * a 400 with `"kind": "condition"` whose message points into the condition. `bigint=tagged`
 * writes 64-bit integers in output fields as `{"$bigint": "..."}` (for exact clients).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatIso8601 } from '../fields/generic.ts';
import { ConditionError } from './condition.ts';
import { StoreQueryError, decodeFields, encodeFields } from './sqlstore.ts';
import { parseTimeRange, TimeArgError } from './time.ts';
import type { AlertFilter, SearchQuery, Store, StoredAlert, StoredEvent, StoredSyscallEvent } from './types.ts';

const MAX_BODY = 16 << 20;

class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

type Params = Record<string, unknown>;

/** JSON with bigints as strings. */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
}

export function eventJson(e: StoredEvent): Record<string, unknown> {
  const { rawText: _drop, ...rest } = e;
  return { ...rest, time: formatIso8601(e.timeNs) };
}

export function syscallEventJson(e: StoredSyscallEvent): Record<string, unknown> {
  return { ...e, time: formatIso8601(e.timeNs) };
}

export function alertJson(a: StoredAlert, taggedBigints = false): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a, time: formatIso8601(a.timeNs) };
  // For a client that rebuilds the alert exactly (RemoteStore): 64-bit integers tagged.
  if (taggedBigints) out.outputFields = JSON.parse(encodeFields(a.outputFields)) as unknown;
  return out;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new ApiError(413, `body larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw new ApiError(400, `body is not JSON: ${(e as Error).message}`);
  }
}

function queryParams(url: URL): Params {
  const p: Params = {};
  for (const k of new Set(url.searchParams.keys())) {
    const all = url.searchParams.getAll(k);
    p[k] = k === 'rule' ? all : all[all.length - 1];
  }
  return p;
}

function str(p: Params, k: string): string | undefined {
  const v = p[k];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  throw new ApiError(400, `${k}: expected a string`);
}

function int(p: Params, k: string, dflt: number, max: number): number {
  const s = str(p, k);
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new ApiError(400, `${k}: expected a positive integer, got '${s}'`);
  return Math.min(n, max);
}

function range(p: Params, defaultSince: string): SearchQuery['range'] {
  try {
    return parseTimeRange({ since: str(p, 'since'), from: str(p, 'from'), to: str(p, 'to') }, defaultSince);
  } catch (e) {
    if (e instanceof TimeArgError) throw new ApiError(400, e.message);
    throw e;
  }
}

function table(p: Params): 'events' | 'alerts' {
  const t = str(p, 'table') ?? 'events';
  if (t !== 'events' && t !== 'alerts') throw new ApiError(400, `table: events or alerts, not '${t}'`);
  return t;
}

function alertFilter(p: Params): AlertFilter | undefined {
  const f: AlertFilter = {};
  const rules = p.rule ?? p.rules;
  if (rules !== undefined) f.rules = (Array.isArray(rules) ? rules : [rules]).map(String);
  const mp = str(p, 'min_priority');
  if (mp !== undefined) f.minPriority = mp;
  const source = str(p, 'source');
  if (source !== undefined) f.source = source;
  const hunt = str(p, 'hunt');
  if (hunt !== undefined) {
    if (hunt !== 'true' && hunt !== 'false') throw new ApiError(400, `hunt: true or false, not '${hunt}'`);
    f.hunt = hunt === 'true';
  }
  return Object.keys(f).length ? f : undefined;
}

function search(p: Params, alerts: boolean): SearchQuery {
  const order = str(p, 'order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw new ApiError(400, `order: asc or desc, not '${order}'`);
  const q: SearchQuery = { range: range(p, '24h'), limit: int(p, 'limit', 100, 10_000), order };
  const condition = str(p, 'condition');
  if (condition !== undefined) q.condition = condition;
  const cursor = str(p, 'cursor');
  if (cursor !== undefined) q.cursor = cursor;
  if (alerts) {
    const f = alertFilter(p);
    if (f) q.alerts = f;
  }
  return q;
}

/** An alert as posted (times as strings, `{"$bigint": "..."}` allowed in output fields). */
function postedAlert(x: unknown, i: number): StoredAlert {
  const a = x as Record<string, unknown>;
  const bad = (what: string) => new ApiError(400, `alerts[${i}]: ${what}`);
  if (a === null || typeof a !== 'object') throw bad('expected an object');
  for (const k of ['id', 'rule', 'priority', 'source', 'output']) if (typeof a[k] !== 'string') throw bad(`${k}: expected a string`);
  if (!/^-?\d+$/.test(String(a.timeNs))) throw bad('timeNs: expected integer nanoseconds');
  const out: StoredAlert = {
    id: a.id as string, timeNs: BigInt(String(a.timeNs)), rule: a.rule as string, priority: a.priority as string,
    source: a.source as string, output: a.output as string,
    outputFields: decodeFields(JSON.stringify(a.outputFields ?? {})), tags: Array.isArray(a.tags) ? a.tags.map(String) : [],
  };
  if (a.labels && typeof a.labels === 'object') out.labels = a.labels as Record<string, string>;
  if (typeof a.eventRef === 'string') out.eventRef = a.eventRef;
  if (a.hunt === true) out.hunt = true;
  if (a.event && typeof a.event === 'object') out.event = a.event as Record<string, unknown>;
  return out;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = toJson(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}

/**
 * The handler to mount: `server.route('/api/store', storeApiHandler(store), true)`. `rest` is
 * the path after the prefix (`events`, `alerts/<id>`, ...).
 */
export function storeApiHandler(store: Store): (req: IncomingMessage, res: ServerResponse, rest?: string) => Promise<void> {
  return async (req, res, rest) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const sub = rest ?? url.pathname.replace(/^\/api\/store\/?/, '');
    const [head, ...tail] = sub.split('/');
    const id = tail.length ? decodeURIComponent(tail.join('/')) : undefined;
    try {
      const method = req.method ?? 'GET';
      if (method !== 'GET' && method !== 'POST') throw new ApiError(405, `method ${method} not allowed`);
      const body = method === 'POST' ? await readBody(req) : undefined;
      const p: Params = method === 'POST' && !Array.isArray(body) ? { ...queryParams(url), ...(body as Params) } : queryParams(url);
      const tagged = str(p, 'bigint') === 'tagged';
      switch (head) {
        case 'events': {
          if (id !== undefined) {
            const e = await store.getEvent(id, str(p, 'stage'));
            if (!e) throw new ApiError(404, `no event ${id}`);
            return send(res, 200, eventJson(e));
          }
          const page = await store.searchEvents(search(p, false));
          return send(res, 200, { items: page.items.map(eventJson), cursor: page.cursor ?? null });
        }
        case 'alerts': {
          if (id !== undefined) {
            const a = await store.getAlert(id);
            if (!a) throw new ApiError(404, `no alert ${id}`);
            return send(res, 200, alertJson(a, tagged));
          }
          if (method === 'POST' && Array.isArray(body)) {
            const written = await store.writeAlerts(body.map(postedAlert));
            return send(res, 200, { written });
          }
          const page = await store.searchAlerts(search(p, true));
          return send(res, 200, { items: page.items.map((a) => alertJson(a, tagged)), cursor: page.cursor ?? null });
        }
        case 'histogram': {
          const buckets = await store.histogram(table(p), range(p, '24h'), str(p, 'condition'), int(p, 'buckets', 60, 2000));
          return send(res, 200, { buckets: buckets.map((b) => ({ ...b, time: formatIso8601(b.startNs) })) });
        }
        case 'top': {
          const column = str(p, 'column');
          if (!column) throw new ApiError(400, 'column: required');
          return send(res, 200, { values: await store.topN(table(p), column, range(p, '24h'), int(p, 'n', 10, 1000), str(p, 'condition')) });
        }
        case 'priorities':
          return send(res, 200, { counts: await store.countByPriority(range(p, '24h'), str(p, 'condition')) });
        case 'syscall_events': {
          if (id !== undefined) throw new ApiError(404, `no store endpoint '${sub}' (search syscall events at syscall_events)`);
          const { alerts: _none, ...q } = search(p, false);
          const page = await store.searchSyscallEvents(q);
          return send(res, 200, { items: page.items.map(syscallEventJson), cursor: page.cursor ?? null });
        }
        case 'counts':
          return send(res, 200, { ...(await store.counts()), kind: store.kind });
        default:
          throw new ApiError(404, `no store endpoint '${sub}' (events, alerts, syscall_events, histogram, top, priorities, counts)`);
      }
    } catch (e) {
      if (e instanceof ApiError) return send(res, e.status, { error: e.message });
      if (e instanceof ConditionError) return send(res, 400, { error: e.message, kind: 'condition' });
      if (e instanceof StoreQueryError) return send(res, 400, { error: e.message, kind: 'query' });
      throw e;
    }
  };
}
