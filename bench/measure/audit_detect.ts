/**
 * Child: detection rate over the NDJSON audit file. The same bytes as the json_parse child,
 * read the same way (bench/read_lines.ts), go through the real decode path (AuditLineDecoder,
 * the line decoder behind decodeAuditText and readAuditStream) and `engine.process()`,
 * rule_matching first. Loading the rules is timed apart and excluded from the rate.
 *
 * argv: <ndjson file> <bundled|upstream>
 *   bundled:  Vigil's packs (src/engine/bundled.ts); while there are none, the upstream
 *             k8s_audit_rules.yaml stands in (the note says so).
 *   upstream: shared/falco/rules/k8s_audit_rules.yaml.
 */
import { Engine } from '../../src/engine/engine.ts';
import { bundledRuleFiles } from '../../src/engine/bundled.ts';
import { defaultTables } from '../../src/engine/tables.ts';
import { AuditEvent, AuditLineDecoder, type DecodeError } from '../../src/events/k8saudit.ts';
import { type BenchResult, UPSTREAM_K8S_RULES, emitResults, log, missingFile, peakRssMb, rel, round } from '../common.ts';
import { forEachLine } from '../read_lines.ts';

const file = process.argv[2]!;
const mode = process.argv[3] === 'upstream' ? 'upstream' : 'bundled';
const prefix = mode === 'upstream' ? 'k8saudit.detect.upstream_rules' : 'k8saudit.detect';

let rules: string[];
let rulesNote: string;
if (mode === 'bundled' && bundledRuleFiles().length > 0) {
  rules = bundledRuleFiles();
  rulesNote = `bundled rules (${rules.map((p) => rel(p)).join(', ')})`;
} else {
  rules = [UPSTREAM_K8S_RULES];
  rulesNote = mode === 'bundled'
    ? `no bundled rules yet (rules/ is empty): upstream ${rel(UPSTREAM_K8S_RULES)} stands in`
    : `upstream ${rel(UPSTREAM_K8S_RULES)}`;
}
if (missingFile(rules)) {
  emitResults([{ name: `${prefix}.events_per_s`, value: null, unit: 'events/s', note: `skipped: ${rel(missingFile(rules)!)} is missing` }]);
  process.exit(0);
}

const tLoad = performance.now();
const engine = new Engine({ tables: defaultTables(), ruleMatching: 'first', hostname: 'bench' });
const res = engine.loadFiles(rules);
if (!res.ok) throw new Error('rules failed to load: ' + res.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message).join('; '));
const loadMs = performance.now() - tLoad;
const active = engine.allRules.filter((r) => r.source === 'k8s_audit' && engine.isActive(r)).length;

let events = 0;
let decodeErrors = 0;
let alerts = 0;
const byRule = new Map<string, number>();
const out: Array<AuditEvent | DecodeError> = [];
const dec = new AuditLineDecoder(rel(file), out);

function drain(): void {
  for (let i = 0; i < out.length; i++) {
    const x = out[i]!;
    if (!(x instanceof AuditEvent)) {
      decodeErrors++;
      continue;
    }
    events++;
    const a = engine.process(x);
    if (a.length > 0) {
      alerts += a.length;
      for (const al of a) byRule.set(al.rule, (byRule.get(al.rule) ?? 0) + 1);
    }
  }
  out.length = 0;
}

const t0 = performance.now();
forEachLine(file, (line, lineNo) => {
  dec.line(line, lineNo);
  if (out.length > 0) drain();
});
dec.end();
drain();
const s = (performance.now() - t0) / 1000;
const rate = events / s;
log(`${mode}: ${events} events in ${s.toFixed(2)} s (${Math.round(rate)} events/s), ${alerts} alerts, ${decodeErrors} decode errors`);

const top = [...byRule.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([r, n]) => `${r} ×${n}`).join('; ');
const results: BenchResult[] = [
  {
    name: `${prefix}.events_per_s`, value: round(rate), unit: 'events/s',
    note: `${rulesNote}; ${active} active rules, rule_matching=first; ${events} events, one pass (cold JIT included), ` +
      `decode (AuditLineDecoder) + engine.process; rules load (${round(loadMs)} ms) excluded${decodeErrors ? `; ${decodeErrors} decode errors` : ''}`,
  },
  {
    name: `${prefix}.peak_rss_mb`, value: round(peakRssMb()), unit: 'MB',
    note: 'maxRSS of this child (rules, index, one 64 MiB read block and its string, live events)',
  },
  {
    name: `${prefix}.rules_per_event`, value: round(engine.evaluatedCount('k8s_audit') / events, 2), unit: 'rules/event',
    note: `rules evaluated per event after the ka.verb × ka.target.resource × ka.target.subresource index, out of ${active}`,
  },
  { name: `${prefix}.rules_total`, value: active, unit: 'rules', note: 'active k8s_audit rules loaded' },
  { name: `${prefix}.alerts`, value: alerts, unit: 'alerts', note: `top: ${top || 'none'}` },
];
emitResults(results);
