/**
 * Child: evaluation rate of the upstream syscall ruleset (falco_rules + incubating + sandbox,
 * rule_matching first) over a fixed synthetic stream (bench/gen/syscall_stream.ts), with
 * conditions compiled either to closures (src/rules/compile.ts, the default) or to generated
 * functions (src/rules/codegen.ts, `codegen: true`). Each variant runs in its own child so
 * neither inherits the other's JIT state.
 *
 * The stream is built before timing (building it is not the engine's work). One warm-up pass
 * lets the JIT settle and fills the engine's per-evt.type candidate cache; then PASSES timed
 * passes over the same events, and the median rate is reported. Alerts and rules evaluated are
 * taken from one timed pass (every pass is identical).
 *
 * argv: [events] [closures|codegen]
 */
import { Engine } from '../../src/engine/engine.ts';
import { defaultTables } from '../../src/engine/tables.ts';
import { type BenchResult, UPSTREAM_SYSCALL_RULES, emitResults, log, median, peakRssMb, round } from '../common.ts';
import { buildSyscallStream } from '../gen/syscall_stream.ts';

const PASSES = 5;
const count = Number(process.argv[2] ?? 200_000);
const codegen = process.argv[3] === 'codegen';
const prefix = codegen ? 'engine.syscall_eval.codegen' : 'engine.syscall_eval';

const engine = new Engine({ tables: defaultTables(), ruleMatching: 'first', hostname: 'bench', codegen });  // explicit both ways: the default is codegen
const res = engine.loadFiles(UPSTREAM_SYSCALL_RULES);
if (!res.ok) throw new Error('upstream syscall rules failed to load: ' + res.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message).join('; '));
const active = engine.allRules.filter((r) => r.source === 'syscall' && engine.isActive(r)).length;

log(`building ${count} synthetic syscall events`);
const events = buildSyscallStream(count);

function pass(): { ms: number; alerts: number; evaluated: number; byRule: Map<string, number> } {
  const before = engine.evaluatedCount('syscall');
  const byRule = new Map<string, number>();
  let alerts = 0;
  const t0 = performance.now();
  for (let i = 0; i < events.length; i++) {
    const out = engine.process(events[i]!);
    if (out.length > 0) {
      alerts += out.length;
      for (const a of out) byRule.set(a.rule, (byRule.get(a.rule) ?? 0) + 1);
    }
  }
  return { ms: performance.now() - t0, alerts, evaluated: engine.evaluatedCount('syscall') - before, byRule };
}

log('warm-up pass');
pass();
const runs = [];
for (let i = 0; i < PASSES; i++) runs.push(pass());
const rates = runs.map((r) => count / (r.ms / 1000));
const last = runs[runs.length - 1]!;
log(`rates ${rates.map((r) => Math.round(r)).join(', ')} events/s`);
const top = [...last.byRule.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([r, n]) => `${r} ×${n}`).join('; ');

const rate: BenchResult = {
  name: `${prefix}.events_per_s`, value: round(median(rates)), unit: 'events/s',
  note: `median of ${PASSES} passes (${rates.map((r) => round(r / 1000)).join(', ')} k/s) over ${count} synthetic events after 1 warm-up; ` +
    `${active} active rules, rule_matching=first; conditions compiled to ` +
    (codegen ? 'generated functions (src/rules/codegen.ts, codegen: true, the default)' : 'closures (src/rules/compile.ts, codegen: false)'),
};
const alertsFig: BenchResult = { name: `${prefix}.alerts`, value: last.alerts, unit: 'alerts', note: `per pass of ${count} events; top: ${top || 'none'}` };
// The codegen child reports only what differs; the rest would repeat the closure figures.
const results: BenchResult[] = codegen ? [rate, alertsFig] : [
  rate,
  {
    name: 'engine.syscall_eval.rules_per_event', value: round(last.evaluated / count, 2), unit: 'rules/event',
    note: `candidate rules run per event via the evt.type index, out of ${active} active syscall rules`,
  },
  { name: 'engine.syscall_eval.rules_total', value: active, unit: 'rules', note: 'active syscall rules (falco_rules + incubating + sandbox)' },
  alertsFig,
  { name: 'engine.syscall_eval.peak_rss_mb', value: round(peakRssMb()), unit: 'MB', note: 'maxRSS of this child; dominated by building the event array (about 175 MB live after GC), not by the engine' },
];
emitResults(results);
