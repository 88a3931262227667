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
import { readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  EXE_FROM_MEMFD, EXE_LOWER_LAYER, EXE_UPPER_LAYER, EXE_WRITABLE, HOST_CONTAINER, SyscallEvent,
  type ContainerRef, type FdSnap, type FdType, type ParamValue, type PathInfo, type ProcSnap,
} from '../../events/syscall.ts';
import type { ContainerRegistry } from './container.ts';
import { type Rec, decodeBuf, hexBig, splitNul } from './decode.ts';
import {
  type FdRead, type ProcRead, type SockRead, completeFromProc, exeOverlayLayer, ip6Text, listPids, readFds, readProc, readSockets,
  ticksToEpochNs,
} from './procfs.ts';
import { PATH_CONT, PATH_SLOT, SC } from './script.ts';
import type { UserDirectory } from './users.ts';

const SC_NAME: Record<number, string> = Object.fromEntries(Object.entries(SC).map(([k, v]) => [v, k]));

// Kernel constants (x86-64 and arm64 agree on these).
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
  rmdir: ['res', 'path'],
  // The payload (data) and its size are not read.
  sendto: ['res', 'data', 'fd', 'size', 'tuple'],
  sendmsg: ['res', 'data', 'fd', 'size', 'tuple'],
  recvfrom: ['res', 'data', 'tuple', 'fd', 'size'],
  recvmsg: ['res', 'size', 'data', 'tuple', 'msgcontrol', 'fd'],
};

type Names = { -readonly [K in 'userName' | 'userHome' | 'userShell' | 'groupName' | 'loginName']?: ProcSnap[K] };

interface Entry {
  snap: ProcSnap;
  fds: Map<number, FdSnap>;
  /** The kernel's exec counter of the image `snap` describes; undefined until a record tells. */
  xid?: number;
  /** The image before the last exec, for records that arrive late. */
  prev?: { snap: ProcSnap; xid?: number };
  /** Records of a later image waiting for its exec record. */
  deferred?: { recs: Rec[]; since: number };
}

/** How long records wait for an exec record before the sensor gives up on it (wall time). */
const EXEC_WAIT_MS = 1_000;
const MAX_DEFERRED = 10_000;
/** How long an exited process is kept for its late records. */
const GRAVEYARD_MS = 5_000;

interface ExecParts {
  argv: string[];
  env: string[];
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
  /** Out-of-order handling (records of another CPU read late): see resolve(). */
  earlyChildren: number;
  deferred: number;
  lostExecs: number;
  lateBeforeExec: number;
  lateAfterExit: number;
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
  /** Names of addresses (fd.sip.name, ...). */
  addressNames?: { name(ip: string | undefined): string | undefined };
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

/**
 * The remote and local ends of a socket record: remote port at f[b], remote address at
 * f[b+1] (and f[b+2] for IPv6), local port at f[b+3], local IPv6 words at f[b+4..b+7], local
 * IPv4 at f[b+8]. libs reports v4-mapped IPv6 tuples as IPv4.
 */
function sockPair(f: string[], b: number, fam: number): { rip: string; rport: number; lip: string; lport: number; type: FdType } {
  const rport = ntohs(Number(f[b]));
  const lport = Number(f[b + 3]);
  if (fam === AF_INET) return { rip: u32ip(f[b + 1]!), rport, lip: u32ip(f[b + 8]!), lport, type: 'ipv4' };
  const rb = Buffer.alloc(16);
  rb.writeBigUInt64LE(hexBig(f[b + 1]), 0);
  rb.writeBigUInt64LE(hexBig(f[b + 2]), 8);
  const lb = words6(f.slice(b + 4, b + 8));
  const type: FdType = isV4Mapped(rb) && (isV4Mapped(lb) || lb.every((x) => x === 0)) ? 'ipv4' : 'ipv6';
  const lip = type === 'ipv4' && lb.every((x) => x === 0) ? '0.0.0.0' : ip6Text(lb);
  return { rip: ip6Text(rb), rport, lip, lport, type };
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

export class SensorState {
  readonly procs = new Map<number, Entry>();
  private parts = new Map<number, ExecParts>();
  private pending = new Map<number, string[]>();
  private realpaths = new Map<string, string>();
  private pidnsStart = new Map<string, bigint>();
  private num = 0;
  readonly counters: StateCounters = {
    records: 0, events: 0, procLookups: 0, partialProcs: 0, incompleteExecs: 0,
    earlyChildren: 0, deferred: 0, lostExecs: 0, lateBeforeExec: 0, lateAfterExit: 0,
  };
  private graveyard = new Map<number, { entry: Entry; until: number }>();
  private containerPids = new Map<string, number[]>();
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
    this.notePid(container, r.pid);
    const args = r.args.slice(1);
    const exe = r.args[0] ?? (r.kthread ? '' : r.comm);
    const snap: ProcSnap = {
      pid: r.pid, ppid: r.ppid, vpid: r.vpid, vpgid: r.vpgid, pgid: r.pgid, sid: r.sid,
      comm: r.comm, exe, exepath: r.exe.startsWith('/memfd:') ? r.exe.slice(1).replace(/ \(deleted\)$/, '') : r.exe,
      args, env: r.env, cwd: r.cwd, uid: r.uid, gid: r.gid, loginuid: r.loginuid, tty: r.tty,
      startNs: ticksToEpochNs(r.startTicks, this.o.bootEpochNs),
      exeFlags: (r.exe.startsWith('/memfd:') ? EXE_FROM_MEMFD : 0),
      capEffective: r.capEffective, capPermitted: r.capPermitted, capInheritable: r.capInheritable,
      container, ...(parent ? { parent } : {}),
      ...(this.pidnsStart.has(r.pidns) ? { pidnsInitStartNs: this.pidnsStart.get(r.pidns)! } : {}),
      ...this.names(r.uid, r.gid, r.loginuid, container, r.pid),
    };
    return this.withExeFile(snap, r.pid);
  }

  /** A process from /proc, added to the table; undefined (and nothing added) when /proc has nothing. */
  private fromProc(pid: number): Entry | undefined {
    if (!readProc(pid, this.root)) return undefined;
    return this.entry(pid);
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
  private names(uid: number, gid: number, loginuid: number, c: ContainerRef, pid: number, ppid = 0): Names {
    const key = c.id;
    const root = c.id === 'host' ? '' : (this.rootOf([pid, ppid], c) ?? `${this.root}/${pid}/root`);
    const u = this.o.users.user(uid, key, root);
    const l = loginuid >= 0 ? this.o.users.user(loginuid, key, root) : undefined;
    return {
      userName: u?.name, userHome: u?.home, userShell: u?.shell,
      groupName: this.o.users.group(gid, key, root), loginName: l?.name,
    };
  }

  /** Names, or those of the image before when the container's files cannot be read any more. */
  private namesOrInherited(uid: number, gid: number, loginuid: number, c: ContainerRef, pid: number, ppid: number, base: ProcSnap | undefined): Names {
    const n = this.names(uid, gid, loginuid, c, pid, ppid);
    if (!base || base.container !== c) return n;
    if (n.userName === undefined && base.uid === uid) {
      n.userName = base.userName;
      n.userHome = base.userHome;
      n.userShell = base.userShell;
    }
    if (n.groupName === undefined && base.gid === gid) n.groupName = base.groupName;
    if (n.loginName === undefined && base.loginuid === loginuid) n.loginName = base.loginName;
    return n;
  }

  /** Inode, times and the writable flag of the executable (libs reads them in the kernel). */
  private withExeFile(snap: ProcSnap, pid: number): ProcSnap {
    if (!snap.exepath || snap.exeFlags & EXE_FROM_MEMFD) return snap;
    let st;
    try {
      st = statSync(`${this.root}/${pid}/exe`, { bigint: true });
    } catch {
      // The process is gone: look at the file through its container's root (the parent's).
      const rootDir = snap.container.id === 'host' ? '' : this.rootOf([snap.ppid], snap.container);
      try {
        st = rootDir !== undefined ? statSync(rootDir + snap.exepath, { bigint: true }) : undefined;
      } catch { /* gone too */ }
    }
    if (!st) return snap;
    const layer = exeOverlayLayer(pid, this.root);
    const flags = (snap.exeFlags & ~(EXE_WRITABLE | EXE_UPPER_LAYER | EXE_LOWER_LAYER)) |
      (exeWritable(snap, Number(st.mode), Number(st.uid), Number(st.gid)) ? EXE_WRITABLE : 0) | layer;
    return { ...snap, exeIno: Number(st.ino), exeCtimeNs: st.ctimeNs, exeMtimeNs: st.mtimeNs, exeFlags: flags };
  }

  /**
   * `/proc/<pid>/root` of the first of these processes still there, else of a process of the
   * same container seen lately (short-lived processes are often gone when their exec is read).
   */
  private rootOf(pids: number[], c?: ContainerRef): string | undefined {
    const recent = c ? this.containerPids.get(c.id) : undefined;
    for (const p of recent ? [...pids, ...recent] : pids) {
      if (p <= 0) continue;
      const dir = `${this.root}/${p}/root`;
      if (safeLink(dir) !== undefined) return dir;
    }
    return undefined;
  }

  /** Remember a process of a container (a few per container, newest first). */
  private notePid(c: ContainerRef, pid: number): void {
    if (c.id === 'host') return;
    let l = this.containerPids.get(c.id);
    if (!l) {
      this.containerPids.set(c.id, (l = []));
      if (this.containerPids.size > 4096) this.containerPids.delete(this.containerPids.keys().next().value!);
    }
    if (l[0] === pid) return;
    l.unshift(pid);
    if (l.length > 8) l.pop();
  }

  /**
   * Symlinks resolved inside a root directory (`''` for the host, `/proc/<pid>/root` for a
   * container), as the kernel would resolve the path for that process.
   */
  private resolveIn(rootDir: string, abs: string): string {
    const key = rootDir + '\0' + abs;
    const hit = this.realpaths.get(key);
    if (hit !== undefined) return hit;
    const todo = abs.split('/').filter(Boolean);
    let cur: string[] = [];
    let hops = 0;
    while (todo.length) {
      const seg = todo.shift()!;
      if (seg === '.') continue;
      if (seg === '..') { cur.pop(); continue; }
      const candidate = '/' + [...cur, seg].join('/');
      const target = safeLink(rootDir + candidate);
      if (target === undefined || ++hops > 40) {
        cur.push(seg);
        continue;
      }
      if (target.startsWith('/')) cur = [];
      todo.unshift(...target.split('/').filter(Boolean));
    }
    const r = '/' + cur.join('/');
    if (this.realpaths.size > 4096) this.realpaths.clear();
    this.realpaths.set(key, r);
    return r;
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

  /** A socket descriptor with the names known for its addresses. */
  private named(fd: FdSnap): FdSnap {
    const n = this.o.addressNames;
    if (!n) return fd;
    const c = n.name(fd.cip);
    const sv = n.name(fd.sip);
    if (c === undefined && sv === undefined) return fd;
    return { ...fd, ...(c !== undefined ? { cipName: c } : {}), ...(sv !== undefined ? { sipName: sv } : {}) };
  }

  private setFd(e: Entry, fd: FdSnap): void {
    if (e.fds.size >= this.maxFds && !e.fds.has(fd.num)) e.fds.delete(e.fds.keys().next().value!);
    e.fds.set(fd.num, fd);
  }

  private event(r: Rec, type: string, e: Entry, res: number | undefined, values: ParamValue[], fd?: FdSnap, names?: readonly string[], paths?: PathInfo,
    fdNameChanged?: boolean): void {
    this.counters.events++;
    const data = {
      type, res, tid: r.tid, proc: e.snap, names: names ?? PARAMS[type] ?? [], values,
      ...(fd ? { fd } : {}), ...(paths ? { paths } : {}), ...(fdNameChanged !== undefined ? { fdNameChanged } : {}),
    };
    this.o.emit(SyscallEvent.live(this.o.bootEpochNs + BigInt(r.tsText), data, ++this.num));
  }

  /** Strings printed before a record (P records), for the record's thread. */
  private pendingOf(r: Rec): string[] {
    if (r.pend !== undefined) return r.pend;
    return this.take(r.tid);
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
      if (r.code !== 'P') this.pendingOf(r);
      return;
    }
    const f = r.f;
    switch (r.code) {
      case 'A': {
        const i = Number(f[0]);
        let p = this.parts.get(r.tid);
        if (!p || i === 0) this.parts.set(r.tid, (p = { argv: [], env: [], cgroups: [] }));
        p.argv[i] = r.s ?? '';
        return;
      }
      case 'Y': this.partsOf(r.tid).env[Number(f[0])] = r.s ?? ''; return;
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
      case 'F': return this.fork(r);
      case 'X': return this.exit(r);
      default:
    }
    const e = this.resolve(r);
    if (e) this.activity(r, e);
  }

  /** Records of a process's activity (everything but exec, fork and exit). */
  private activity(r: Rec, e: Entry): void {
    const f = r.f;
    switch (r.code) {
      case 'e': return this.execFailed(r, e);
      case 'o': return this.open(r, e);
      case 'x': return this.close(r, e);
      case 'r': return this.closeRange(r, e);
      case 's': return this.socket(r, e);
      case 'c': return this.connect(r, e);
      case 'a': return this.accept(r, e);
      case 'b': return this.bind(r, e);
      case 'n': return this.dgram(r, e);
      case 'l': {
        const fd = Number(f[1]);
        return this.event(r, 'listen', e, Number(f[0]), [Number(f[0]), fd, Number(f[2])], e.fds.get(fd));
      }
      case 'd': return this.dup(r, e);
      case 'u': return this.cred(r, e);
      case 'z': return this.setsid(r, e);
      case 'g': return this.setpgid(r, e);
      case 'p': {
        const res = Number(f[0]);
        return this.event(r, 'ptrace', e, res, [res, hexBig(f[3]), hexBig(f[4]), Number(f[1]), Number(f[2])]);
      }
      case 'U': case 'R': case 'M': case 'H': case 'T': case 'm': case 'S': case 'L': case 'K': case 'D':
        return this.pathCall(r, e);
      default:
    }
  }

  /**
   * The process a record belongs to, in the image the record was made in. Records of one CPU
   * come in order, but another CPU's may be read late, so:
   * - a pid never seen whose parent is known is a child whose fork record is still to come:
   *   it starts as a copy of the parent (as the fork record would make it);
   * - a record from a later image than the one known (its exec record is still to come) waits
   *   in the process's queue until that exec record is applied (or EXEC_WAIT_MS passed);
   * - a record from the image before the last exec uses the snapshot of that image;
   * - a record of a process that exited moments ago finds it in the graveyard.
   * Returns undefined when the record was queued.
   */
  private resolve(r: Rec): Entry | undefined {
    let e = this.procs.get(r.pid);
    if (!e) {
      const g = this.graveyard.get(r.pid);
      if (g && (g.entry.xid === undefined || g.entry.xid === r.xid)) {
        this.counters.lateAfterExit++;
        return g.entry;
      }
      // The parent may be as new as the child (its own records late too): /proc may know it.
      const parent = r.ppid > 0 ? (this.procs.get(r.ppid) ?? this.fromProc(r.ppid)) : undefined;
      if (parent && !parent.snap.partial) {
        this.counters.earlyChildren++;
        e = this.child(parent, r.pid, r.ppid, this.o.bootEpochNs + BigInt(r.tsText), parent.xid);
        this.procs.set(r.pid, e);
        if (parent.xid !== undefined && r.xid !== parent.xid) {
          this.defer(e, r);
          return undefined;
        }
        e.xid = r.xid;
        return e;
      }
      e = this.entry(r.pid);
      e.xid = r.xid;
      return e;
    }
    if (e.deferred) {
      this.defer(e, r);
      return undefined;
    }
    if (e.xid === undefined) {
      e.xid = r.xid;
      return e;
    }
    if (r.xid === e.xid) return e;
    if (r.xid > e.xid) {
      this.defer(e, r);
      return undefined;
    }
    // A late record from before the last exec.
    this.counters.lateBeforeExec++;
    return e.prev && e.prev.xid === r.xid ? { snap: e.prev.snap, fds: e.fds, xid: r.xid } : e;
  }

  private defer(e: Entry, r: Rec): void {
    if (r.pend === undefined) r.pend = this.pendingOf(r);
    if (!e.deferred) e.deferred = { recs: [], since: Date.now() };
    e.deferred.recs.push(r);
    this.counters.deferred++;
    if (e.deferred.recs.length > MAX_DEFERRED) this.flushDeferred(e, true);
  }

  /** Apply what waited for an exec record (or, when `force`, whatever is there). */
  private flushDeferred(e: Entry, force: boolean): void {
    const d = e.deferred;
    if (!d) return;
    e.deferred = undefined;
    const rest: Rec[] = [];
    for (const r of d.recs) {
      if (e.xid === undefined || r.xid <= e.xid || force) {
        if (force && e.xid !== undefined && r.xid > e.xid) {
          // The exec record was lost: take the new image from /proc if the process is still there.
          this.counters.lostExecs++;
          const fresh = readProc(r.pid, this.root);
          if (fresh) e.snap = this.snapFromProc(fresh, e.snap.parent);
          e.xid = r.xid;
        }
        this.activity(r, e);
      } else {
        rest.push(r);
      }
    }
    if (rest.length) e.deferred = { recs: rest, since: d.since };
  }

  /** Give up waiting for exec records that did not come (lost, or very late). */
  flushStale(nowMs = Date.now()): void {
    for (const e of this.procs.values()) {
      if (e.deferred && nowMs - e.deferred.since > EXEC_WAIT_MS) this.flushDeferred(e, true);
    }
    if (this.graveyard.size > 50_000) {
      for (const [pid, g] of this.graveyard) if (g.until < nowMs) this.graveyard.delete(pid);
    }
  }

  private partsOf(tid: number): ExecParts {
    let p = this.parts.get(tid);
    if (!p) this.parts.set(tid, (p = { argv: [], env: [], cgroups: [] }));
    return p;
  }

  private exec(r: Rec): void {
    const f = r.f;
    const parts = this.parts.get(r.tid);
    this.parts.delete(r.tid);
    this.pendingOf(r);
    if (!parts || parts.exeName === undefined || parts.filename === undefined) this.counters.incompleteExecs++;
    const pid = r.pid;
    const ppid = Number(f[0]);
    const prev = this.procs.get(pid);
    const parentEntry = this.procs.get(ppid) ?? (ppid > 0 ? this.entry(ppid) : undefined);
    const base = prev?.snap ?? parentEntry?.snap;
    const alen = Number(f[16]);
    const argv = splitNul(nulChunks(parts?.argv ?? [], alen, pid, 'cmdline', this.root));
    const env = splitNul(nulChunks(parts?.env ?? [], Number(f[17] ?? 0), pid, 'environ', this.root));
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
    // The executable's inode, read in the kernel at exec (f[18..24]).
    const exeFile = f.length >= 25
      ? { ino: Number(f[18]), ctime: BigInt(f[19]!), mtime: BigInt(f[20]!), layer: Number(f[21]), mode: Number(f[22]), uid: Number(f[23]), gid: Number(f[24]) }
      : undefined;
    if (nlink === 0 && exeName.startsWith('memfd:')) {
      // libs reports the memfd's dentry name (`memfd:<name>`), which is what Falco's rules
      // compare with (`proc.exepath = "memfd:runc_cloned:/proc/self/exe"`).
      exeFlags |= EXE_FROM_MEMFD;
      exepath = exeName;
    } else {
      // /proc/<pid>/exe is the kernel's d_path of the file, as libs reports it; the process may
      // be gone (or exec'ed again) by now, in which case the path is resolved by hand.
      const l = safeLink(`${this.root}/${pid}/exe`);
      if (l !== undefined && path.basename(l.replace(/ \(deleted\)$/, '')) === exeName) exepath = l;
      else {
        const abs = filename.startsWith('/') ? normalizePath(filename) : normalizePath(cwd + '/' + filename);
        const rootDir = container.id === 'host' ? '' : this.rootOf([pid, ppid], container);
        exepath = rootDir === undefined ? abs : this.resolveIn(rootDir, abs);
      }
    }
    const pidnsStart = BigInt(f[15] ?? '0');
    const capE = hexBig(f[5]);
    let snap: ProcSnap = {
      pid, ppid, vpid: Number(f[10]), vpgid: Number(f[11]), pgid: Number(f[9]), sid: Number(f[8]),
      comm: path.basename(filename).slice(0, 15), exe: argv[0] ?? '', exepath, args: argv.slice(1), env, cwd,
      uid: euid, gid: egid, loginuid, tty: ttyNr(Number(f[12])),
      startNs: base && prev && !prev.snap.partial ? prev.snap.startNs : this.o.bootEpochNs + BigInt(r.tsText),
      pidnsInitStartNs: pidnsStart > 0n ? this.o.bootEpochNs + pidnsStart : undefined,
      exeFlags, capEffective: capE, capPermitted: hexBig(f[6]), capInheritable: hexBig(f[7]),
      container, ...(parentEntry ? { parent: parentEntry.snap } : {}),
      ...this.namesOrInherited(euid, egid, loginuid, container, pid, ppid, base),
    };
    if (exeFile) {
      if (!(exeFlags & EXE_FROM_MEMFD)) {
        snap = {
          ...snap, exeIno: exeFile.ino, exeCtimeNs: exeFile.ctime, exeMtimeNs: exeFile.mtime,
          exeFlags: exeFlags | exeFile.layer | (exeWritable(snap, exeFile.mode, exeFile.uid, exeFile.gid) ? EXE_WRITABLE : 0),
        };
      }
    } else {
      snap = this.withExeFile(snap, pid);
    }
    this.notePid(container, pid);
    const fds = prev ? prev.fds : new Map<number, FdSnap>();
    for (const [n, fd] of fds) if (fd.cloexec) fds.delete(n);
    const e: Entry = { snap, fds, xid: r.xid };
    if (prev) {
      e.prev = { snap: prev.snap, ...(prev.xid !== undefined ? { xid: prev.xid } : {}) };
      if (prev.deferred) e.deferred = prev.deferred;
    }
    this.procs.set(pid, e);
    this.graveyard.delete(pid);
    const xk = Number(f[1]);
    const type = xk === SC.execveat ? 'execveat' : 'execve';
    this.event(r, type, e, 0, [0, snap.exe, snap.args.join(' '), r.tid, pid, ppid, cwd, snap.comm, snap.tty, snap.vpgid,
      loginuid, snap.exeFlags, snap.capInheritable, snap.capPermitted, snap.capEffective, snap.exeIno, snap.exeCtimeNs,
      snap.exeMtimeNs, euid, exepath, snap.pgid, egid, filename]);
    if (e.deferred) this.flushDeferred(e, false);
  }

  private execFailed(r: Rec, e: Entry): void {
    const res = Number(r.f[0]);
    this.event(r, Number(r.f[1]) === SC.execveat ? 'execveat' : 'execve', e, res, [res, r.s ?? ''], undefined, PARAMS.execve_failed);
  }

  /** A new process as fork makes it: a copy of the parent (descriptors included). */
  private child(parent: Entry, pid: number, ppid: number, startNs: bigint, xid: number | undefined): Entry {
    const p = parent.snap;
    const snap: ProcSnap = { ...p, pid, ppid, vpid: p.vpid === p.pid ? pid : 0, startNs, parent: p };
    const e: Entry = { snap, fds: new Map(parent.fds) };
    if (xid !== undefined) e.xid = xid;
    return e;
  }

  private fork(r: Rec): void {
    const child = Number(r.f[0]);
    const kind = SC_NAME[Number(r.f[1])] ?? 'clone';
    const parent = this.procs.get(r.pid) ?? this.entry(r.pid);
    if (parent.xid === undefined) parent.xid = r.xid;
    const p = parent.snap;
    const forkNs = this.o.bootEpochNs + BigInt(r.tsText);
    const existing = this.procs.get(child);
    if (existing && existing.snap.ppid === r.pid && existing.snap.startNs >= forkNs) {
      // The child's own records came first (another CPU) and made it already: keep it.
      existing.snap = { ...existing.snap, startNs: forkNs };
    } else {
      // New, or a stale entry of an earlier process with the same pid.
      const e = this.child(parent, child, r.pid, forkNs, r.xid);
      this.procs.set(child, e);
      this.graveyard.delete(child);
      if (existing?.deferred) {
        e.deferred = existing.deferred;
        this.flushDeferred(e, false);
      }
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
    if (e.deferred) this.flushDeferred(e, true);
    if (!this.ignorePids.has(r.pid)) this.event(r, 'procexit', e, undefined, [0]);
    this.procs.delete(r.pid);
    this.graveyard.set(r.pid, { entry: e, until: Date.now() + GRAVEYARD_MS });
  }

  private open(r: Rec, e: Entry): void {
    const f = r.f;
    const sc = SC_NAME[Number(f[0])] ?? 'openat';
    const ret = Number(f[1]);
    const dirfd = Number(f[2]);
    const flags = Number(f[3]);
    const mode = Number(f[4]);
    const raw = longString(r.s ?? '', this.pendingOf(r));
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

  private close(r: Rec, e: Entry): void {
    const n = Number(r.f[0]);
    const fd = e.fds.get(n);
    if (fd) e.fds.delete(n);
    this.event(r, 'close', e, 0, [0, n], fd);
  }

  private closeRange(r: Rec, e: Entry): void {
    const first = Number(r.f[0]);
    const last = Number(r.f[1]);
    const cloexec = (Number(r.f[2]) & CLOSE_RANGE_CLOEXEC) !== 0;
    for (const [n, fd] of e.fds) {
      if (n < first || n > last) continue;
      if (cloexec) e.fds.set(n, { ...fd, cloexec: true });
      else e.fds.delete(n);
    }
  }

  private socket(r: Rec, e: Entry): void {
    const f = r.f;
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

  private connect(r: Rec, e: Entry): void {
    const f = r.f;
    const ret = Number(f[0]);
    const n = Number(f[1]);
    const fam = Number(f[2]);
    const old = e.fds.get(n);
    const pend = this.pendingOf(r);
    let fd: FdSnap | undefined;
    let tuple = '';
    if (fam === AF_INET || fam === AF_INET6) {
      const { rip, rport, lip, lport, type } = sockPair(f, 3, fam);
      tuple = `${lip}:${lport}->${rip}:${rport}`;
      const l = l4(Number(f[19]), Number(f[20]), fam) ?? old?.l4proto;
      fd = this.named({
        ...(old ?? {}), num: n, type, name: tuple, cip: lip, cport: lport, sip: rip, sport: rport, isServer: false,
        connected: ret === 0 || ret === EINPROGRESS, ...(l ? { l4proto: l } : {}),
      });
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

  private accept(r: Rec, e: Entry): void {
    const f = r.f;
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
        fd = this.named({
          num: ret, type, name: tuple, cip: rip, cport: rport, sip: lip, sport: lport, isServer: true, connected: true,
          cloexec: (flags & SOCK_CLOEXEC) !== 0, ...(l ? { l4proto: l } : {}),
        });
      } else {
        fd = { num: ret, type: famType(fam), name: e.fds.get(Number(f[2]))?.name ?? '', cloexec: (flags & SOCK_CLOEXEC) !== 0 };
      }
      this.setFd(e, fd);
    }
    const values: ParamValue[] = [ret, tuple, 0, 0, 0];
    if (sc === 'accept4') values.push(flags);
    this.event(r, sc, e, ret, values, fd);
  }

  /**
   * sendto/sendmsg/recvfrom/recvmsg with an IPv4/IPv6 peer on a socket that is not TCP (the
   * kernel side filters): as libs does for UDP, the descriptor takes the tuple of the datagram
   * (local -> peer for sends, peer -> local for receives), and fd.name_changed says whether
   * that is a new name.
   */
  private dgram(r: Rec, e: Entry): void {
    const f = r.f;
    const sc = SC_NAME[Number(f[0])] ?? 'sendto';
    const ret = Number(f[1]);
    const n = Number(f[2]);
    const fam = Number(f[3]);
    const { rip, rport, lip, lport, type } = sockPair(f, 4, fam);
    const send = sc === 'sendto' || sc === 'sendmsg';
    const tuple = send ? `${lip}:${lport}->${rip}:${rport}` : `${rip}:${rport}->${lip}:${lport}`;
    const old = e.fds.get(n);
    const l = l4(Number(f[20]), Number(f[21]), Number(f[19]) || fam) ?? old?.l4proto;
    const changed = old?.name !== tuple;
    const fd = this.named({
      ...(old ?? { cloexec: false }), num: n, type, name: tuple,
      ...(send ? { cip: lip, cport: lport, sip: rip, sport: rport, isServer: false } : { cip: rip, cport: rport, sip: lip, sport: lport, isServer: true }),
      // A connected UDP socket has a peer (skc_dport); sendto on it still names one.
      connected: old?.connected ?? Number(f[13]) !== 0, ...(l ? { l4proto: l } : {}),
    });
    if (ret >= 0 && n >= 0) this.setFd(e, fd);
    const values: ParamValue[] = sc === 'recvfrom' ? [ret, undefined, tuple, n, undefined]
      : sc === 'recvmsg' ? [ret, undefined, undefined, tuple, undefined, n] : [ret, undefined, n, undefined, tuple];
    this.event(r, sc, e, ret, values, fd, undefined, undefined, ret >= 0 && changed);
  }

  private bind(r: Rec, e: Entry): void {
    const f = r.f;
    const ret = Number(f[0]);
    const n = Number(f[1]);
    const fam = Number(f[2]);
    const pend = this.pendingOf(r);
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

  private dup(r: Rec, e: Entry): void {
    const f = r.f;
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

  private cred(r: Rec, e: Entry): void {
    const f = r.f;
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

  private setsid(r: Rec, e: Entry): void {
    const ret = Number(r.f[0]);
    if (ret > 0) e.snap = { ...e.snap, sid: ret, pgid: ret, vpgid: e.snap.vpid, tty: 0 };
    this.event(r, 'setsid', e, ret, [ret]);
  }

  private setpgid(r: Rec, e: Entry): void {
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
  private pathCall(r: Rec, e: Entry): void {
    const f = r.f;
    const sc = SC_NAME[Number(f[0])] ?? '';
    const ret = Number(f[1]);
    const s = r.s ?? '';
    const pend = this.pendingOf(r);
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
      case 'rmdir': paths = one(s, AT_FDCWD); values = [ret, paths.name]; break;
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
    const now = Date.now();
    for (const [pid, g] of this.graveyard) if (g.until < now) this.graveyard.delete(pid);
    if (this.parts.size > 10_000) this.parts.clear();
    if (this.pending.size > 10_000) this.pending.clear();
    return n;
  }
}

/** libs: inode_permission(MAY_WRITE) for the process; CAP_DAC_OVERRIDE writes anything. */
function exeWritable(p: ProcSnap, mode: number, uid: number, gid: number): boolean {
  return ((p.capEffective ?? 0n) & CAP_DAC_OVERRIDE) !== 0n || (p.uid === uid && (mode & 0o200) !== 0) ||
    (p.gid === gid && (mode & 0o020) !== 0) || (mode & 0o002) !== 0;
}

/**
 * A NUL-separated list read in chunks by the kernel side (argv, environment), `len` bytes in
 * all: when the chunks hold less, the rest comes from /proc/<pid>/<file> if the process still
 * runs that image.
 */
function nulChunks(chunks: string[], len: number, pid: number, file: 'cmdline' | 'environ', root: string): Buffer {
  const got = decodeBuf(chunks.join(''));
  if (got.length >= len) return got.subarray(0, len);
  const full = completeFromProc(pid, file, got, root);
  return full ? full.subarray(0, len) : got;
}

/** A path read by the kernel side in pieces (the record's string, then its continuations). */
export function longString(s: string, pend: readonly (string | undefined)[]): string {
  let out = s;
  for (let k = 1; k <= PATH_CONT; k++) {
    const c = pend[PATH_SLOT + k];
    if (c === undefined) break;
    out += c;
  }
  return out;
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
