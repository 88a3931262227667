// Every case of the shared Falco conformance file, one test each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { defaultTables } from '../../src/engine/tables.ts';
import { type ConformanceCase, runCase } from '../../src/rules/conformance.ts';
import { sharedPath, skipOrFail } from '../helpers.ts';

const file = sharedPath('spec', 'falco-conformance-cases.json');
/** Cases we believe are wrong; each is argued in docs/conformance.md. */
const DISPUTED = new Set(['eval.glob.7']);

if (!existsSync(file)) {
  test('conformance cases', (t) => skipOrFail(t, 'shared/spec/falco-conformance-cases.json not found'));
} else {
  const cases = JSON.parse(readFileSync(file, 'utf8')) as ConformanceCase[];
  const tables = defaultTables();
  for (const c of cases) {
    test(`${c.id}`, () => {
      const r = runCase(c, tables);
      if (DISPUTED.has(c.id)) assert.equal(r.ok, false, 'a disputed case now passes: update docs/conformance.md');
      else assert.ok(r.ok, r.detail);
    });
  }
}
