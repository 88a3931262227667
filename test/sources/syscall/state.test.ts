/**
 * The sensor's state machine on hand-made records: processes (fork, exec, exit), descriptors
 * (open, socket, connect, accept, dup, close, close-on-exec), paths, containers, and records
 * that arrive out of order (another CPU's buffer read late).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXE_FROM_MEMFD, EXE_LOWER_LAYER, EXE_UPPER_LAYER, EXE_WRITABLE } from '../../../src/events/syscall.ts';
import { normalizePath, ttyNr } from '../../../src/sources/syscall/state.ts';
import { PATH_SLOT } from '../../../src/sources/syscall/script.ts';
import { accept, close, connect, dgram, dup, exec, exit, fork, newState, open, rec, socket, SC } from './records.ts';

const ID = '3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e';
const O_WRONLY = 1;
const O_CREAT = 0o100;
const O_CLOEXEC = 0o2000000;
const O_DIRECTORY = 0o200000;

test('state: fork, exec and exit make and drop processes, with their parents', () => {
  const s = newState();
  const sh = { pid: 100, ppid: 1 };
  s.apply(exec(sh, ['/bin/sh', '-c', 'cat /etc/shadow'], { filename: '/opt/vt/sh' }));
  const forked = s.apply(fork(sh, 101, 'vfork'));
  assert.equal(forked[0]!.live!.type, 'vfork');
  assert.equal(forked[0]!.live!.res, 101);
  const cat = { pid: 101, ppid: 100 };
  const [ex] = s.apply(exec(cat, ['cat', '/etc/shadow'], { filename: '/opt/vt/cat' }));
  const p = ex!.live!.proc;
  assert.equal(ex!.live!.type, 'execve');
  assert.equal(p.comm, 'cat');
  assert.equal(p.exe, 'cat');
  assert.deepEqual(p.args, ['/etc/shadow']);
  assert.equal(p.exepath, '/opt/vt/cat');
  assert.equal(p.parent?.comm, 'sh');
  assert.equal(p.parent?.args.join(' '), '-c cat /etc/shadow');
  assert.equal(p.container.id, 'host');
  const [o] = s.apply(open(cat, 3, '/etc/shadow'));
  assert.equal(o!.live!.fd?.name, '/etc/shadow');
  assert.equal(o!.live!.fd?.type, 'file');
  assert.equal(o!.live!.proc, p, 'the event points at the snapshot of the process');
  const [gone] = s.apply(exit(cat));
  assert.equal(gone!.live!.type, 'procexit');
  assert.equal(s.state.procs.has(101), false);
});

test('state: comm is the file name executed, cut to 15 characters; argv[0] is proc.exe', () => {
  const s = newState();
  const [ev] = s.apply(exec({ pid: 7, ppid: 1 }, ['whatever-argv0', 'x'], { filename: '/opt/a-very-long-program-name' }));
  assert.equal(ev!.live!.proc.comm, 'a-very-long-pro');
  assert.equal(ev!.live!.proc.exe, 'whatever-argv0');
});

test('state: exec from a memfd', () => {
  const s = newState();
  const [ev] = s.apply(exec({ pid: 9, ppid: 1 }, ['x'], { filename: '/proc/self/fd/3', exeName: 'memfd:payload', nlink: 0 }));
  const p = ev!.live!.proc;
  assert.ok(p.exeFlags & EXE_FROM_MEMFD);
  assert.equal(p.exepath, 'memfd:payload');
  assert.equal(p.comm, '3');
});

test('state: containers from the cgroup leaf names read at exec; fork inherits', () => {
  const s = newState();
  const a = { pid: 20, ppid: 1 };
  const [ev] = s.apply(exec(a, ['bash'], { filename: '/opt/vt/bash', cgroups: ['', ID, ''] }));
  assert.equal(ev!.live!.proc.container.id, ID.slice(0, 12));
  s.apply(fork(a, 21));
  const [o] = s.apply(open({ pid: 21, ppid: 20 }, 3, '/tmp/x'));
  assert.equal(o!.live!.proc.container.id, ID.slice(0, 12));
});

test('state: terminal, session and credentials from the exec record; setuid makes a new snapshot', () => {
  const s = newState();
  const p = { pid: 30, ppid: 1 };
  const [ev] = s.apply(exec(p, ['bash'], { filename: '/opt/vt/bash', tty: 0, uid: 0 }));
  assert.equal(ev!.live!.proc.tty, ttyNr(136 * 2 ** 20));
  assert.equal(ttyNr(136 * 2 ** 20), 34816, 'pts/0 as /proc/<pid>/stat prints it');
  assert.equal(ev!.live!.proc.userName, 'root');
  const [u] = s.apply(rec('u', p, [SC.setuid!, 0, 65534, 0, 0, 65534, 65534]));
  assert.equal(u!.live!.type, 'setuid');
  assert.equal(u!.live!.proc.uid, 65534);
  assert.equal(ev!.live!.proc.uid, 0, 'the earlier event keeps its snapshot');
});

test('state: descriptors: cloexec ones close at exec, dup copies, close removes', () => {
  const s = newState();
  const p = { pid: 40, ppid: 1 };
  s.apply(exec(p, ['app'], { filename: '/opt/vt/app' }));
  s.apply(open(p, 3, '/var/log/app.log', O_WRONLY | O_CREAT));
  s.apply(open(p, 4, '/etc/secret', O_CLOEXEC));
  const [d] = s.apply(dup(p, 'dup2', 1, 3, 1));
  assert.equal(d!.live!.fd?.name, '/var/log/app.log', 'the event is about the old fd');
  const e = s.state.procs.get(40)!;
  assert.equal(e.fds.get(1)?.name, '/var/log/app.log');
  s.apply(close(p, 3));
  assert.equal(e.fds.has(3), false);
  s.apply(exec(p, ['app2'], { filename: '/opt/vt/app2' }));
  const after = s.state.procs.get(40)!;
  assert.equal(after.fds.has(4), false, 'O_CLOEXEC closed by exec');
  assert.equal(after.fds.get(1)?.name, '/var/log/app.log');
});

test('state: paths made absolute from the cwd and from directory fds, and normalised', () => {
  const s = newState();
  const p = { pid: 50, ppid: 1 };
  s.apply(exec(p, ['tool'], { filename: '/opt/vt/tool' }));
  s.apply(rec('D', p, [SC.chdir!, 0, -1], '/etc/ssh/../'));
  const [a] = s.apply(open(p, 3, 'shadow'));
  assert.equal(a!.live!.fd?.name, '/etc/shadow');
  assert.equal(a!.live!.fd?.nameRaw, 'shadow');
  s.apply(open(p, 5, '/root', O_DIRECTORY));
  const [b] = s.apply(open(p, 6, '.ssh/id_rsa', 0, { dirfd: 5 }));
  assert.equal(b!.live!.fd?.name, '/root/.ssh/id_rsa');
  const [c] = s.apply(open(p, -2, '/etc/../etc/../etc/shadow'));
  assert.equal(c!.live!.fd?.name, '/etc/shadow');
  assert.equal(c!.live!.fd?.num, -1, 'a failed open has fd -1');
  assert.equal(c!.live!.res, -2);
  const [r] = s.apply([rec('P', p, [1], 'old'), rec('R', p, [SC.renameat2!, 0, -100, 5, 0], 'new')]);
  assert.deepEqual(r!.live!.paths, { source: '/etc/old', sourceRaw: 'old', target: '/root/new', targetRaw: 'new' });
  assert.equal(normalizePath('/a//b/./c/../d/'), '/a/b/d');
});

test('state: sockets: connect and accept tuples, dup onto stdin', () => {
  const s = newState();
  const p = { pid: 60, ppid: 1 };
  s.apply(exec(p, ['bash'], { filename: '/opt/vt/bash' }));
  s.apply(socket(p, 3));
  const [c] = s.apply(connect(p, 0, 3, '10.0.0.5', 4444, '10.0.0.9', 51000));
  const fd = c!.live!.fd!;
  assert.equal(fd.type, 'ipv4');
  assert.equal(fd.name, '10.0.0.9:51000->10.0.0.5:4444');
  assert.deepEqual([fd.cip, fd.cport, fd.sip, fd.sport, fd.l4proto, fd.isServer], ['10.0.0.9', 51000, '10.0.0.5', 4444, 'tcp', false]);
  const [d] = s.apply(dup(p, 'dup2', 0, 3, 0));
  assert.equal(d!.live!.res, 0);
  assert.equal(d!.live!.fd?.type, 'ipv4');
  const srv = { pid: 61, ppid: 1 };
  s.apply(exec(srv, ['nginx'], { filename: '/opt/vt/nginx' }));
  const [a] = s.apply(accept(srv, 7, 6, '10.0.0.1', 80, '192.168.1.9', 40000));
  assert.equal(a!.live!.fd?.name, '192.168.1.9:40000->10.0.0.1:80');
  assert.equal(a!.live!.fd?.isServer, true);
});

test('state: a child\'s records before its fork record start it as a copy of the parent', () => {
  const s = newState();
  const parent = { pid: 70, ppid: 1 };
  s.apply(exec(parent, ['bash'], { filename: '/opt/vt/bash' }));
  s.apply(open(parent, 3, '/tmp/log', O_WRONLY));
  const child = { pid: 71, ppid: 70 };
  const [early] = s.apply(dup(child, 'dup2', 1, 3, 1));
  assert.equal(early!.live!.proc.partial, undefined);
  assert.equal(early!.live!.proc.comm, 'bash');
  assert.equal(early!.live!.fd?.name, '/tmp/log', 'the parent\'s descriptors came along');
  s.apply(fork(parent, 71));
  assert.equal(s.state.counters.earlyChildren, 1);
  assert.equal(s.state.procs.get(71)?.snap.ppid, 70);
});

test('state: records of a new image wait for their exec record', () => {
  const s = newState();
  const p = { pid: 80, ppid: 1, xid: 1 };
  s.apply(exec(p, ['sh'], { filename: '/opt/vt/sh' }));
  // The exec into cat happened (xid 2), its open was read first.
  const cat = { pid: 80, ppid: 1, xid: 2 };
  assert.deepEqual(s.apply(open(cat, 3, '/etc/shadow')), []);
  const out = s.apply(exec(cat, ['cat', '/etc/shadow'], { filename: '/opt/vt/cat' }));
  assert.deepEqual(out.map((e) => `${e.live!.type}:${e.live!.proc.comm}`), ['execve:cat', 'openat:cat']);
  // A late record of the old image uses the old snapshot.
  const [late] = s.apply(open({ pid: 80, ppid: 1, xid: 1 }, 4, '/etc/profile'));
  assert.equal(late!.live!.proc.comm, 'sh');
});

test('state: records of an exited process that arrive late still find it', () => {
  const s = newState();
  const p = { pid: 90, ppid: 1 };
  s.apply(exec(p, ['cat'], { filename: '/opt/vt/cat' }));
  s.apply(exit(p));
  const [late] = s.apply(open(p, 3, '/etc/shadow'));
  assert.equal(late!.live!.proc.comm, 'cat');
  assert.equal(s.state.counters.lateAfterExit, 1);
});

test('state: a process the sensor never saw and /proc does not know is partial', () => {
  const s = newState();
  const [ev] = s.apply(open({ pid: 999, ppid: 998 }, 3, '/etc/passwd'));
  assert.equal(ev!.live!.proc.partial, true);
  assert.equal(s.state.counters.partialProcs, 1);
});

test('state: failed execs are execve events of the caller with the error', () => {
  const s = newState();
  const p = { pid: 110, ppid: 1 };
  s.apply(exec(p, ['sh'], { filename: '/opt/vt/sh' }));
  const [ev] = s.apply(rec('e', p, [-2, SC.execve!], '/usr/local/bin/nope'));
  assert.equal(ev!.live!.type, 'execve');
  assert.equal(ev!.live!.res, -2);
  assert.equal(ev!.live!.proc.comm, 'sh');
});

test('state: the environment and the executable\'s inode come with the exec record', () => {
  const s = newState();
  const sh = { pid: 700, ppid: 1 };
  const env = ['PATH=/usr/bin:/bin', 'HTTP_PROXY=http://proxy:3128', 'LONG=' + 'x'.repeat(450)];
  const exeFile = { ino: 4242, ctimeNs: 1_700_000_000_123_456_789n, mtimeNs: 1_600_000_000_000_000_000n, layer: EXE_UPPER_LAYER, mode: 0o100755, uid: 0, gid: 0 };
  const [ex] = s.apply(exec(sh, ['sh'], { filename: '/opt/vt/sh', env, exeFile }));
  const p = ex!.live!.proc;
  assert.deepEqual(p.env, env, 'environment chunks joined (3 chunks of 200 bytes)');
  assert.equal(p.exeIno, 4242);
  assert.equal(p.exeCtimeNs, 1_700_000_000_123_456_789n);
  assert.equal(p.exeMtimeNs, 1_600_000_000_000_000_000n);
  assert.equal(p.exeFlags & EXE_UPPER_LAYER, EXE_UPPER_LAYER);
  assert.equal(p.exeFlags & EXE_WRITABLE, EXE_WRITABLE, 'root with CAP_DAC_OVERRIDE may write it');
  const [child] = s.apply([fork(sh, 701)]);
  assert.equal(child!.live!.proc.env, p.env, 'fork: the parent\'s environment');
  const [ex2] = s.apply(exec({ pid: 701, ppid: 700 }, ['true'], {
    filename: '/opt/vt/true', env: ['A=1'], uid: 1000, caps: 0n,
    exeFile: { ...exeFile, layer: EXE_LOWER_LAYER, mode: 0o100755, uid: 0 },
  }));
  const q = ex2!.live!.proc;
  assert.deepEqual(q.env, ['A=1']);
  assert.equal(q.parent?.env, p.env);
  assert.equal(q.exeFlags & (EXE_LOWER_LAYER | EXE_UPPER_LAYER | EXE_WRITABLE), EXE_LOWER_LAYER, 'lower layer, not writable by uid 1000');
});

test('state: long open paths are joined from their continuations', () => {
  const s = newState();
  const p = { pid: 710, ppid: 1 };
  s.apply(exec(p, ['cat'], { filename: '/opt/vt/cat' }));
  const long = '/tmp/' + 'd'.repeat(300) + '/' + 'f'.repeat(200);
  const parts = [long.slice(0, 199), long.slice(199, 398), long.slice(398)];
  const [o] = s.apply([rec('P', p, [PATH_SLOT + 1], parts[1]!), rec('P', p, [PATH_SLOT + 2], parts[2]!), open(p, 3, parts[0]!)]);
  assert.equal(o!.live!.fd?.name, long);
  const [o2] = s.apply(open(p, 4, '/etc/hostname'));
  assert.equal(o2!.live!.fd?.name, '/etc/hostname', 'continuations are used once');
});

test('state: datagrams to a new peer rename an unconnected UDP socket (fd.name_changed)', () => {
  const s = newState();
  const p = { pid: 720, ppid: 1 };
  s.apply([...exec(p, ['dig'], { filename: '/opt/vt/dig' }), socket(p, 3, 2, 2, 0)]);
  const [a] = s.apply(dgram(p, 'sendto', 1, 3, '8.8.8.8', 53, 40000));
  assert.equal(a!.live!.type, 'sendto');
  assert.equal(a!.live!.fd?.name, '0.0.0.0:40000->8.8.8.8:53');
  assert.equal(a!.live!.fd?.l4proto, 'udp');
  assert.equal(a!.live!.fd?.connected, false);
  assert.equal(a!.live!.fdNameChanged, true);
  const [b] = s.apply(dgram(p, 'sendmsg', 1, 3, '8.8.8.8', 53, 40000));
  assert.equal(b!.live!.fdNameChanged, false, 'same peer: same name');
  const [c] = s.apply(dgram(p, 'recvfrom', 20, 3, '1.1.1.1', 53, 40000));
  assert.equal(c!.live!.fd?.name, '1.1.1.1:53->0.0.0.0:40000');
  assert.equal(c!.live!.fd?.isServer, true);
  assert.equal(c!.live!.fdNameChanged, true);
});
