/**
 * Child: time to load and compile all four upstream rules files as one set (read YAML, collect,
 * compile, build the engine's per-source index), the way `vigil` starts.
 *
 * One warm-up load first (the first load also pays for JIT of the loader itself, which a
 * long-running process pays once), then RUNS timed loads into fresh engines; the median is
 * reported. File reads are included: they are part of a load and take well under 1 ms each
 * from the page cache.
 */
import { Engine } from '../../src/engine/engine.ts';
import { defaultTables } from '../../src/engine/tables.ts';
import { type BenchResult, UPSTREAM_ALL_RULES, emitResults, log, median, rel, round } from '../common.ts';

const RUNS = 5;

function loadOnce(): { ms: number; rules: number } {
  const t0 = performance.now();
  const engine = new Engine({ tables: defaultTables(), hostname: 'bench' });
  const res = engine.loadFiles(UPSTREAM_ALL_RULES);
  const ms = performance.now() - t0;
  if (!res.ok) {
    const errs = res.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code}: ${d.message}`);
    throw new Error('upstream rules failed to load: ' + errs.join('; '));
  }
  return { ms, rules: res.rules.length };
}

const warm = loadOnce();
log(`warm-up load ${warm.ms.toFixed(0)} ms`);
const times: number[] = [];
for (let i = 0; i < RUNS; i++) times.push(loadOnce().ms);
log(`loads ${times.map((t) => t.toFixed(0)).join(', ')} ms`);

const results: BenchResult[] = [{
  name: 'engine.load_upstream_rules.ms', value: round(median(times), 1), unit: 'ms',
  note: `median of ${RUNS} after 1 warm-up (runs ${times.map((t) => round(t)).join(', ')} ms; cold first load ${round(warm.ms)} ms); ${warm.rules} rules from ` +
    UPSTREAM_ALL_RULES.map((p) => rel(p).replace(/^\.\.\/shared\/falco\/rules\//, '')).join(', '),
}];
emitResults(results);
