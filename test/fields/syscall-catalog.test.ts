import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

import {
  SYSCALL_FIELDS,
  SYSCALL_FIELD_CLASSES,
  SYSCALL_EVENT_NAMES,
  SYSCALL_EVENT_CODES,
  SYSCALL_EVENT_CODE_COUNT,
  SYSCALL_EVENT_CODE_TOTAL,
  OUTPUT_PLACEHOLDERS,
  eventCodesFor,
} from '../../src/fields/syscall/catalog.ts';
import { lookupSyscallField } from '../../src/fields/syscall/lookup.ts';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const sharedFalco = path.resolve(projectRoot, '..', 'shared', 'falco');

/**
 * Fields used by the old rule files that current Falco (0.41+) does not offer as fields:
 * - `container.info` (falco-rules 1.0.1 outputs): an output placeholder, expanded by Falco before
 *   the output is compiled; it has never been a libs field. See OUTPUT_PLACEHOLDERS.
 * Everything else the old files use still exists (evt.dir is deprecated but present).
 */
const PLACEHOLDERS_ONLY_IN_OUTPUTS = new Set(Object.keys(OUTPUT_PLACEHOLDERS));

/** Fields the legacy tests use on purpose to get a "nonexistent field" error. */
const INTENTIONALLY_UNKNOWN = new Set(['proc.nobody', 'not.exist']);

// ---------------------------------------------------------------------------------------------
// Helpers: collect rule files and the field references in them
// ---------------------------------------------------------------------------------------------

function yamlFilesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) out.push(...yamlFilesUnder(p));
    else if (/\.ya?ml$/.test(ent.name)) out.push(p);
  }
  return out.sort();
}

function ruleFiles(): string[] {
  const rules = path.join(sharedFalco, 'rules');
  return [
    path.join(rules, 'falco_rules.yaml'),
    path.join(rules, 'falco-incubating_rules.yaml'),
    path.join(rules, 'falco-sandbox_rules.yaml'),
    ...yamlFilesUnder(path.join(rules, 'legacy')).filter((p) => path.basename(p) === 'falco_rules.yaml'),
    ...yamlFilesUnder(path.join(sharedFalco, 'falco_legacy_tests', 'rules')),
  ].filter((p) => fs.existsSync(p));
}

type Item = Record<string, unknown>;

/** All top-level items of a rules file; files that are not valid YAML (on purpose) yield none. */
function itemsOf(file: string): Item[] {
  let docs: unknown[];
  try {
    docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => {
      if (d.errors.length > 0) throw d.errors[0];
      return d.toJS();
    });
  } catch {
    return [];
  }
  const out: Item[] = [];
  for (const d of docs) {
    if (!Array.isArray(d)) continue;
    for (const it of d) if (it && typeof it === 'object' && !Array.isArray(it)) out.push(it as Item);
  }
  return out;
}

function isSyscallItem(it: Item): boolean {
  return it.source === undefined || it.source === 'syscall';
}

interface Ref { name: string; arg?: string; where: string; inOutput: boolean }

/** Drop quoted strings: what is inside quotes is a value, never a field. */
function stripQuoted(s: string): string {
  return s.replace(/"(?:\\.|[^"\\])*"/g, '""').replace(/'(?:\\.|[^'\\])*'/g, "''");
}

function unquote(arg: string): string {
  const a = arg.trim();
  if ((a.startsWith('"') && a.endsWith('"')) || (a.startsWith("'") && a.endsWith("'"))) return a.slice(1, -1);
  return a;
}

const CLASSES = new Set(SYSCALL_FIELD_CLASSES);
CLASSES.add('span').add('evtin').add('syslog').add('mesos'); // removed classes: still checked

// identifier segments joined by dots (at least one dot), optional [arg]; not glued to a path/word
const FIELD_RE = /(?<![\w./\-%])([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+)(\[[^\]]*\])?(?![\w/\-.])/g;
const OUTPUT_FIELD_RE = /%\*?([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+)(\[[^\]]*\])?/g;

function refsIn(text: string, where: string, inOutput: boolean): Ref[] {
  const out: Ref[] = [];
  const re = inOutput ? OUTPUT_FIELD_RE : FIELD_RE;
  const src = inOutput ? text : stripQuoted(text);
  for (const m of src.matchAll(re)) {
    const name = m[1]!;
    if (!CLASSES.has(name.split('.')[0]!) && !INTENTIONALLY_UNKNOWN.has(name)) continue;
    const ref: Ref = { name, where, inOutput };
    if (m[2] !== undefined) ref.arg = unquote(m[2].slice(1, -1));
    out.push(ref);
  }
  return out;
}

function collectRefs(): Ref[] {
  const refs: Ref[] = [];
  for (const file of ruleFiles()) {
    const rel = path.relative(sharedFalco, file);
    for (const it of itemsOf(file)) {
      if (!isSyscallItem(it)) continue;
      const label = `${rel} (${String(it.rule ?? it.macro ?? it.list ?? '?')})`;
      if (typeof it.condition === 'string') refs.push(...refsIn(it.condition, label, false));
      if (typeof it.output === 'string') refs.push(...refsIn(it.output, label, true));
      if (Array.isArray(it.exceptions)) {
        for (const ex of it.exceptions) {
          const fields = (ex as Item | null)?.fields;
          const list = Array.isArray(fields) ? fields : typeof fields === 'string' ? [fields] : [];
          for (const fl of list) {
            if (typeof fl !== 'string') continue;
            const m = /^([^[\]]+)(?:\[(.*)\])?$/.exec(fl.trim());
            if (!m) continue;
            const ref: Ref = { name: m[1]!, where: `${label} exception`, inOutput: false };
            if (m[2] !== undefined) ref.arg = unquote(m[2]);
            refs.push(ref);
          }
        }
      }
    }
  }
  return refs;
}

const haveShared = fs.existsSync(path.join(sharedFalco, 'rules', 'falco_rules.yaml'));
const skipShared = haveShared ? false : `shared rule files not found under ${sharedFalco}`;

// ---------------------------------------------------------------------------------------------
// Catalogue sanity
// ---------------------------------------------------------------------------------------------

test('catalogue: unique names, descriptions, consistent argument flags', () => {
  const seen = new Set<string>();
  for (const fi of SYSCALL_FIELDS) {
    assert.ok(!seen.has(fi.name), `duplicate field ${fi.name}`);
    seen.add(fi.name);
    assert.match(fi.name, /^[a-z0-9_]+(\.[a-z0-9_]+)+$/, fi.name);
    assert.ok(fi.description.length > 5, `${fi.name} needs a description`);
    if (fi.argKind || fi.dotArg) assert.notEqual(fi.arg ?? 'none', 'none', `${fi.name}: argKind/dotArg without arg`);
    if (fi.anyWithoutArg) assert.equal(fi.arg, 'optional', `${fi.name}: anyWithoutArg needs an optional arg`);
  }
  assert.ok(SYSCALL_FIELDS.length > 250, `only ${SYSCALL_FIELDS.length} fields`);
  for (const cls of ['evt', 'proc', 'thread', 'user', 'group', 'fd', 'fdlist', 'fs', 'syscall', 'container', 'k8s']) {
    assert.ok(SYSCALL_FIELD_CLASSES.includes(cls), `missing class ${cls}`);
  }
  // facts spot-checked against libs
  const by = new Map(SYSCALL_FIELDS.map((x) => [x.name, x]));
  assert.equal(by.get('evt.rawres')?.type, 'int64');
  assert.equal(by.get('fd.cip')?.type, 'ipaddr');
  assert.equal(by.get('fd.snet')?.type, 'ipnet');
  assert.equal(by.get('fd.sport')?.type, 'port');
  assert.equal(by.get('proc.tty')?.type, 'uint32');
  assert.equal(by.get('evt.buffer')?.type, 'bytebuf');
  assert.equal(by.get('fd.types')?.isList, true);
  for (const n of ['evt.dir', 'evt.latency', 'evt.latency.s', 'evt.latency.ns', 'evt.latency.human', 'evt.wait_latency']) {
    assert.equal(by.get(n)?.deprecated, true, `${n} should be deprecated`);
  }
  for (const n of ['proc.aname', 'proc.apid', 'proc.aexe', 'proc.aexepath', 'proc.acmdline', 'proc.aenv']) {
    assert.equal(by.get(n)?.anyWithoutArg, true, n);
    assert.equal(by.get(n)?.noRhs, true, n);
  }
  for (const n of ['fd.ip', 'fd.net', 'fd.cnet', 'evt.rawarg', 'evt.around', 'fd.cip.name', 'fd.rip.name']) {
    assert.equal(by.get(n)?.noRhs, true, n);
  }
});

// ---------------------------------------------------------------------------------------------
// Every field the upstream rule files use resolves
// ---------------------------------------------------------------------------------------------

test('every field referenced by the upstream and legacy rule files resolves', { skip: skipShared }, () => {
  const refs = collectRefs();
  assert.ok(refs.length > 1000, `only ${refs.length} field references found; extraction broken?`);
  const failures: string[] = [];
  const distinct = new Set<string>();
  for (const r of refs) {
    if (INTENTIONALLY_UNKNOWN.has(r.name)) continue;
    distinct.add(r.name + (r.arg !== undefined ? '[]' : ''));
    if (PLACEHOLDERS_ONLY_IN_OUTPUTS.has(r.name)) {
      if (!r.inOutput) failures.push(`${r.name} used outside an output in ${r.where}`);
      continue;
    }
    const res = lookupSyscallField(r.name, r.arg);
    if ('error' in res) failures.push(`${r.name}${r.arg !== undefined ? `[${r.arg}]` : ''} in ${r.where}: ${res.error}`);
  }
  assert.deepEqual(failures, []);
  assert.ok(distinct.size > 80, `only ${distinct.size} distinct fields seen`);
  // the extraction does see the fields the legacy tests use to provoke errors
  for (const n of INTENTIONALLY_UNKNOWN) assert.ok(refs.some((r) => r.name === n), `${n} not seen`);
  if (process.env.VIGIL_DEBUG_FIELDS) console.log([...distinct].sort().join('\n'));
});

test('fields the legacy tests use to provoke errors stay unknown', () => {
  for (const n of INTENTIONALLY_UNKNOWN) {
    const res = lookupSyscallField(n, undefined);
    assert.ok('error' in res);
    assert.match(res.error, new RegExp(`nonexistent field ${n.replace('.', '\\.')}`));
  }
});

test('evt.type values used by the rule files are known event names', { skip: skipShared }, () => {
  const files = ruleFiles();
  const lists = new Map<string, string[]>();
  for (const f of files) {
    for (const it of itemsOf(f)) {
      if (typeof it.list === 'string' && Array.isArray(it.items)) {
        const prev = it.append === true ? lists.get(it.list) ?? [] : [];
        lists.set(it.list, [...prev, ...it.items.map(String)]);
      }
    }
  }
  const known = new Set(SYSCALL_EVENT_NAMES);
  // (a list that refers to itself, as in invalid_list_loop.yaml, expands to nothing)
  const expand = (tok: string, depth = 0): string[] =>
    !lists.has(tok) ? [tok] : depth < 10 ? lists.get(tok)!.flatMap((t) => expand(t, depth + 1)) : [];
  const bad: string[] = [];
  let checked = 0;
  for (const f of files) {
    for (const it of itemsOf(f)) {
      if (!isSyscallItem(it) || typeof it.condition !== 'string') continue;
      const cond = stripQuoted(it.condition);
      for (const m of cond.matchAll(/\bevt\.type\s*(?:=|!=|\bin\b)\s*(\([^)]*\)|[A-Za-z0-9_]+)/g)) {
        const raw = m[1]!.startsWith('(') ? m[1]!.slice(1, -1).split(',') : [m[1]!];
        for (const tok of raw.map((t) => t.trim()).filter(Boolean).flatMap((t) => expand(t))) {
          checked++;
          if (!known.has(tok.replace(/^["']|["']$/g, ''))) bad.push(`${tok} in ${path.relative(sharedFalco, f)}`);
        }
      }
    }
  }
  assert.ok(checked > 50, `only ${checked} evt.type values checked`);
  assert.deepEqual([...new Set(bad)], []);
});

// ---------------------------------------------------------------------------------------------
// Event names and codes
// ---------------------------------------------------------------------------------------------

test('event names and code counts', () => {
  const names = new Set(SYSCALL_EVENT_NAMES);
  for (const n of ['execve', 'execveat', 'open', 'openat', 'openat2', 'connect', 'accept', 'accept4', 'procexit',
    'switch', 'signaldeliver', 'container', 'ptrace', 'mmap', 'setuid', 'unlinkat', 'renameat2', 'memfd_create',
    'init_module', 'finit_module', 'bpf', 'kill', 'mount', 'umount2', 'symlinkat', 'chmod', 'fchmodat',
    'sendto', 'recvfrom', 'dup2', 'userfaultfd', 'prctl', 'capset', 'pidfd_open', 'io_uring_setup',
    // syscalls without a dedicated event (generic)
    'socketcall', 'reboot', 'getpid', 'sched_yield', 'statx']) {
    assert.ok(names.has(n), `missing event name ${n}`);
  }
  assert.ok(!names.has('nosuchsyscall'));
  assert.equal(SYSCALL_EVENT_CODE_TOTAL, 426);
  assert.equal(SYSCALL_EVENT_CODE_COUNT['open'], 2);
  assert.equal(SYSCALL_EVENT_CODE_COUNT['execve'], 16);
  assert.equal(SYSCALL_EVENT_CODE_COUNT['accept'], 8);
  assert.equal(SYSCALL_EVENT_CODE_COUNT['accept4'], 2);
  assert.equal(SYSCALL_EVENT_CODE_COUNT['procexit'], 2);
  assert.equal(SYSCALL_EVENT_CODE_COUNT['container'], 3);
  assert.deepEqual(SYSCALL_EVENT_CODES['reboot'], [0, 1]);
  assert.equal(eventCodesFor(['reboot', 'getpid', 'statx']).size, 2);
  assert.equal(eventCodesFor(['open', 'openat', 'openat2']).size, 2 + 4 + 2);
  assert.equal(eventCodesFor(['nosuchsyscall']).size, 0);
  // every code is reachable from some name except the generic pair's own name
  const all = eventCodesFor(SYSCALL_EVENT_NAMES);
  assert.equal(all.size, SYSCALL_EVENT_CODE_TOTAL);
});

// ---------------------------------------------------------------------------------------------
// lookupSyscallField
// ---------------------------------------------------------------------------------------------

function ok(name: string, arg?: string) {
  const r = lookupSyscallField(name, arg);
  if ('error' in r) assert.fail(`${name}${arg !== undefined ? `[${arg}]` : ''}: ${r.error}`);
  return r;
}
function err(name: string, arg?: string): string {
  const r = lookupSyscallField(name, arg);
  assert.ok('error' in r, `${name}${arg !== undefined ? `[${arg}]` : ''} should fail`);
  return r.error;
}

test('lookup: exact names and dotted arguments', () => {
  assert.equal(ok('proc.name').info.name, 'proc.name');
  assert.equal(ok('proc.name').arg, undefined);
  const a = ok('evt.arg.flags');
  assert.equal(a.info.name, 'evt.arg');
  assert.equal(a.arg, 'flags');
  assert.equal(ok('evt.args').info.name, 'evt.args');
  assert.equal(ok('evt.rawarg.fd').info.name, 'evt.rawarg');
  assert.equal(ok('evt.type.is.open').arg, 'open');
  assert.equal(ok('thread.cgroup.cpuacct').info.name, 'thread.cgroup');
  assert.equal(ok('k8s.pod.label.app').arg, 'app');
  assert.equal(ok('k8s.pod.labels').info.name, 'k8s.pod.labels');
  assert.equal(ok('container.label.maintainer').info.name, 'container.label');
  assert.equal(ok('evt.abspath.dst').info.name, 'evt.abspath.dst');
  assert.equal(ok('container.mount.dest', '/var/run/docker.sock').info.name, 'container.mount.dest');
});

test('lookup: bracket arguments', () => {
  assert.equal(ok('proc.aname', '2').arg, '2');
  assert.equal(ok('proc.aname').info.anyWithoutArg, true);
  assert.equal(ok('proc.env', 'HOME').arg, 'HOME');
  assert.equal(ok('evt.arg', '0').arg, '0');
  assert.equal(ok('fd.types', '1').arg, '1');
  assert.equal(ok('proc.args', '0').arg, '0');
  assert.equal(ok('container.mount', '0').arg, '0');
  assert.equal(ok('container.mount', '/usr/local/*').arg, '/usr/local/*');
  assert.equal(ok('proc.aenv', 'PATH').arg, 'PATH');
});

test('lookup: errors', () => {
  assert.match(err('proc.nobody'), /nonexistent field proc\.nobody/);
  assert.match(err('proc.namex'), /nonexistent field/);
  assert.match(err('proc.name.foo'), /nonexistent field/);
  assert.match(err('evt.arg'), /without argument/);
  assert.match(err('evt.rawarg'), /without argument/);
  assert.match(err('container.mount.dest'), /without argument/);
  assert.match(err('proc.name', 'x'), /does not take an argument/);
  assert.match(err('proc.aname', 'bash'), /numeric index/);
  assert.match(err('evt.around', 'abc'), /numeric index/);
  assert.match(err('evt.arg', 'flags'), /numeric index/);
  assert.match(err('thread.cgroup', 'cpuacct'), /after a dot/);
  assert.match(err('evt.rawarg', 'fd'), /after a dot/);
  assert.match(err('evt.arg.flags', '0'), /both/);
  assert.match(err('proc.aname', ''), /numeric index/);
});
