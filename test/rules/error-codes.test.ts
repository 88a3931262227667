// One catalogue of diagnostic codes, documented: docs/errors.md and src/rules/diagnostics.ts
// must name the same codes, with the same severities, and the docs must say which codes no code
// path emits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ERROR_CODES, WARNING_CODES } from '../../src/rules/diagnostics.ts';
import { projectRoot } from '../helpers.ts';

const doc = readFileSync(path.join(projectRoot, 'docs', 'errors.md'), 'utf8');
const CODE = 'LOAD_[A-Z_]+';

/** Codes that head a section (`### LOAD_X`) of docs/errors.md, with the section text. */
function sections(): Map<string, string> {
  const out = new Map<string, string>();
  const re = new RegExp(`^#{2,4}\\s+\`?(${CODE})\`?\\s*$`, 'gm');
  const heads = [...doc.matchAll(re)];
  heads.forEach((m, i) => out.set(m[1]!, doc.slice(m.index! + m[0].length, heads[i + 1]?.index ?? doc.length)));
  return out;
}

/** Rows of the summary table: code → severity. */
function tableRows(): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of doc.matchAll(new RegExp(`^\\|\\s*\`?(${CODE})\`?\\s*\\|\\s*(\\w+)\\s*\\|`, 'gm'))) out.set(m[1]!, m[2]!);
  return out;
}

const all = [...ERROR_CODES, ...WARNING_CODES] as string[];

test('every code in diagnostics.ts has a section and a table row in docs/errors.md', () => {
  const s = sections();
  const t = tableRows();
  assert.deepEqual(all.filter((c) => !s.has(c)), [], 'codes without a section');
  assert.deepEqual(all.filter((c) => !t.has(c)), [], 'codes without a table row');
});

test('every code documented in docs/errors.md exists in diagnostics.ts', () => {
  const known = new Set(all);
  assert.deepEqual([...sections().keys()].filter((c) => !known.has(c)), [], 'sections for unknown codes');
  assert.deepEqual([...tableRows().keys()].filter((c) => !known.has(c)), [], 'table rows for unknown codes');
});

test('each code is documented once, with its severity, under the right heading', () => {
  const t = tableRows();
  for (const c of ERROR_CODES) assert.equal(t.get(c), 'error', c);
  for (const c of WARNING_CODES) assert.equal(t.get(c), 'warning', c);
  const heads = [...doc.matchAll(new RegExp(`^#{2,4}\\s+\`?(${CODE})\`?\\s*$`, 'gm'))].map((m) => m[1]!);
  assert.equal(new Set(heads).size, heads.length, 'a code has two sections');
  // Errors are documented under "## Errors", warnings under "## Warnings".
  const errorsAt = doc.indexOf('\n## Errors');
  const warningsAt = doc.indexOf('\n## Warnings');
  assert.ok(errorsAt > 0 && warningsAt > errorsAt, 'docs/errors.md needs "## Errors" then "## Warnings"');
  for (const c of ERROR_CODES) {
    const at = doc.indexOf(`### ${c}\n`);
    assert.ok(at > errorsAt && at < warningsAt, `${c} is not under "## Errors"`);
  }
  for (const c of WARNING_CODES) assert.ok(doc.indexOf(`### ${c}\n`) > warningsAt, `${c} is not under "## Warnings"`);
});

test('each section says what triggers the code and gives an example', () => {
  for (const [code, text] of sections()) {
    assert.ok(text.trim().split(/\s+/).length >= 12, `${code}: the section is too short to say what triggers it`);
    assert.match(text, /^Example: /m, `${code}: no example`);
    const example = /^Example: (.*)$/m.exec(text)![1]!;
    if (!/not emitted/.test(example)) assert.ok(example.includes(code), `${code}: the example does not show the code`);
  }
});

/** Every `'LOAD_...'` literal in src/, i.e. the codes some code path can emit. */
function emittedCodes(): Set<string> {
  const found = new Set<string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith(path.join('rules', 'diagnostics.ts'))) {
        for (const m of readFileSync(p, 'utf8').matchAll(new RegExp(`'(${CODE})'`, 'g'))) found.add(m[1]!);
      }
    }
  };
  walk(path.join(projectRoot, 'src'));
  return found;
}

test('codes that nothing emits are documented as such, and emitted codes are not', () => {
  const emitted = emittedCodes();
  const known = new Set(all);
  assert.deepEqual([...emitted].filter((c) => !known.has(c)), [], 'src/ uses codes missing from diagnostics.ts');
  for (const [code, text] of sections()) {
    const saysNotEmitted = /not emitted/i.test(text);
    assert.equal(saysNotEmitted, !emitted.has(code), emitted.has(code)
      ? `${code} is emitted by src/ but docs/errors.md says it is not`
      : `${code} is never emitted by src/: say so in docs/errors.md`);
  }
});
