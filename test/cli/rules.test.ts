// `vigil rules validate|list|fields`, run for real: the bin script in a child process, from the
// project root, on rules files written to a temporary folder.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../helpers.ts';

interface Run { code: number | null; stdout: string; stderr: string }

function vigil(...args: string[]): Run {
  const r = spawnSync(process.execPath, ['bin/vigil.mjs', ...args], { cwd: projectRoot, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const y = (...lines: string[]): string => lines.join('\n') + '\n';

let dir = '';
const file = (name: string): string => path.join(dir, name);

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-cli-rules-'));
  writeFileSync(file('good.yaml'), y(
    '- list: shells', '  items: [bash, sh]',
    '- rule: Shell in container', '  desc: A shell was spawned.', '  condition: evt.type = execve and proc.name in (shells)',
    '  output: shell %proc.name', '  priority: WARNING', '  tags: [shell, mitre_execution]',
    '- rule: Audit create', '  desc: Something was created.', '  condition: ka.verb = create', '  output: created by %ka.user.name',
    '  priority: debug', '  source: k8s_audit', '  enabled: false',
  ));
  writeFileSync(file('warn.yaml'), y(
    '- macro: unused', '  condition: proc.name = a',
    '- rule: r', '  desc: d', '  condition: evt.type = open', '  output: o', '  priority: INFO', '  bogus: 1',
  ));
  writeFileSync(file('bad.yaml'), y(
    '- rule: Broken', '  desc: d', '  condition: evt.type = open and proc.nme = x', '  output: o', '  priority: INFO',
    '- rule: Also broken', '  desc: d', '  condition: evt.type = open', '  output: o %no.such', '  priority: INFO',
  ));
  writeFileSync(file('macro.yaml'), y('- macro: m', '  condition: evt.type = open'));
  writeFileSync(file('uses-macro.yaml'), y('- rule: r', '  desc: d', '  condition: m and proc.name =', '  output: o', '  priority: INFO'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** `file:line:col: error CODE: message`, then the source line, then a caret under the column. */
const DIAG = /^(?<file>.+?):(?<line>\d+):(?<col>\d+): (?<sev>error|warning) (?<code>LOAD_[A-Z_]+): (?<msg>.+)$/;

function diagnosticsOf(out: string): { file: string; line: number; col: number; sev: string; code: string; msg: string; snippet?: string; caret?: string }[] {
  const lines = out.split('\n');
  const found = [];
  for (let i = 0; i < lines.length; i++) {
    const m = DIAG.exec(lines[i]!);
    if (!m) continue;
    const g = m.groups!;
    found.push({ file: g.file!, line: Number(g.line), col: Number(g.col), sev: g.sev!, code: g.code!, msg: g.msg!, snippet: lines[i + 1], caret: lines[i + 2] });
  }
  return found;
}

// ---- validate -------------------------------------------------------------------------------

test('validate: a good file exits 0 and says ok', () => {
  const r = vigil('rules', 'validate', file('good.yaml'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${file('good.yaml')}: ok (2 rules, 0 warning(s))\n`);
});

test('validate: warnings are printed but the exit code is still 0', () => {
  const r = vigil('rules', 'validate', file('warn.yaml'));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const ds = diagnosticsOf(r.stdout);
  assert.deepEqual(ds.map((d) => [d.sev, d.code, d.line, d.col]), [['warning', 'LOAD_UNKNOWN_KEY', 8, 3], ['warning', 'LOAD_UNUSED_MACRO', 1, 3]]);
  assert.match(r.stdout, /: ok \(1 rules, 2 warning\(s\)\)\n$/);
});

test('validate: a broken file exits 1 with file:line:col: error CODE: message and a caret snippet', () => {
  const r = vigil('rules', 'validate', file('bad.yaml'));
  assert.equal(r.code, 1);
  const ds = diagnosticsOf(r.stdout);
  assert.deepEqual(ds.map((d) => [d.file, d.line, d.col, d.sev, d.code]), [
    [file('bad.yaml'), 3, 34, 'error', 'LOAD_ERR_COMPILE_CONDITION'],
    [file('bad.yaml'), 9, 13, 'error', 'LOAD_ERR_COMPILE_OUTPUT'],
  ]);
  assert.equal(ds[0]!.msg, "filter_check called with nonexistent field proc.nme (rule 'Broken', condition)");
  for (const d of ds) {
    // The snippet is the source line (indented by two), the caret sits under the column.
    assert.equal(d.caret, '  ' + ' '.repeat(d.col - 1) + '^');
    assert.ok(d.snippet?.startsWith('  '), String(d.snippet));
  }
  assert.equal(ds[0]!.snippet, '    condition: evt.type = open and proc.nme = x');
  assert.equal(ds[0]!.snippet!.slice(2)[ds[0]!.col - 1], 'p');
  assert.match(r.stdout, /: invalid \(2 error\(s\), 0 warning\(s\)\)\n$/);
});

test('validate: files load as one set, and an error in the second file names it', () => {
  const r = vigil('rules', 'validate', file('macro.yaml'), file('uses-macro.yaml'));
  assert.equal(r.code, 1);
  const errors = diagnosticsOf(r.stdout).filter((d) => d.sev === 'error');
  assert.deepEqual(errors.map((d) => [d.file, d.line, d.col, d.code]), [[file('uses-macro.yaml'), 3, 30, 'LOAD_ERR_COMPILE_CONDITION']]);
  // Alone, the second file does not know the macro.
  const alone = vigil('rules', 'validate', file('uses-macro.yaml'));
  assert.equal(alone.code, 1);
});

test('validate: a missing file is LOAD_ERR_FILE_READ and exit 1', () => {
  const missing = file('missing.yaml');
  const r = vigil('rules', 'validate', file('good.yaml'), missing);
  assert.equal(r.code, 1);
  assert.ok(r.stdout.startsWith(`${missing}:1:1: error LOAD_ERR_FILE_READ: Could not read rules file: ENOENT\n`), r.stdout);
});

test('validate --json: parses, and has every diagnostic with its location', () => {
  const r = vigil('rules', 'validate', '--json', file('bad.yaml'));
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout) as { ok: boolean; rules: number; diagnostics: Record<string, unknown>[] };
  assert.equal(out.ok, false);
  assert.equal(out.rules, 0);
  assert.deepEqual(out.diagnostics, [
    { severity: 'error', code: 'LOAD_ERR_COMPILE_CONDITION', message: 'filter_check called with nonexistent field proc.nme', file: file('bad.yaml'), line: 3, col: 34, item: { kind: 'rule', name: 'Broken' }, part: 'condition' },
    { severity: 'error', code: 'LOAD_ERR_COMPILE_OUTPUT', message: "invalid output format 'o %no.such': unknown filter 'no.such'", file: file('bad.yaml'), line: 9, col: 13, item: { kind: 'rule', name: 'Also broken' }, part: 'output' },
  ]);
  const good = vigil('rules', 'validate', '--json', file('good.yaml'));
  assert.equal(good.code, 0);
  assert.deepEqual(JSON.parse(good.stdout), { ok: true, rules: 2, diagnostics: [] });
});

test('validate: no file at all is a usage error, exit 2', () => {
  const r = vigil('rules', 'validate');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /missing required argument 'files'/);
});

// ---- list -----------------------------------------------------------------------------------

test('list: name, source, priority, tags and enabled, one rule a line, in load order', () => {
  const r = vigil('rules', 'list', file('good.yaml'));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trimEnd().split('\n').map((l) => l.split(/\s+/).join(' ')), [
    'enabled Warning syscall Shell in container [mitre_execution, shell]',
    'disabled Debug k8s_audit Audit create',
  ]);
});

test('list --json: one object a line', () => {
  const r = vigil('rules', 'list', '--json', file('good.yaml'));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown), [
    { rule: 'Shell in container', source: 'syscall', priority: 'Warning', tags: ['mitre_execution', 'shell'], enabled: true },
    { rule: 'Audit create', source: 'k8s_audit', priority: 'Debug', tags: [], enabled: false },
  ]);
});

test('list: a broken file prints its errors on stderr and exits 1', () => {
  const r = vigil('rules', 'list', file('bad.yaml'));
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.deepEqual(diagnosticsOf(r.stderr).map((d) => d.code), ['LOAD_ERR_COMPILE_CONDITION', 'LOAD_ERR_COMPILE_OUTPUT']);
});

// ---- fields ---------------------------------------------------------------------------------

test('fields --source k8s_audit lists the ka.* fields and only that source', () => {
  const r = vigil('rules', 'fields', '--source', 'k8s_audit');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.ok(lines.every((l) => l.startsWith('k8s_audit ')), 'a line of another source');
  const names = lines.map((l) => l.split(/\s+/)[1]!);
  for (const f of ['ka.verb', 'ka.user.name', 'ka.target.resource', 'ka.target.namespace', 'ka.req.pod.containers.image']) {
    assert.ok(names.some((n) => n === f || n.startsWith(f + '[')), `${f} is not listed`);
  }
  assert.ok(names.filter((n) => n.startsWith('ka.')).length > 50, 'too few ka.* fields');
  assert.ok(!names.some((n) => n.startsWith('proc.')), 'syscall fields listed for k8s_audit');
});

test('fields --json: one object a line, with type and support', () => {
  const r = vigil('rules', 'fields', '--source', 'k8s_audit', '--json');
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { source: string; name: string; type: string; supported: boolean });
  const verb = rows.find((x) => x.name === 'ka.verb');
  assert.deepEqual(verb && { source: verb.source, type: verb.type, supported: verb.supported }, { source: 'k8s_audit', type: 'string', supported: true });
});

test('fields: an unknown source exits 2 and names the known ones', () => {
  const r = vigil('rules', 'fields', '--source', 'nope');
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, "vigil: unknown source 'nope' (known: syscall, k8s_audit)\n");
});

// Writes to a closed pipe used to raise an unhandled EPIPE with a Node stack trace.
test('fields piped into a reader that stops early ends quietly', () => {
  const r = spawnSync('sh', ['-c', `"${process.execPath}" bin/vigil.mjs rules fields | head -n 1`], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.stdout.split('\n').length, 2);
  assert.doesNotMatch(r.stderr, /EPIPE|at .*\(node:/);
});
