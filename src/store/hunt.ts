/**
 * Retro-hunt: run rules over stored history and report what they would have raised; the hits
 * are stored as alerts marked `hunt` (with ids of their own, so hunting twice stores them
 * once and never collides with the live alert of the same event).
 *
 * The store is asked only for events that some rule may match: the rules' expanded conditions
 * are joined with `or` into one search condition, whose column checks become SQL (sql.ts).
 * Each returned event then meets the engine exactly as in `vigil replay`.
 */
import type { Alert, Engine } from '../engine/engine.ts';
import { compileCondition } from './condition.ts';
import { SqlStore, huntAlertId } from './sqlstore.ts';
import type { Store, StoredAlert, TimeRange } from './types.ts';

export interface HuntProgress {
  /** 0..1 through the time range. */
  fraction: number;
  scanned: number;
  hits: number;
}

export interface HuntOptions {
  range: TimeRange;
  /** Called for every alert, in time order. */
  onAlert?(a: Alert, stored: StoredAlert): void;
  onProgress?(p: HuntProgress): void;
  /** Report only, store nothing. */
  dryRun?: boolean;
  pageSize?: number;
}

export interface HuntResult {
  scanned: number;
  alerts: number;
  /** Alerts not stored before (0 on a dry run). */
  stored: number;
  /** The condition the store was searched with (undefined: every event in the range). */
  prefilter?: string;
}

/** One search condition that holds wherever any active audit rule may fire. */
export function huntPrefilter(engine: Engine): string | undefined {
  const conds = engine.allRules.filter((r) => r.source === 'k8s_audit' && engine.isActive(r)).map((r) => `(${r.compiledCondition})`);
  if (conds.length === 0) return undefined;
  const text = conds.join(' or ');
  try {
    compileCondition(text);
    return text;
  } catch {
    return undefined; // a printed condition that does not re-parse: scan everything instead
  }
}

export function huntAlert(a: Alert, eventRef: string, labels: Record<string, string> | undefined): StoredAlert {
  const s: StoredAlert = {
    id: huntAlertId(a.rule, a.source, eventRef), timeNs: a.time, rule: a.rule, priority: a.priority, source: a.source,
    output: a.output, outputFields: a.output_fields, tags: a.tags, eventRef, hunt: true,
  };
  if (labels && Object.keys(labels).length) s.labels = labels;
  return s;
}

export async function runHunt(store: Store, engine: Engine, o: HuntOptions): Promise<HuntResult> {
  const prefilter = huntPrefilter(engine);
  const result: HuntResult = { scanned: 0, alerts: 0, stored: 0 };
  if (prefilter !== undefined) result.prefilter = prefilter;
  const hasAuditRules = engine.allRules.some((r) => r.source === 'k8s_audit' && engine.isActive(r));
  if (!hasAuditRules) return result;
  const span = Number(o.range.toNs - o.range.fromNs);
  let cursor: string | undefined;
  let num = 0;
  for (;;) {
    const page = await store.searchEvents({
      range: o.range, limit: o.pageSize ?? 2000, order: 'asc', ...(prefilter ? { condition: prefilter } : {}), ...(cursor ? { cursor } : {}),
    });
    const hits: StoredAlert[] = [];
    for (const e of page.items) {
      const ev = SqlStore.auditEvent(e);
      ev.num = ++num;
      result.scanned++;
      for (const a of engine.process(ev)) {
        const s = huntAlert(a, `${e.auditId}/${e.stage}`, ev.labels);
        hits.push(s);
        o.onAlert?.(a, s);
      }
    }
    result.alerts += hits.length;
    if (!o.dryRun && hits.length) result.stored += await store.writeAlerts(hits);
    const last = page.items[page.items.length - 1];
    o.onProgress?.({ fraction: last && span > 0 ? Math.min(1, Number(last.timeNs - o.range.fromNs) / span) : 1, scanned: result.scanned, hits: result.alerts });
    if (!page.cursor) break;
    cursor = page.cursor;
  }
  o.onProgress?.({ fraction: 1, scanned: result.scanned, hits: result.alerts });
  return result;
}
