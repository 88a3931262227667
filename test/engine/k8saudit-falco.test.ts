// Falco's own k8s audit regression suite and Falco 0.44.1's printed alerts, through the same
// code path as `vigil replay`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { replayFiles } from '../../src/cli/replay.ts';
import { projectRoot, sharedPath, skipOrFail } from '../helpers.ts';

interface Expectation {
  name: string;
  traceFile: string;
  rulesFiles: string[];
  detect: boolean;
  expect?: Record<string, number>;
}

/** Paths in the expectations file are relative to the folder that holds shared/. */
const fromShared = (p: string) => path.join(projectRoot, '..', p);

async function replay(trace: string, rules: string[], ruleMatching: 'first' | 'all') {
  const out: string[] = [];
  const err: string[] = [];
  const r = await replayFiles([trace], { rules, ruleMatching, format: 'json', hostname: 'oracle' },
    { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { ...r, out, err };
}

const expFile = sharedPath('falco', 'k8s-audit-expectations.json');
if (!existsSync(expFile)) {
  test('k8s audit expectations', (t) => skipOrFail(t, 'shared/falco/k8s-audit-expectations.json not found'));
} else {
  const cases = JSON.parse(readFileSync(expFile, 'utf8')) as Expectation[];
  test('the suite has 66 cases', () => assert.equal(cases.length, 66));
  for (const c of cases) {
    test(`falco k8s audit case ${c.name}`, async () => {
      const r = await replay(fromShared(c.traceFile), c.rulesFiles.map(fromShared), 'first');
      assert.equal(r.code, 0, r.err.join('\n'));
      const counts: Record<string, number> = {};
      for (const l of r.out) {
        const rule = (JSON.parse(l) as { rule: string }).rule;
        counts[rule] = (counts[rule] ?? 0) + 1;
      }
      if (!c.detect) assert.deepEqual(counts, {}, 'no alert expected');
      else assert.deepEqual(counts, c.expect ?? {});
    });
  }
}

const oracleDir = sharedPath('falco', 'oracle-falco-0.44.1');
const traceDir = sharedPath('falco', 'k8s_audit_traces');
if (!existsSync(oracleDir)) {
  test('falco 0.44.1 oracle', (t) => skipOrFail(t, 'shared/falco/oracle-falco-0.44.1 not found'));
} else {
  const traces = readdirSync(traceDir).filter((f) => f.endsWith('.json')).sort();
  test('47 traces', () => assert.equal(traces.length, 47));
  for (const trace of traces) {
    for (const mode of ['first', 'all'] as const) {
      test(`same alerts as Falco 0.44.1: ${trace} (${mode})`, async () => {
        const base = trace.replace(/\.json$/, '');
        const expected = readFileSync(path.join(oracleDir, `${base}.${mode}.jsonl`), 'utf8').split('\n').filter(Boolean);
        const r = await replay(path.join(traceDir, trace), [sharedPath('falco', 'rules', 'k8s_audit_rules.yaml')], mode);
        assert.equal(r.code, 0);
        assert.deepEqual(r.out.map((l) => JSON.parse(l)), expected.map((l) => JSON.parse(l)));
        // Byte for byte too (key order, number formatting).
        assert.deepEqual(r.out, expected);
      });
    }
  }
  test('a record that is not an audit event is reported with file and line, and skipped', async () => {
    const r = await replay(path.join(traceDir, 'fal_01_003.json'), [sharedPath('falco', 'rules', 'k8s_audit_rules.yaml')], 'first');
    assert.equal(r.code, 0);
    assert.match(r.err.join('\n'), /fal_01_003\.json:1: not a k8s audit event/);
  });
}
