/**
 * `npm run conformance`: every case of the Falco language conformance file, with a line per
 * failure and, as the last line, `{"passed":P,"failed":F,"total":T}`.
 * Usage: npm run conformance [-- path/to/falco-conformance-cases.json] [--verbose]
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultTables } from '../src/engine/tables.ts';
import { type ConformanceCase, runCase } from '../src/rules/conformance.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const verbose = args.includes('--verbose');
const file = args.find((a) => !a.startsWith('--')) ?? path.join(root, '..', 'shared', 'spec', 'falco-conformance-cases.json');
if (!existsSync(file)) {
  console.error(`conformance: cases file not found: ${file}`);
  process.exit(2);
}
const cases = JSON.parse(readFileSync(file, 'utf8')) as ConformanceCase[];
const tables = defaultTables();
let passed = 0;
let failed = 0;
for (const c of cases) {
  const r = runCase(c, tables);
  if (r.ok) passed++;
  else {
    failed++;
    console.log(`FAIL ${c.id}: ${r.detail}`);
  }
  if (verbose && r.ok) console.log(`ok   ${c.id}: ${r.detail}`);
}
console.log(JSON.stringify({ passed, failed, total: cases.length }));
