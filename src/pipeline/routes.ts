/**
 * Alert routing, compiled at configure time: each route becomes one predicate, and with no
 * routes every alert goes to every output. An output's own `min_priority` applies on top.
 */
import { PRIORITIES, type RouteConfig } from '../config/schema.ts';
import type { AlertRecord, Output } from '../outputs/types.ts';

type Pred = (a: AlertRecord) => boolean;

function compileMatch(m: RouteConfig['match']): Pred {
  const preds: Pred[] = [];
  if (m.sources) { const s = new Set(m.sources); preds.push((a) => s.has(a.sourceName)); }
  if (m.rule_sources) { const s = new Set(m.rule_sources); preds.push((a) => s.has(a.stored.source)); }
  if (m.tags) { const s = new Set(m.tags); preds.push((a) => a.stored.tags.some((t) => s.has(t))); }
  if (m.labels) {
    const want = Object.entries(m.labels);
    preds.push((a) => want.every(([k, v]) => a.stored.labels?.[k] === v));
  }
  if (m.min_priority) { const p = PRIORITIES.indexOf(m.min_priority); preds.push((a) => a.priorityNum <= p); }
  if (preds.length === 0) return () => true;
  return (a) => preds.every((p) => p(a));
}

export interface Router {
  /** For each output, the alerts it gets. */
  route(alerts: AlertRecord[]): Array<[Output, AlertRecord[]]>;
}

export function compileRoutes(routes: RouteConfig[], outputs: Output[]): Router {
  const byName = new Map(outputs.map((o) => [o.name, o]));
  for (const r of routes) {
    for (const n of r.outputs) if (!byName.has(n)) throw new Error(`route ${r.name ? `'${r.name}'` : ''} names an unknown output '${n}' (outputs: ${[...byName.keys()].join(', ')})`.replace('route  names', 'a route names'));
  }
  const perOutput: Array<[Output, Pred]> = outputs.map((o) => {
    const mine = routes.filter((r) => r.outputs.includes(o.name)).map((r) => compileMatch(r.match));
    const routed: Pred = routes.length === 0 ? () => true : mine.length === 0 ? () => false : (a) => mine.some((p) => p(a));
    return [o, (a) => a.priorityNum <= o.minPriority && routed(a)];
  });
  return {
    route(alerts) {
      const out: Array<[Output, AlertRecord[]]> = [];
      for (const [o, p] of perOutput) {
        const xs = alerts.filter(p);
        if (xs.length) out.push([o, xs]);
      }
      return out;
    },
  };
}
