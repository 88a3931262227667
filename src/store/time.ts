/**
 * Time ranges as people give them: `--since 24h` (back from now) or `--from T --to T`, where
 * T is RFC 3339 (`2024-05-01T10:00:00Z`), a date (`2024-05-01`, UTC midnight), `now`, or
 * integer nanoseconds since the epoch. Durations: a number and a unit among ms, s, m, h, d, w
 * (`90m`, `30d`, `1h30m`).
 */
import { parseRfc3339Ns } from '../events/k8saudit.ts';
import type { TimeRange } from './types.ts';

export class TimeArgError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeArgError';
  }
}

const UNIT_NS: Record<string, bigint> = {
  ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n, d: 86_400_000_000_000n, w: 604_800_000_000_000n,
};

export function parseDurationNs(s: string): bigint {
  const t = s.trim();
  const re = /(\d+)(ms|s|m|h|d|w)/gy;
  let total = 0n;
  let end = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total += BigInt(m[1]!) * UNIT_NS[m[2]!]!;
    end = re.lastIndex;
  }
  if (t === '' || end !== t.length || total === 0n) throw new TimeArgError(`'${s}' is not a duration (e.g. 15m, 24h, 30d, 1h30m)`);
  return total;
}

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export function parseTimeNs(s: string, what: string): bigint {
  const t = s.trim();
  if (t === 'now') return nowNs();
  if (/^-?\d+$/.test(t)) return BigInt(t);
  const date = /^(\d{4}-\d{2}-\d{2})$/.exec(t);
  const v = parseRfc3339Ns(date ? `${date[1]}T00:00:00Z` : t);
  if (v === undefined) throw new TimeArgError(`${what}: '${s}' is not a time (RFC 3339 like 2024-05-01T10:00:00Z, a date, 'now', or nanoseconds)`);
  return v;
}

/** The range from `--since` or `--from`/`--to` (to defaults to now); `defaultSince` when neither. */
export function parseTimeRange(o: { since?: string; from?: string; to?: string }, defaultSince: string): TimeRange {
  if (o.since !== undefined && o.from !== undefined) throw new TimeArgError('give --since or --from/--to, not both');
  const to = o.to !== undefined ? parseTimeNs(o.to, 'to') : nowNs() + 1n;
  const from = o.from !== undefined ? parseTimeNs(o.from, 'from') : to - parseDurationNs(o.since ?? defaultSince);
  if (from >= to) throw new TimeArgError('the range is empty: from must be before to');
  return { fromNs: from, toNs: to };
}

/** The earliest and latest `timeNs` of a non-empty batch (bounds for a time-limited lookup). */
export function timeSpan(rows: ReadonlyArray<{ timeNs: bigint }>): [bigint, bigint] {
  let min = rows[0]!.timeNs;
  let max = min;
  for (const r of rows) {
    if (r.timeNs < min) min = r.timeNs;
    if (r.timeNs > max) max = r.timeNs;
  }
  return [min, max];
}
