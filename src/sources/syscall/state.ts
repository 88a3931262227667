/**
 * The sensor's state, kept as libsinsp keeps it, and the events it turns records into.
 *
 * - A process table keyed by pid (thread group id), seeded from /proc, then kept by the records:
 *   fork (the child starts as a copy of its parent), exec (new image, credentials, session,
 *   terminal, cgroups read in the kernel at that moment), credential and session changes,
 *   chdir, exit.
 * - One descriptor table per process: opens, sockets (created, connected, accepted), dups,
 *   closes; `O_CLOEXEC` descriptors go away at exec; a fork copies the table.
 * - Snapshots are immutable (see src/events/syscall.ts): a change makes a new ProcSnap or
 *   FdSnap, and an event points at the ones current when it happened.
 *
 * Where libsinsp would read /proc for a process it has not seen, so does this (e.g. a process
 * that started before the sensor and was missed by the seed); if /proc has nothing either, the
 * process is `partial` and its process fields are missing.
 */
import { readlinkSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  EXE_FROM_MEMFD, EXE_WRITABLE, HOST_CONTAINER, SyscallEvent,
  type ContainerRef, type FdSnap, type FdType, type ParamValue, type PathInfo, type ProcSnap,
} from '../../events/syscall.ts';
import type { ContainerRegistry } from './container.ts';
import { type Rec, decodeBuf, hexBig, splitNul } from './decode.ts';
import { type FdRead, type ProcRead, type SockRead, ip6Text, listPids, readFds, readProc, readSockets, ticksToEpochNs } from './procfs.ts';
import { SC } from './script.ts';
import type { UserDirectory } from './users.ts';

const SC_NAME: Record<number, string> = Object.fromEntries(Object.entries(SC).map(([k, v]) => [v, k]));

// Kernel constants (x86-64 and arm64 agree on these).
const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;
const O_TMPFILE = 0o20000000 | O_DIRECTORY;
const SOCK_CLOEXEC = 0o2000000;
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const EINPROGRESS = -115;
const CLOSE_RANGE_CLOEXEC = 4;
const CAP_DAC_OVERRIDE = 1n << 1n;
const MFD_CLOEXEC = 1;
const AT_FDCWD = -100;

/** Falco's parameter names per event type (exit parameters, then the enter ones libs merges in). */
export const PARAMS: Readonly<Record<string, readonly string[]>> = {
  execve: ['res', 'exe', 'args', 'tid', 'pid', 'ptid', 'cwd', 'comm', 'tty', 'vpgid', 'loginuid', 'flags',
    'cap_inheritable', 'cap_permitted', 'cap_effective', 'exe_ino', 'exe_ino_ctime', 'exe_ino_mtime', 'uid',
    'trusted_exepath', 'pgid', 'gid', 'filename'],
  execve_failed: ['res', 'filename'],
  clone: ['res', 'exe', 'args', 'tid', 'pid', 'ptid', 'cwd', 'comm', 'flags', 'uid', 'gid', 'vtid', 'vpid'],
  procexit: ['status'],
  open: ['fd', 'name', 'flags', 'mode', 'dev', 'ino'],
  openat: ['fd', 'dirfd', 'name', 'flags', 'mode', 'dev', 'ino'],
  openat2: ['fd', 'dirfd', 'name', 'flags', 'mode', 'resolve', 'dev', 'ino'],
  creat: ['fd', 'name', 'mode', 'dev', 'ino'],
  close: ['res', 'fd'],
  socket: ['fd', 'domain', 'type', 'proto'],
  connect: ['res', 'tuple', 'fd'],
  accept: ['fd', 'tuple', 'queuepct', 'queuelen', 'queuemax'],
  accept4: ['fd', 'tuple', 'queuepct', 'queuelen', 'queuemax', 'flags'],
  bind: ['res', 'addr', 'fd'],
  listen: ['res', 'fd', 'backlog'],
  dup: ['res', 'oldfd'],
  dup2: ['res', 'oldfd', 'newfd'],
  dup3: ['res', 'oldfd', 'newfd', 'flags'],
  fcntl: ['res', 'fd', 'cmd'],
  setuid: ['res', 'uid'],
  setgid: ['res', 'gid'],
  setreuid: ['res', 'ruid', 'euid'],
  setregid: ['res', 'rgid', 'egid'],
  setresuid: ['res', 'ruid', 'euid', 'suid'],
  setresgid: ['res', 'rgid', 'egid', 'sgid'],
  ptrace: ['res', 'addr', 'data', 'request', 'pid'],
  unlink: ['res', 'path'],
  unlinkat: ['res', 'dirfd', 'name', 'flags'],
  rename: ['res', 'oldpath', 'newpath'],
  renameat: ['res', 'olddirfd', 'oldpath', 'newdirfd', 'newpath'],
  renameat2: ['res', 'olddirfd', 'oldpath', 'newdirfd', 'newpath', 'flags'],
  mkdir: ['res', 'path', 'mode'],
  mkdirat: ['res', 'dirfd', 'path', 'mode'],
  chmod: ['res', 'filename', 'mode'],
  fchmodat: ['res', 'dirfd', 'filename', 'mode'],
  fchmod: ['res', 'fd', 'mode'],
  mount: ['res', 'dev', 'dir', 'type', 'flags'],
  memfd_create: ['fd', 'name', 'flags'],
  symlink: ['res', 'target', 'linkpath'],
  symlinkat: ['res', 'target', 'linkdirfd', 'linkpath'],
  link: ['res', 'oldpath', 'newpath'],
  linkat: ['res', 'olddir', 'oldpath', 'newdir', 'newpath', 'flags'],
  init_module: ['res', 'length', 'uargs'],
  finit_module: ['res', 'fd', 'uargs', 'flags'],
  chdir: ['res', 'path'],
  fchdir: ['res', 'fd'],
  setsid: ['res'],
  setpgid: ['res', 'pid', 'pgid'],
};

interface Entry {
  snap: ProcSnap;
  fds: Map<number, FdSnap>;
}

interface ExecParts {
  argv: string[];
  exeName?: string;
  filename?: string;
  cgroups: string[];
}

export interface StateCounters {
  /** Records applied, by code. */
  records: number;
  events: number;
  /** Records for processes the sensor had never seen (looked up in /proc). */
  procLookups: number;
  /** Processes for which /proc had nothing either (fields missing). */
  partialProcs: number;
  /** Exec records whose argv/cgroup parts were missing (lost). */
  incompleteExecs: number;
}

export interface StateOptions {
  /** ns since the epoch at CLOCK_MONOTONIC 0. */
  bootEpochNs: bigint;
  containers: ContainerRegistry;
  users: UserDirectory;
  emit: (ev: SyscallEvent) => void;
  procRoot?: string;
  /** Records of these pids are dropped (the sensor's own process, bpftrace), forks excepted. */
  ignorePids?: Set<number>;
  /** Largest descriptor table kept per process (the oldest entries go beyond it). */
  maxFdsPerProc?: number;
}

/** tty_nr as /proc and libs encode it, from a kernel dev_t (major << 20 | minor). */
export function ttyNr(dev: number): number {
  if (dev < 0) return 0;
  const major = Math.floor(dev / 2 ** 20);
  const minor = dev % 2 ** 20;
  return (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12);
}

/** Lexically normalised absolute path: `.`, `..` and repeated slashes removed, as libs does. */
export function normalizePath(p: string): string {
  if (p === '') return p;
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return '/' + parts.join('/');
}

function u32ip(hex: string): string {
  const n = parseInt(hex, 16) >>> 0;
  return `${n & 255}.${(n >>> 8) & 255}.${(n >>> 16) & 255}.${n >>> 24}`;
}

function words6(ws: string[]): Buffer {
  const b = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) b.writeUInt32LE(parseInt(ws[i] ?? '0', 16) >>> 0, i * 4);
  return b;
}

function ntohs(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}

function isV4Mapped(b: Buffer): boolean {
  return b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
}

function l4(proto: number, type: number, family: number): FdSnap['l4proto'] {
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const t = type & 0xf;
  if (proto === 6 || (proto === 0 && t === 1)) return 'tcp';
  if (proto === 17 || (proto === 0 && t === 2)) return 'udp';
  if (proto === 1 || proto === 58) return 'icmp';
  if (t === 3) return 'raw';
  return undefined;
}

function famType(family: number): FdType {
  return family === AF_INET ? 'ipv4' : family === AF_INET6 ? 'ipv6' : family === AF_UNIX ? 'unix' : family === AF_NETLINK ? 'netlink' : 'other';
}

/** Parse a 64-bit hex (printed with %llx) as a number when it fits. */
function hexNum(s: string | undefined): number {
  const b = hexBig(s);
  return b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : Number(BigInt.asIntN(64, b));
}

export class SensorState {
  readonly procs = new Map<number, Entry>();
  private parts = new Map<number, ExecParts>();
  private pending = new Map<number, string[]>();
  private realpaths = new Map<string, string>();
  private pidnsStart = new Map<string, bigint>();
  private num = 0;
  readonly counters: StateCounters = { records: 0, events: 0, procLookups: 0, partialProcs: 0, incompleteExecs: 0 };
  private readonly root: string;
  private readonly maxFds: number;
  readonly ignorePids: Set<number>;

  constructor(private readonly o: StateOptions) {
    this.root = o.procRoot ?? '/proc';
    this.maxFds = o.maxFdsPerProc ?? 4096;
    this.ignorePids = o.ignorePids ?? new Set();
  }

  // -------------------------------------------------------------------------------------------
  // Seeding from /proc

  /** Read every process and its descriptors from /proc (libsinsp's initial scan). */
  seed(): number {
    const reads = new Map<number, ProcRead>();
    for (const pid of listPids(this.root)) {
      const r = readProc(pid, this.root);
      if (r) reads.set(pid, r);
    }
    for (const r of reads.values()) {
      if (r.vpid === 1 && r.pidns) this.pidnsStart.set(r.pidns, ticksToEpochNs(r.startTicks, this.o.bootEpochNs));
    }
    const socks = new Map<string, Map<string, SockRead>>();
    const built = new Map<number, ProcSnap>();
    const building = new Set<number>();
    const build = (pid: number): ProcSnap | undefined => {
      const done = built.get(pid);
      if (done) return done;
      const r = reads.get(pid);
      if (!r || building.has(pid)) return undefined;
      building.add(pid);
      const parent = r.ppid > 0 ? build(r.ppid) : undefined;
      building.delete(pid);
      const snap = this.snapFromProc(r, parent);
      built.set(pid, snap);
      return snap;
    };
    for (const pid of reads.keys()) build(pid);
    for (const [pid, snap] of built) {
      const r = reads.get(pid)!;
      let table = r.netns ? socks.get(r.netns) : undefined;
      if (!table && r.netns && !r.kthread) {
        table = readSockets(pid, this.root);
        socks.set(r.netns, table);
      }
      const fds = new Map<number, FdSnap>();
      if (!r.kthread) {
        const listen = new Set<number>();
        for (const s of table?.values() ?? []) if (s.listening) listen.add(s.lport);
        for (const fr of readFds(pid, this.root)) {
          const fd = fdFromProc(fr, table, listen);
          if (fd) fds.set(fd.num, fd);
        }
      }
      this.procs.set(pid, { snap, fds });
    }
    return this.procs.size;
  }

  private snapFromProc(r: ProcRead, parent: ProcSnap | undefined): ProcSnap {
    const container = r.kthread ? HOST_CONTAINER : this.o.containers.resolve(r.cgroups);
    const args = r.args.slice(1);
    const exe = r.args[0] ?? (r.kthread ? '' : r.comm);
    const snap: ProcSnap = {
      pid: r.pid, ppid: r.ppid, vpid: r.vpid, vpgid: r.vpgid, pgid: r.pgid, sid: r.sid,
      comm: r.comm, exe, exepath: r.exe.replace(/ \(deleted\)$/, (m) => (r.exe.startsWith('/memfd:') ? m : '')),
      args, cwd: r.cwd, uid: r.uid, gid: r.gid, loginuid: r.loginuid, tty: r.tty,
      startNs: ticksToEpochNs(r.startTicks, this.o.bootEpochNs),
      exeFlags: (r.exe.startsWith('/memfd:') ? EXE_FROM_MEMFD : 0),
      capEffective: r.capEffective, capPermitted: r.capPermitted, capInheritable: r.capInheritable,
      container, ...(parent ? { parent } : {}),
      ...(this.pidnsStart.has(r.pidns) ? { pidnsInitStartNs: this.pidnsStart.get(r.pidns)! } : {}),
      ...this.names(r.uid, r.gid, r.loginuid, container, r.pid),
    };
    return this.withExeFile(snap, r.pid);
  }

  /** Look a process up in /proc when a record names one the tables do not have. */
  private entry(pid: number): Entry {
    const e = this.procs.get(pid);
    if (e) return e;
    this.counters.procLookups++;
    const r = readProc(pid, this.root);
    let entry: Entry;
    if (r) {
      const parent = this.procs.get(r.ppid)?.snap;
      const fds = new Map<number, FdSnap>();
      const table = readSockets(pid, this.root);
      const listen = new Set<number>();
      for (const s of table.values()) if (s.listening) listen.add(s.lport);
      for (const fr of readFds(pid, this.root)) {
        const fd = fdFromProc(fr, table, listen);
        if (fd) fds.set(fd.num, fd);
      }
      entry = { snap: this.snapFromProc(r, parent), fds };
    } else {
      this.counters.partialProcs++;
      entry = {
        snap: {
          pid, ppid: 0, vpid: pid, vpgid: 0, pgid: 0, sid: 0, comm: '', exe: '', exepath: '', args: [], cwd: '',
          uid: 0, gid: 0, loginuid: -1, tty: 0, startNs: 0n, exeFlags: 0, container: HOST_CONTAINER, partial: true,
        },
        fds: new Map(),
      };
    }
    this.procs.set(pid, entry);
    return entry;
  }

  // -------------------------------------------------------------------------------------------
  // Helpers

  /** User, group and login names (undefined when unknown, which resets older ones on spread). */
  private names(uid: number, gid: number, loginuid: number, c: ContainerRef, pid: number): Partial<ProcSnap> {
    const key = c.id;
    const root = c.id === 'host' ? '' : `${this.root}/${pid}/root`;
    const u = this.o.users.user(uid, key, root);
    const l = loginuid >= 0 ? this.o.users.user(loginuid, key, root) : undefined;
    return {
      userName: u?.name, userHome: u?.home, userShell: u?.shell,
      groupName: this.o.users.group(gid, key, root), loginName: l?.name,
    };
  }

  /** Inode, times and the writable flag of the executable (libs reads them in the kernel). */
  private withExeFile(snap: ProcSnap, pid: number): ProcSnap {
    if (!snap.exepath || snap.exeFlags & EXE_FROM_MEMFD) return snap;
    let st;
    try {
      st = statSync(`${this.root}/${pid}/exe`, { bigint: true });
    } catch {
      try {
        st = snap.container.id === 'host' ? statSync(snap.exepath, { bigint: true }) : undefined;
      } catch { /* gone */ }
    }
    if (!st) return snap;
    const mode = Number(st.mode);
    // libs: inode_permission(MAY_WRITE) for the process: CAP_DAC_OVERRIDE writes anything.
    const writable = ((snap.capEffective ?? 0n) & CAP_DAC_OVERRIDE) !== 0n ||
      (snap.uid === Number(st.uid) && (mode & 0o200) !== 0) ||
      (snap.gid === Number(st.gid) && (mode & 0o020) !== 0) || (mode & 0o002) !== 0;
    return {
      ...snap, exeIno: Number(st.ino), exeCtimeNs: st.ctimeNs, exeMtimeNs: st.mtimeNs,
      exeFlags: writable ? snap.exeFlags | EXE_WRITABLE : snap.exeFlags & ~EXE_WRITABLE,
    };
  }

  /** Absolute form of a path argument: relative to the cwd (AT_FDCWD) or to a directory fd. */
  private absPath(raw: string, dirfd: number, e: Entry): string {
    if (raw.startsWith('/')) return normalizePath(raw);
    let base = e.snap.cwd;
    if (dirfd !== AT_FDCWD) {
      const d = e.fds.get(dirfd);
      base = d ? d.name : '';
      if (!base) return raw;
    }
    return normalizePath(base + '/' + raw);
  }

  private setFd(e: Entry, fd: FdSnap): void {
    if (e.fds.size >= this.maxFds && !e.fds.has(fd.num)) e.fds.delete(e.fds.keys().next().value!);
    e.fds.set(fd.num, fd);
  }

  private realpath(p: string): string {
    let r = this.realpaths.get(p);
    if (r !== undefined) return r;
    try {
      r = realpathSync(p);
    } catch {
      r = p;
    }
    if (this.realpaths.size > 4096) this.realpaths.clear();
    this.realpaths.set(p, r);
    return r;
  }

  private event(r: Rec, type: string, e: Entry, res: number | undefined, values: ParamValue[], fd?: FdSnap, names?: readonly string[], paths?: PathInfo): void {
    this.counters.events++;
    const data = {
      type, res, tid: r.tid, proc: e.snap, names: names ?? PARAMS[type] ?? [], values,
      ...(fd ? { fd } : {}), ...(paths ? { paths } : {}),
    };
    this.o.emit(SyscallEvent.live(this.o.bootEpochNs + BigInt(r.tsText), data, ++this.num));
  }

  private take(tid: number): string[] {
    const p = this.pending.get(tid);
    if (p) this.pending.delete(tid);
    return p ?? [];
  }

  // -------------------------------------------------------------------------------------------
  // Records

  apply(r: Rec): void {
    this.counters.records++;
    if (this.ignorePids.has(r.pid) && r.code !== 'F' && r.code !== 'X') {
      if (r.code === 'P') return;
      this.take(r.tid);
      return;
    }
    const f = r.f;
    switch (r.code) {
      case 'A': {
        const i = Number(f[0]);
        let p = this.parts.get(r.tid);
        if (!p || i === 0) this.parts.set(r.tid, (p = { argv: [], cgroups: [] }));
        p.argv[i] = r.s ?? '';
        return;
      }
      case 'N': this.partsOf(r.tid).exeName = r.s ?? ''; return;
      case 'W': this.partsOf(r.tid).filename = r.s ?? ''; return;
      case 'G': this.partsOf(r.tid).cgroups[Number(f[0])] = r.s ?? ''; return;
      case 'P': {
        let p = this.pending.get(r.tid);
        if (!p) this.pending.set(r.tid, (p = []));
        p[Number(f[0])] = r.s ?? '';
        return;
      }
      case 'E': return this.exec(r);
      case 'e': return this.execFailed(r);
      case 'F': return this.fork(r);
      case 'X': return this.exit(r);
      case 'o': return this.open(r);
      case 'x': return this.close(r);
      case 'r': return this.closeRange(r);
      case 's': return this.socket(r);
      case 'c': return this.connect(r);
      case 'a': return this.accept(r);
      case 'b': return this.bind(r);
      case 'l': {
        const e = this.entry(r.pid);
        const fd = Number(f[1]);
        return this.event(r, 'listen', e, Number(f[0]), [Number(f[0]), fd, Number(f[2])], e.fds.get(fd));
      }
      case 'd': return this.dup(r);
      case 'u': return this.cred(r);
      case 'z': return this.setsid(r);
      case 'g': return this.setpgid(r);
      case 'p': {
        const e = this.entry(r.pid);
        const res = Number(f[0]);
        return this.event(r, 'ptrace', e, res, [res, hexBig(f[3]), hexBig(f[4]), Number(f[1]), Number(f[2])]);
      }
      case 'U': case 'R': case 'M': case 'H': case 'T': case 'm': case 'S': case 'L': case 'K': case 'D':
        return this.pathCall(r);
      default:
    }
  }

  private partsOf(tid: number): ExecParts {
    let p = this.parts.get(tid);
    if (!p) this.parts.set(tid, (p = { argv: [], cgroups: [] }));
    return p;
  }

  private exec(r: Rec): void {
    const f = r.f;
    const parts = this.parts.get(r.tid);
    this.parts.delete(r.tid);
    this.take(r.tid);
    if (!parts || parts.exeName === undefined || parts.filename === undefined) this.counters.incompleteExecs++;
    const pid = r.pid;
    const ppid = Number(f[0]);
    const prev = this.procs.get(pid);
    const parentEntry = this.procs.get(ppid) ?? (ppid > 0 ? this.entry(ppid) : undefined);
    const base = prev?.snap ?? parentEntry?.snap;
    const alen = Number(f[16]);
    const argv = splitNul(decodeBuf((parts?.argv ?? []).join('')).subarray(0, alen));
    const filename = parts?.filename ?? argv[0] ?? '';
    const exeName = parts?.exeName ?? path.basename(filename);
    const nlink = Number(f[13]);
    const cwd = base && !base.partial ? base.cwd : (safeLink(`${this.root}/${pid}/cwd`) ?? '/');
    const euid = Number(f[2]);
    const egid = Number(f[3]);
    let loginuid = Number(f[4]);
    if (loginuid === 4294967295) loginuid = -1;
    let container: ContainerRef = HOST_CONTAINER;
    if (parts && parts.cgroups.length) container = this.o.containers.resolve(parts.cgroups);
    else if (base) container = base.container;

    let exeFlags = 0;
    let exepath: string;
    if (nlink === 0 && exeName.startsWith('memfd:')) {
      exeFlags |= EXE_FROM_MEMFD;
      exepath = `/${exeName} (deleted)`;
    } else {
      // /proc/<pid>/exe is the kernel's d_path of the file, as libs reports it; the process may
      // be gone (or exec'ed again) by now, in which case the path is resolved by hand.
      const l = safeLink(`${this.root}/${pid}/exe`);
      if (l !== undefined && path.basename(l.replace(/ \(deleted\)$/, '')) === exeName) exepath = l;
      else {
        const abs = filename.startsWith('/') ? normalizePath(filename) : normalizePath(cwd + '/' + filename);
        exepath = container.id === 'host' ? this.realpath(abs) : abs;
      }
    }
    const pidnsStart = BigInt(f[15] ?? '0');
    const capE = hexBig(f[5]);
    let snap: ProcSnap = {
      pid, ppid, vpid: Number(f[10]), vpgid: Number(f[11]), pgid: Number(f[9]), sid: Number(f[8]),
      comm: path.basename(filename).slice(0, 15), exe: argv[0] ?? '', exepath, args: argv.slice(1), cwd,
      uid: euid, gid: egid, loginuid, tty: ttyNr(Number(f[12])),
      startNs: base && prev && !prev.snap.partial ? prev.snap.startNs : this.o.bootEpochNs + BigInt(r.tsText),
      pidnsInitStartNs: pidnsStart > 0n ? this.o.bootEpochNs + pidnsStart : undefined,
      exeFlags, capEffective: capE, capPermitted: hexBig(f[6]), capInheritable: hexBig(f[7]),
      container, ...(parentEntry ? { parent: parentEntry.snap } : {}),
      ...this.names(euid, egid, loginuid, container, pid),
    };
    snap = this.withExeFile(snap, pid);
    const fds = prev ? prev.fds : new Map<number, FdSnap>();
    for (const [n, fd] of fds) if (fd.cloexec) fds.delete(n);
    const e: Entry = { snap, fds };
    this.procs.set(pid, e);
    const xk = Number(f[1]);
    const type = xk === SC.execveat ? 'execveat' : 'execve';
    this.event(r, type, e, 0, [0, snap.exe, snap.args.join(' '), r.tid, pid, ppid, cwd, snap.comm, snap.tty, snap.vpgid,
      loginuid, snap.exeFlags, snap.capInheritable, snap.capPermitted, snap.capEffective, snap.exeIno, snap.exeCtimeNs,
      snap.exeMtimeNs, euid, exepath, snap.pgid, egid, filename]);
  }

  private execFailed(r: Rec): void {
    const e = this.entry(r.pid);
    const res = Number(r.f[0]);
    this.event(r, Number(r.f[1]) === SC.execveat ? 'execveat' : 'execve', e, res, [res, r.s ?? ''], undefined, PARAMS.execve_failed);
  }

  private fork(r: Rec): void {
    const child = Number(r.f[0]);
    const kind = SC_NAME[Number(r.f[1])] ?? 'clone';
    const parent = this.entry(r.pid);
    const p = parent.snap;
    const existing = this.procs.get(child);
    // An exec of the child can be read before its fork (another CPU's buffer): keep it.
    if (!existing || existing.snap.startNs < this.o.bootEpochNs + BigInt(r.tsText)) {
      const snap: ProcSnap = {
        ...p, pid: child, ppid: r.pid, vpid: p.vpid === p.pid ? child : 0, startNs: this.o.bootEpochNs + BigInt(r.tsText),
        parent: p,
      };
      this.procs.set(child, { snap, fds: new Map(parent.fds) });
    }
    if (this.ignorePids.has(r.pid)) return;
    this.event(r, kind, parent, child, [child, p.exe, p.args.join(' '), r.tid, r.pid, p.ppid, p.cwd, p.comm, 0, p.uid, p.gid, child, child],
      undefined, PARAMS.clone);
  }

  private exit(r: Rec): void {
    const e = this.procs.get(r.pid);
    this.parts.delete(r.tid);
    this.pending.delete(r.tid);
    if (!e) return;
    if (!this.ignorePids.has(r.pid)) this.event(r, 'procexit', e, undefined, [0]);
    this.procs.delete(r.pid);
  }

  private open(r: Rec): void {
    const f = r.f;
    const e = this.entry(r.pid);
    const sc = SC_NAME[Number(f[0])] ?? 'openat';
    const ret = Number(f[1]);
    const dirfd = Number(f[2]);
    const flags = Number(f[3]);
    const mode = Number(f[4]);
    const raw = r.s ?? '';
    const name = this.absPath(raw, dirfd, e);
    const isDir = (flags & O_DIRECTORY) !== 0 && (flags & O_TMPFILE) !== O_TMPFILE;
    const fd: FdSnap = {
      num: ret >= 0 ? ret : -1, type: isDir ? 'directory' : 'file', name, nameRaw: raw, openFlags: flags,
      cloexec: (flags & O_CLOEXEC) !== 0,
    };
    if (ret >= 0) this.setFd(e, fd);
    const values: ParamValue[] = sc === 'open' ? [ret, name, flags, mode, 0, 0]
      : sc === 'creat' ? [ret, name, mode, 0, 0]
        : sc === 'openat2' ? [ret, dirfd, raw, flags, mode, 0, 0, 0]
          : [ret, dirfd, raw, flags, mode, 0, 0];
    this.event(r, sc, e, ret, values, fd, undefined, { name, nameRaw: raw });
  }

  private close(r: Rec): void {
    const e = this.entry(r.pid);
    const n = Number(r.f[0]);
    const fd = e.fds.get(n);
    if (fd) e.fds.delete(n);
    this.event(r, 'close', e, 0, [0, n], fd);
  }

  private closeRange(r: Rec): void {
    const e = this.entry(r.pid);
    const first = Number(r.f[0]);
    const last = Number(r.f[1]);
    const cloexec = (Number(r.f[2]) & CLOSE_RANGE_CLOEXEC) !== 0;
    for (const [n, fd] of e.fds) {
      if (n < first || n > last) continue;
      if (cloexec) e.fds.set(n, { ...fd, cloexec: true });
      else e.fds.delete(n);
    }
  }

  private socket(r: Rec): void {
    const f = r.f;
    const e = this.entry(r.pid);
    const ret = Number(f[0]);
    const domain = Number(f[1]);
    const type = Number(f[2]);
    const proto = Number(f[3]);
    let fd: FdSnap | undefined;
    if (ret >= 0) {
      const l = l4(proto, type, domain);
      fd = { num: ret, type: famType(domain), name: '', cloexec: (type & SOCK_CLOEXEC) !== 0, ...(l ? { l4proto: l } : {}) };
      this.setFd(e, fd);
    }
    this.event(r, 'socket', e, ret, [ret, domain, type, proto], fd);
  }

  private connect(r: Rec): void {
    const f = r.f;
    const e = this.entry(r.pid);
    const ret = Number(f[0]);
    const n = Number(f[1]);
    const fam = Number(f[2]);
    const old = e.fds.get(n);
    const pend = this.take(r.tid);
    let fd: FdSnap | undefined;
    let tuple = '';
    if (fam === AF_INET || fam === AF_INET6) {
      const rport = ntohs(Number(f[3]));
      const lport = Number(f[6]);
      let rip: string;
      let lip: string;
      let type: FdType = 'ipv4';
      if (fam === AF_INET) {
        rip = u32ip(f[4]!);
        lip = u32ip(f[11]!);
      } else {
        const rb = Buffer.alloc(16);
        rb.writeBigUInt64LE(hexBig(f[4]), 0);
        rb.writeBigUInt64LE(hexBig(f[5]), 8);
        const lb = words6(f.slice(7, 11));
        rip = ip6Text(rb);
        lip = ip6Text(lb);
        // libs reports v4-mapped IPv6 tuples as IPv4.
        type = isV4Mapped(rb) && (isV4Mapped(lb) || lb.every((x) => x === 0)) ? 'ipv4' : 'ipv6';
        if (type === 'ipv4' && lb.every((x) => x === 0)) lip = '0.0.0.0';
      }
      tuple = `${lip}:${lport}->${rip}:${rport}`;
      const l = l4(Number(f[19]), Number(f[20]), fam) ?? old?.l4proto;
      fd = {
        ...(old ?? {}), num: n, type, name: tuple, cip: lip, cport: lport, sip: rip, sport: rport, isServer: false,
        connected: ret === 0 || ret === EINPROGRESS, ...(l ? { l4proto: l } : {}),
      };
    } else if (fam === AF_UNIX) {
      const p = pend[1] ?? '';
      tuple = p;
      fd = { ...(old ?? { cloexec: false }), num: n, type: 'unix', name: p, connected: ret === 0 };
    } else {
      fd = old;
    }
    if (fd && n >= 0) this.setFd(e, fd);
    this.event(r, 'connect', e, ret, [ret, tuple, n], fd);
  }

  private accept(r: Rec): void {
    const f = r.f;
    const e = this.entry(r.pid);
    const sc = SC_NAME[Number(f[0])] ?? 'accept';
    const ret = Number(f[1]);
    const flags = Number(f[3]);
    const fam = Number(f[16]);
    let fd: FdSnap | undefined;
    let tuple = '';
    if (ret >= 0) {
      if (fam === AF_INET || fam === AF_INET6) {
        const lport = Number(f[4]);
        const rport = ntohs(Number(f[10]));
        let lip: string;
        let rip: string;
        let type: FdType = 'ipv4';
        if (fam === AF_INET) {
          lip = u32ip(f[9]!);
          rip = u32ip(f[15]!);
        } else {
          const lb = words6(f.slice(5, 9));
          const rb = words6(f.slice(11, 15));
          lip = ip6Text(lb);
          rip = ip6Text(rb);
          type = isV4Mapped(lb) && isV4Mapped(rb) ? 'ipv4' : 'ipv6';
        }
        tuple = `${rip}:${rport}->${lip}:${lport}`;
        const l = l4(Number(f[17]), Number(f[18]), fam);
        fd = {
          num: ret, type, name: tuple, cip: rip, cport: rport, sip: lip, sport: lport, isServer: true, connected: true,
          cloexec: (flags & SOCK_CLOEXEC) !== 0, ...(l ? { l4proto: l } : {}),
        };
      } else {
        fd = { num: ret, type: famType(fam), name: e.fds.get(Number(f[2]))?.name ?? '', cloexec: (flags & SOCK_CLOEXEC) !== 0 };
      }
      this.setFd(e, fd);
    }
    const values: ParamValue[] = [ret, tuple, 0, 0, 0];
    if (sc === 'accept4') values.push(flags);
    this.event(r, sc, e, ret, values, fd);
  }

  private bind(r: Rec): void {
    const f = r.f;
    const e = this.entry(r.pid);
    const ret = Number(f[0]);
    const n = Number(f[1]);
    const fam = Number(f[2]);
    const pend = this.take(r.tid);
    let addr = '';
    if (fam === AF_INET) addr = `${u32ip(f[4]!)}:${ntohs(Number(f[3]))}`;
    else if (fam === AF_INET6) {
      const b = Buffer.alloc(16);
      b.writeBigUInt64LE(hexBig(f[4]), 0);
      b.writeBigUInt64LE(hexBig(f[5]), 8);
      addr = `${ip6Text(b)}:${ntohs(Number(f[3]))}`;
    } else if (fam === AF_UNIX) addr = pend[1] ?? '';
    let fd = e.fds.get(n);
    if (fd && ret === 0 && fam === AF_UNIX) {
      fd = { ...fd, name: addr };
      this.setFd(e, fd);
    }
    this.event(r, 'bind', e, ret, [ret, addr, n], fd);
  }

  private dup(r: Rec): void {
    const f = r.f;
    const e = this.entry(r.pid);
    const sc = SC_NAME[Number(f[0])] ?? 'dup';
    const ret = Number(f[1]);
    const oldfd = Number(f[2]);
    const newfd = Number(f[3]);
    const flags = Number(f[4]);
    const old = e.fds.get(oldfd);
    if (ret >= 0 && ret !== oldfd) {
      const cloexec = sc === 'dup3' ? (flags & O_CLOEXEC) !== 0 : sc === 'fcntl' ? flags === 1030 : false;
      if (old) this.setFd(e, { ...old, num: ret, cloexec });
      else e.fds.delete(ret);
    }
    const values: ParamValue[] = sc === 'dup' ? [ret, oldfd] : sc === 'dup2' ? [ret, oldfd, newfd]
      : sc === 'dup3' ? [ret, oldfd, newfd, flags] : [ret, oldfd, flags];
    this.event(r, sc, e, ret, values, old);
  }

  private cred(r: Rec): void {
    const f = r.f;
    const e = this.entry(r.pid);
    const sc = SC_NAME[Number(f[0])] ?? 'setuid';
    const ret = Number(f[1]);
    if (ret === 0) {
      const uid = Number(f[5]);
      const gid = Number(f[6]);
      if (uid !== e.snap.uid || gid !== e.snap.gid) {
        e.snap = { ...e.snap, uid, gid, ...this.names(uid, gid, e.snap.loginuid, e.snap.container, r.pid) };
      }
    }
    const args = [Number(f[2]), Number(f[3]), Number(f[4])];
    const n = (PARAMS[sc]?.length ?? 2) - 1;
    this.event(r, sc, e, ret, [ret, ...args.slice(0, n)]);
  }

  private setsid(r: Rec): void {
    const e = this.entry(r.pid);
    const ret = Number(r.f[0]);
    if (ret > 0) e.snap = { ...e.snap, sid: ret, pgid: ret, vpgid: e.snap.vpid, tty: 0 };
    this.event(r, 'setsid', e, ret, [ret]);
  }

  private setpgid(r: Rec): void {
    const e = this.entry(r.pid);
    const ret = Number(r.f[0]);
    const target = Number(r.f[1]) || r.pid;
    const pgid = Number(r.f[2]) || target;
    if (ret === 0) {
      const t = this.procs.get(target);
      if (t) t.snap = { ...t.snap, pgid, vpgid: t.snap.vpid === t.snap.pid ? pgid : t.snap.vpgid };
    }
    this.event(r, 'setpgid', e, ret, [ret, Number(r.f[1]), Number(r.f[2])]);
  }

  /** Path syscalls: U unlink, R rename, M mkdir, H chmod, T mount, m memfd, S symlink, L link, K module, D chdir. */
  private pathCall(r: Rec): void {
    const f = r.f;
    const e = this.entry(r.pid);
    const sc = SC_NAME[Number(f[0])] ?? '';
    const ret = Number(f[1]);
    const s = r.s ?? '';
    const pend = this.take(r.tid);
    const abs = (p: string, dirfd: number): string => this.absPath(p, dirfd, e);
    const d2 = Number(f[2]);
    const d3 = Number(f[3]);
    const old = pend[1] ?? '';
    let values: ParamValue[];
    let fd: FdSnap | undefined;
    let paths: PathInfo | undefined;
    const one = (raw: string, dirfd: number): PathInfo => ({ name: abs(raw, dirfd), nameRaw: raw });
    const two = (src: string, srcAbs: string, dst: string, dirfd: number): PathInfo =>
      ({ source: srcAbs, sourceRaw: src, target: abs(dst, dirfd), targetRaw: dst });
    switch (sc) {
      case 'unlink': paths = one(s, AT_FDCWD); values = [ret, paths.name]; break;
      case 'unlinkat': paths = one(s, d2); values = [ret, d2, s, d3]; break;
      case 'rename': paths = two(old, abs(old, AT_FDCWD), s, AT_FDCWD); values = [ret, paths.source, paths.target]; break;
      case 'renameat': paths = two(old, abs(old, d2), s, d3); values = [ret, d2, old, d3, s]; break;
      case 'renameat2': paths = two(old, abs(old, d2), s, d3); values = [ret, d2, old, d3, s, Number(f[4])]; break;
      case 'mkdir': paths = one(s, AT_FDCWD); values = [ret, paths.name, d3]; break;
      case 'mkdirat': paths = one(s, d2); values = [ret, d2, s, d3]; break;
      case 'chmod': paths = one(s, AT_FDCWD); values = [ret, paths.name, d3]; break;
      case 'fchmodat': paths = one(s, d2); values = [ret, d2, s, d3]; break;
      case 'fchmod': fd = e.fds.get(d2); values = [ret, d2, d3]; break;
      case 'mount': paths = two(old, old, s, AT_FDCWD); values = [ret, old, paths.target, pend[3] ?? '', d2]; break;
      case 'memfd_create': {
        values = [ret, s, d2];
        if (ret >= 0) {
          fd = { num: ret, type: 'memfd', name: `memfd:${s}`, cloexec: (d2 & MFD_CLOEXEC) !== 0 };
          this.setFd(e, fd);
        }
        break;
      }
      case 'symlink': paths = two(old, old, s, AT_FDCWD); values = [ret, old, paths.target]; break;
      case 'symlinkat': paths = two(old, old, s, d2); values = [ret, old, d2, s]; break;
      case 'link': paths = two(old, abs(old, AT_FDCWD), s, AT_FDCWD); values = [ret, paths.source, paths.target]; break;
      case 'linkat': paths = two(old, abs(old, d2), s, d3); values = [ret, d2, old, d3, s, Number(f[4])]; break;
      case 'init_module': values = [ret, d2, s]; break;
      case 'finit_module': fd = e.fds.get(d2); values = [ret, d2, s, d3]; break;
      case 'chdir': {
        paths = one(s, AT_FDCWD);
        if (ret === 0) e.snap = { ...e.snap, cwd: paths.name! };
        values = [ret, s];
        break;
      }
      case 'fchdir': {
        fd = e.fds.get(d2);
        if (ret === 0 && fd) e.snap = { ...e.snap, cwd: fd.name };
        values = [ret, d2];
        break;
      }
      default: return;
    }
    this.event(r, sc, e, ret, values, fd, undefined, paths);
  }

  // -------------------------------------------------------------------------------------------
  // Housekeeping

  /** Forget processes that are gone but whose exit was never seen (a lost record). */
  sweep(): number {
    let n = 0;
    for (const pid of this.procs.keys()) {
      try {
        process.kill(pid, 0);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ESRCH') {
          this.procs.delete(pid);
          n++;
        }
      }
    }
    if (this.parts.size > 10_000) this.parts.clear();
    if (this.pending.size > 10_000) this.pending.clear();
    return n;
  }
}

function safeLink(p: string): string | undefined {
  try {
    return readlinkSync(p);
  } catch {
    return undefined;
  }
}

const ANON: Record<string, FdType> = {
  '[eventfd]': 'event', '[eventpoll]': 'eventpoll', inotify: 'inotify', '[signalfd]': 'signalfd',
  '[timerfd]': 'timerfd', bpf_map: 'bpf', 'bpf-prog': 'bpf', '[io_uring]': 'io_uring', '[userfaultfd]': 'userfaultfd',
  '[pidfd]': 'pidfd',
};

/** A descriptor from /proc/<pid>/fd, with sockets resolved through the netns socket tables. */
export function fdFromProc(fr: FdRead, socks: Map<string, SockRead> | undefined, listening: Set<number>): FdSnap | undefined {
  const t = fr.target;
  const cloexec = (fr.flags & O_CLOEXEC) !== 0;
  if (t.startsWith('/memfd:')) return { num: fr.num, type: 'memfd', name: t.slice(1).replace(/ \(deleted\)$/, ''), cloexec };
  if (t.startsWith('/')) {
    const isDir = (fr.flags & O_DIRECTORY) !== 0;
    return { num: fr.num, type: isDir ? 'directory' : 'file', name: t, cloexec, openFlags: fr.flags };
  }
  const m = /^socket:\[(\d+)\]$/.exec(t);
  if (m) {
    const s = socks?.get(m[1]!);
    if (!s) return { num: fr.num, type: 'unix', name: '', cloexec };
    const type: FdType = s.family === 6 && !s.lip.includes(':') ? 'ipv4' : s.family === 6 ? 'ipv6' : 'ipv4';
    const server = s.listening || listening.has(s.lport);
    const [cip, cport, sip, sport] = server ? [s.rip, s.rport, s.lip, s.lport] : [s.lip, s.lport, s.rip, s.rport];
    return {
      num: fr.num, type, name: `${cip}:${cport}->${sip}:${sport}`, cip, cport, sip, sport, isServer: server,
      connected: !s.listening, l4proto: s.proto, cloexec,
    };
  }
  if (t.startsWith('pipe:')) return { num: fr.num, type: 'pipe', name: t, cloexec };
  if (t.startsWith('anon_inode:')) {
    const k = t.slice('anon_inode:'.length);
    return { num: fr.num, type: ANON[k] ?? 'other', name: t, cloexec };
  }
  return { num: fr.num, type: 'other', name: t, cloexec };
}

// Exported for tests.
export const _internal = { O_ACCMODE, O_WRONLY, O_RDWR, O_CREAT, u32ip, ntohs };
