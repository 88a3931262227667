/**
 * Extraction of syscall fields from live events (the sensor's state snapshots), with Falco's
 * semantics. Each entry binds a field (and its argument) to a function of the event; a field
 * with no entry here is listed as not supported by `vigil rules fields` and is missing on live
 * events (recorded events carry their values and do not come here).
 *
 * Semantics worth knowing (as libsinsp):
 * - proc.cwd ends with `/`; proc.cmdline is proc.name then the arguments; proc.exe is argv[0].
 * - Ancestors: `[0]` is the process, `[1]` the parent...; without argument, the list of every
 *   ancestor (parent first), matched as "any".
 * - Session and group leaders (proc.sname, proc.vpgid.name, ...): the ancestor whose pid is the
 *   id, else the eldest ancestor still in the same session or group.
 * - fd.ip/fd.port/fd.net are "either end" fields: lists of the client and server values.
 * - Container fields other than container.id and container.start_ts need the runtime's
 *   metadata; without it they are missing (`<NA>`).
 */
import type { FdSnap, LiveData, ProcSnap, SyscallEvent } from '../../events/syscall.ts';
import { EXE_FROM_MEMFD, EXE_LOWER_LAYER, EXE_UPPER_LAYER, EXE_WRITABLE, FD_TYPECHAR } from '../../events/syscall.ts';
import { formatDateTime, formatIso8601, formatTime, getHostname } from '../generic.ts';
import { capsText, errnoName, renderArgs, renderParam, type RenderContext } from './render.ts';

export type LiveExtract = (ev: SyscallEvent) => unknown;
type Bind = (arg: string | undefined) => LiveExtract | undefined;

const SHELLS = new Set(['ash', 'bash', 'csh', 'ksh', 'sh', 'tcsh', 'zsh', 'dash']);
/** Event types that are not syscalls (syscall.type is missing for them). */
const NOT_SYSCALLS = new Set(['procexit']);
const OPEN_TYPES = new Set(['open', 'openat', 'openat2', 'creat']);

const CATEGORY: Record<string, string> = {
  open: 'file', openat: 'file', openat2: 'file', creat: 'file', close: 'file', unlink: 'file', unlinkat: 'file',
  rename: 'file', renameat: 'file', renameat2: 'file', mkdir: 'file', mkdirat: 'file', chmod: 'file', fchmod: 'file',
  fchmodat: 'file', link: 'file', linkat: 'file', symlink: 'file', symlinkat: 'file', dup: 'file', dup2: 'file',
  dup3: 'file', fcntl: 'file', chdir: 'file', fchdir: 'file', mount: 'file',
  socket: 'net', connect: 'net', accept: 'net', accept4: 'net', bind: 'net', listen: 'net',
  execve: 'process', execveat: 'process', clone: 'process', clone3: 'process', fork: 'process', vfork: 'process',
  procexit: 'process', ptrace: 'process', setsid: 'process', setpgid: 'process',
  setuid: 'user', setgid: 'user', setreuid: 'user', setregid: 'user', setresuid: 'user', setresgid: 'user',
  memfd_create: 'memory', init_module: 'system', finit_module: 'system', rmdir: 'file',
  sendto: 'net', sendmsg: 'net', recvfrom: 'net', recvmsg: 'net',
};
const IO_READ = new Set(['recvfrom', 'recvmsg']);
const IO_WRITE = new Set(['sendto', 'sendmsg']);

const L = (ev: SyscallEvent): LiveData => ev.live!;
const P = (ev: SyscallEvent): ProcSnap | undefined => {
  const p = ev.live!.proc;
  return p.partial ? undefined : p;
};
const F = (ev: SyscallEvent): FdSnap | undefined => ev.live!.fd;

/** Number when it fits in a double exactly, else bigint. */
function ns(v: bigint): number | bigint {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

function ancestor(p: ProcSnap | undefined, n: number): ProcSnap | undefined {
  let q = p;
  for (let i = 0; i < n && q; i++) q = q.parent?.partial ? undefined : q.parent;
  return q;
}

function ancestors(p: ProcSnap | undefined): ProcSnap[] {
  const out: ProcSnap[] = [];
  let q = p?.parent;
  const seen = new Set<ProcSnap>();
  while (q && !q.partial && !seen.has(q) && out.length < 64) {
    seen.add(q);
    out.push(q);
    q = q.parent;
  }
  return out;
}

/** Value of NAME in a `NAME=value` list; '' when absent. */
function envValue(env: readonly string[], name: string): string {
  const pre = name + '=';
  for (const v of env) if (v.startsWith(pre)) return v.slice(pre.length);
  return '';
}

const cmdline = (p: ProcSnap): string => (p.args.length ? `${p.comm} ${p.args.join(' ')}` : p.comm);
const exeline = (p: ProcSnap): string => (p.args.length ? `${p.exe} ${p.args.join(' ')}` : p.exe);

/** proc.X, proc.pX, proc.aX[n] / proc.aX for one process attribute. */
function family(get: (p: ProcSnap) => unknown): { self: Bind; parent: Bind; anc: Bind } {
  return {
    self: () => (ev) => { const p = P(ev); return p ? get(p) : undefined; },
    parent: () => (ev) => { const p = ancestor(P(ev), 1); return p ? get(p) : undefined; },
    anc: (arg) => {
      if (arg === undefined) return (ev) => { const a = ancestors(P(ev)); return a.length ? a.map(get) : undefined; };
      const n = Number(arg);
      return (ev) => { const p = ancestor(P(ev), n); return p ? get(p) : undefined; };
    },
  };
}

/** The leader of a session or group: the ancestor whose pid is `id`, else the eldest one sharing it. */
function leader(p: ProcSnap | undefined, id: (q: ProcSnap) => number, pidOf: (q: ProcSnap) => number): ProcSnap | undefined {
  if (!p) return undefined;
  const want = id(p);
  if (pidOf(p) === want) return p;
  let eldest: ProcSnap = p;
  for (const a of ancestors(p)) {
    if (id(a) !== want) break;
    if (pidOf(a) === want) return a;
    eldest = a;
  }
  return eldest;
}

function renderCtx(ev: SyscallEvent): RenderContext {
  const l = L(ev);
  const p = l.proc;
  return {
    type: l.type, ...(l.fd ? { fd: l.fd } : {}),
    userName: (uid) => (uid === p.uid ? p.userName : uid === 0 ? 'root' : undefined),
    groupName: (gid) => (gid === p.gid ? p.groupName : gid === 0 ? 'root' : undefined),
  };
}

function param(ev: SyscallEvent, arg: string): { name: string; value: unknown } | undefined {
  const l = L(ev);
  if (/^\d+$/.test(arg)) {
    const i = Number(arg);
    return i < l.names.length ? { name: l.names[i]!, value: l.values[i] } : undefined;
  }
  const i = l.names.indexOf(arg);
  return i < 0 ? undefined : { name: arg, value: l.values[i] };
}

function isOpen(ev: SyscallEvent): boolean {
  return OPEN_TYPES.has(L(ev).type);
}

function openFlags(ev: SyscallEvent): number | undefined {
  const l = L(ev);
  if (l.type === 'creat') return 0o1101;
  const i = l.names.indexOf('flags');
  return i < 0 ? undefined : (l.values[i] as number);
}

function openMode(ev: SyscallEvent): number {
  const l = L(ev);
  const i = l.names.indexOf('mode');
  return i < 0 ? 0 : Number(l.values[i] ?? 0);
}

/** Local and remote ends of a socket descriptor. */
function ends(fd: FdSnap | undefined): { lip?: string; lport?: number; rip?: string; rport?: number } | undefined {
  if (!fd || (fd.type !== 'ipv4' && fd.type !== 'ipv6')) return undefined;
  return fd.isServer
    ? { lip: fd.sip, lport: fd.sport, rip: fd.cip, rport: fd.cport }
    : { lip: fd.cip, lport: fd.cport, rip: fd.sip, rport: fd.sport };
}

const isFile = (fd: FdSnap): boolean => fd.type === 'file' || fd.type === 'directory';
const isSock = (fd: FdSnap | undefined): fd is FdSnap => !!fd && (fd.type === 'ipv4' || fd.type === 'ipv6');

function dirname(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

const proc = (get: (p: ProcSnap) => unknown): Bind => () => (ev) => { const p = P(ev); return p ? get(p) : undefined; };
const fdf = (get: (fd: FdSnap) => unknown): Bind => () => (ev) => { const fd = F(ev); return fd ? get(fd) : undefined; };
const sockf = (get: (fd: FdSnap) => unknown): Bind => () => (ev) => { const fd = F(ev); return isSock(fd) ? get(fd) : undefined; };
const meta = <K extends string>(get: (m: NonNullable<ProcSnap['container']['meta']>) => unknown, _k?: K): Bind =>
  () => (ev) => { const m = P(ev)?.container.meta; return m ? get(m) : undefined; };
const konst = (v: unknown): Bind => () => () => v;

const exe = family((p) => p.exe);
const exepath = family((p) => p.exepath);
const name = family((p) => p.comm);
const cmd = family(cmdline);
const pid = family((p) => p.pid);

const TABLE: Record<string, Bind> = {
  // ---- evt: generic
  'evt.num': () => (ev) => ev.num,
  'evt.time': () => (ev) => formatTime(ev.timeNs, true),
  'evt.time.s': () => (ev) => formatTime(ev.timeNs, false),
  'evt.time.iso8601': () => (ev) => formatIso8601(ev.timeNs),
  'evt.datetime': () => (ev) => formatDateTime(ev.timeNs, true),
  'evt.datetime.s': () => (ev) => formatDateTime(ev.timeNs, false),
  'evt.outputtime': () => (ev) => formatTime(ev.timeNs, true),
  'evt.rawtime': () => (ev) => ev.timeNs,
  'evt.rawtime.s': () => (ev) => Number(ev.timeNs / 1_000_000_000n),
  'evt.rawtime.ns': () => (ev) => Number(ev.timeNs % 1_000_000_000n),
  'evt.source': konst('syscall'),
  'evt.hostname': () => () => getHostname(),
  'evt.is_async': konst(false),
  'evt.latency': konst(0), 'evt.latency.s': konst(0), 'evt.latency.ns': konst(0), 'evt.latency.quantized': konst(0),
  'evt.latency.human': konst('0ns'),
  'evt.wait_latency': konst(0),

  // ---- evt: the syscall
  'evt.dir': konst('<'),
  'evt.type': () => (ev) => L(ev).type,
  'evt.type.is': (arg) => (ev) => (L(ev).type === arg ? 1 : 0),
  'syscall.type': () => (ev) => (NOT_SYSCALLS.has(L(ev).type) ? undefined : L(ev).type),
  'evt.category': () => (ev) => CATEGORY[L(ev).type] ?? 'other',
  'evt.args': () => (ev) => renderArgs(L(ev).names, L(ev).values, renderCtx(ev)),
  'evt.info': () => (ev) => renderArgs(L(ev).names, L(ev).values, renderCtx(ev)),
  'evt.arg': (arg) => (ev) => {
    const p = param(ev, arg!);
    return p ? renderParam(p.name, p.value, renderCtx(ev)) : undefined;
  },
  'evt.rawarg': (arg) => (ev) => {
    const p = param(ev, arg!);
    return p?.value;
  },
  'evt.res': () => (ev) => { const r = L(ev).res; return r === undefined ? undefined : errnoName(r); },
  'evt.rawres': () => (ev) => L(ev).res,
  'evt.failed': () => (ev) => { const r = L(ev).res; return r === undefined ? undefined : r < 0; },
  'evt.count': konst(1),
  'evt.count.error': () => (ev) => ((L(ev).res ?? 0) < 0 ? 1 : 0),
  'evt.count.error.file': () => (ev) => ((L(ev).res ?? 0) < 0 && CATEGORY[L(ev).type] === 'file' ? 1 : 0),
  'evt.count.error.net': () => (ev) => ((L(ev).res ?? 0) < 0 && CATEGORY[L(ev).type] === 'net' ? 1 : 0),
  'evt.count.error.memory': () => (ev) => ((L(ev).res ?? 0) < 0 && CATEGORY[L(ev).type] === 'memory' ? 1 : 0),
  'evt.count.error.other': () => (ev) => {
    const c = CATEGORY[L(ev).type];
    return (L(ev).res ?? 0) < 0 && c !== 'file' && c !== 'net' && c !== 'memory' ? 1 : 0;
  },
  'evt.count.exit': konst(1),
  // Of the I/O calls, the sensor traces datagrams with an address (see sources/syscall/script.ts).
  'evt.is_io': () => (ev) => IO_READ.has(L(ev).type) || IO_WRITE.has(L(ev).type),
  'evt.is_io_read': () => (ev) => IO_READ.has(L(ev).type),
  'evt.is_io_write': () => (ev) => IO_WRITE.has(L(ev).type),
  'evt.is_wait': konst(false), 'evt.is_syslog': konst(false),
  'evt.is_open_read': () => (ev) => {
    if (!isOpen(ev)) return false;
    const acc = (openFlags(ev) ?? 0) & 3;
    return acc === 0 || acc === 2;
  },
  'evt.is_open_write': () => (ev) => {
    if (!isOpen(ev)) return false;
    const acc = (openFlags(ev) ?? 0) & 3;
    return acc === 1 || acc === 2;
  },
  'evt.is_open_create': () => (ev) => isOpen(ev) && ((openFlags(ev) ?? 0) & 0o100) !== 0,
  'evt.is_open_exec': () => (ev) => isOpen(ev) && ((openFlags(ev) ?? 0) & 0o100) !== 0 && (openMode(ev) & 0o111) !== 0,
  'evt.abspath': () => (ev) => { const p = L(ev).paths; return p?.name ?? p?.target; },
  'evt.abspath.src': () => (ev) => { const p = L(ev).paths; return p?.source ?? p?.name; },
  'evt.abspath.dst': () => (ev) => L(ev).paths?.target,
  'fs.path.name': () => (ev) => L(ev).paths?.name,
  'fs.path.nameraw': () => (ev) => L(ev).paths?.nameRaw,
  'fs.path.source': () => (ev) => L(ev).paths?.source,
  'fs.path.sourceraw': () => (ev) => L(ev).paths?.sourceRaw,
  'fs.path.target': () => (ev) => L(ev).paths?.target,
  'fs.path.targetraw': () => (ev) => L(ev).paths?.targetRaw,

  // ---- proc
  'proc.exe': exe.self, 'proc.pexe': exe.parent, 'proc.aexe': exe.anc,
  'proc.exepath': exepath.self, 'proc.pexepath': exepath.parent, 'proc.aexepath': exepath.anc,
  'proc.name': name.self, 'proc.pname': name.parent, 'proc.aname': name.anc,
  'proc.cmdline': cmd.self, 'proc.pcmdline': cmd.parent, 'proc.acmdline': cmd.anc,
  'proc.apid': pid.anc,
  'proc.args': (arg) => (arg === undefined
    ? proc((p) => p.args.join(' '))(undefined)
    : proc((p) => p.args[Number(arg)])(undefined)),
  'proc.aargs': (arg) => family((p) => p.args.join(' ')).anc(arg),
  'proc.cmdnargs': proc((p) => p.args.length),
  'proc.cmdlenargs': proc((p) => p.args.reduce((s, a) => s + a.length, 0)),
  'proc.exeline': proc(exeline),
  // Environment: bare, the variables joined by spaces (as libs); [NAME], one value ('' when the
  // variable is not set). Missing when the environment was not read.
  'proc.env': (arg) => (arg === undefined
    ? proc((p) => p.env?.join(' '))(undefined)
    : proc((p) => (p.env ? envValue(p.env, arg) : undefined))(undefined)),
  'proc.aenv': (arg) => {
    if (arg === undefined) return family((p) => p.env?.join(' ')).anc(undefined);
    if (/^\d+$/.test(arg)) return family((p) => p.env?.join(' ')).anc(arg);
    return () => (ev: SyscallEvent) => {
      for (const a of ancestors(P(ev))) {
        const v = a.env ? envValue(a.env, arg) : '';
        if (v !== '') return v;
      }
      return '';
    };
  },
  'proc.cwd': proc((p) => (p.cwd.endsWith('/') ? p.cwd : p.cwd + '/')),
  'proc.loginshellid': proc((p) => {
    let id: number | undefined = SHELLS.has(p.comm) ? p.pid : undefined;
    for (const a of ancestors(p)) if (SHELLS.has(a.comm)) id = a.pid;
    return id;
  }),
  'proc.tty': proc((p) => p.tty),
  'proc.pid': proc((p) => p.pid),
  'proc.ppid': proc((p) => p.ppid),
  'proc.vpid': proc((p) => p.vpid),
  'proc.pvpid': () => (ev) => ancestor(P(ev), 1)?.vpid,
  'proc.sid': proc((p) => p.sid),
  'proc.sname': () => (ev) => leader(P(ev), (q) => q.sid, (q) => q.pid)?.comm,
  'proc.sid.exe': () => (ev) => leader(P(ev), (q) => q.sid, (q) => q.pid)?.exe,
  'proc.sid.exepath': () => (ev) => leader(P(ev), (q) => q.sid, (q) => q.pid)?.exepath,
  'proc.vpgid': proc((p) => p.vpgid),
  'proc.vpgid.name': () => (ev) => leader(P(ev), (q) => q.vpgid, (q) => q.vpid)?.comm,
  'proc.vpgid.exe': () => (ev) => leader(P(ev), (q) => q.vpgid, (q) => q.vpid)?.exe,
  'proc.vpgid.exepath': () => (ev) => leader(P(ev), (q) => q.vpgid, (q) => q.vpid)?.exepath,
  'proc.pgid': proc((p) => p.pgid),
  'proc.pgid.name': () => (ev) => leader(P(ev), (q) => q.pgid, (q) => q.pid)?.comm,
  'proc.pgid.exe': () => (ev) => leader(P(ev), (q) => q.pgid, (q) => q.pid)?.exe,
  'proc.pgid.exepath': () => (ev) => leader(P(ev), (q) => q.pgid, (q) => q.pid)?.exepath,
  'proc.duration': () => (ev) => { const p = P(ev); return p && p.startNs > 0n ? ns(ev.timeNs - p.startNs) : undefined; },
  'proc.ppid.duration': () => (ev) => { const p = ancestor(P(ev), 1); return p && p.startNs > 0n ? ns(ev.timeNs - p.startNs) : undefined; },
  'proc.pid.ts': proc((p) => (p.startNs > 0n ? ns(p.startNs) : undefined)),
  'proc.ppid.ts': () => (ev) => { const p = ancestor(P(ev), 1); return p && p.startNs > 0n ? ns(p.startNs) : undefined; },
  'proc.is_exe_writable': proc((p) => (p.exeFlags & EXE_WRITABLE) !== 0),
  'proc.is_exe_upper_layer': proc((p) => (p.exeFlags & EXE_UPPER_LAYER) !== 0),
  'proc.is_exe_lower_layer': proc((p) => (p.exeFlags & EXE_LOWER_LAYER) !== 0),
  'proc.is_exe_from_memfd': proc((p) => (p.exeFlags & EXE_FROM_MEMFD) !== 0),
  'proc.is_sid_leader': proc((p) => p.sid === p.vpid),
  'proc.is_vpgid_leader': proc((p) => p.vpgid === p.vpid),
  'proc.is_pgid_leader': proc((p) => p.pgid === p.pid),
  'proc.exe_ino': proc((p) => p.exeIno),
  'proc.exe_ino.ctime': proc((p) => p.exeCtimeNs),
  'proc.exe_ino.mtime': proc((p) => p.exeMtimeNs),
  'proc.exe_ino.ctime_duration_proc_start': proc((p) =>
    (p.exeCtimeNs !== undefined && p.startNs > 0n && p.startNs >= p.exeCtimeNs ? p.startNs - p.exeCtimeNs : undefined)),
  'proc.exe_ino.ctime_duration_pidns_start': proc((p) =>
    (p.exeCtimeNs !== undefined && p.pidnsInitStartNs !== undefined && p.exeCtimeNs >= p.pidnsInitStartNs ? p.exeCtimeNs - p.pidnsInitStartNs : undefined)),
  'proc.pidns_init_start_ts': proc((p) => p.pidnsInitStartNs),
  'thread.cap_permitted': proc((p) => capsText(p.capPermitted)),
  'thread.cap_inheritable': proc((p) => capsText(p.capInheritable)),
  'thread.cap_effective': proc((p) => capsText(p.capEffective)),
  'thread.tid': () => (ev) => L(ev).tid,
  'thread.ismain': () => (ev) => L(ev).tid === L(ev).proc.pid,
  'thread.vtid': () => (ev) => { const p = P(ev); return p && L(ev).tid === p.pid ? p.vpid : undefined; },
  'thread.nametid': () => (ev) => { const p = P(ev); return p ? `${p.comm}${L(ev).tid}` : undefined; },

  // ---- user, group
  'user.uid': proc((p) => p.uid),
  'user.name': proc((p) => p.userName),
  'user.homedir': proc((p) => p.userHome),
  'user.shell': proc((p) => p.userShell),
  'user.loginuid': proc((p) => p.loginuid),
  'user.loginname': proc((p) => p.loginName),
  'group.gid': proc((p) => p.gid),
  'group.name': proc((p) => p.groupName),

  // ---- fd
  'fd.num': fdf((fd) => fd.num),
  'fd.type': fdf((fd) => fd.type),
  'fd.typechar': fdf((fd) => FD_TYPECHAR[fd.type]),
  'fd.name': fdf((fd) => fd.name),
  'fd.nameraw': fdf((fd) => (isFile(fd) ? fd.nameRaw ?? fd.name : fd.name)),
  'fd.directory': fdf((fd) => (fd.type === 'directory' ? fd.name : fd.type === 'file' ? dirname(fd.name) : undefined)),
  'fd.filename': fdf((fd) => (fd.type === 'file' ? fd.name.slice(fd.name.lastIndexOf('/') + 1) : undefined)),
  'fd.cip': sockf((fd) => fd.cip),
  'fd.sip': sockf((fd) => fd.sip),
  'fd.lip': () => (ev) => ends(F(ev))?.lip,
  'fd.rip': () => (ev) => ends(F(ev))?.rip,
  'fd.cport': sockf((fd) => fd.cport),
  'fd.sport': sockf((fd) => fd.sport),
  'fd.lport': () => (ev) => ends(F(ev))?.lport,
  'fd.rport': () => (ev) => ends(F(ev))?.rport,
  'fd.ip': sockf((fd) => [fd.cip, fd.sip].filter((x) => x !== undefined)),
  'fd.port': sockf((fd) => [fd.cport, fd.sport].filter((x) => x !== undefined)),
  'fd.net': sockf((fd) => [fd.cip, fd.sip].filter((x) => x !== undefined)),
  'fd.cnet': sockf((fd) => fd.cip),
  'fd.snet': sockf((fd) => fd.sip),
  'fd.lnet': () => (ev) => ends(F(ev))?.lip,
  'fd.rnet': () => (ev) => ends(F(ev))?.rip,
  'fd.l4proto': fdf((fd) => fd.l4proto),
  'fd.sockfamily': fdf((fd) => (fd.type === 'ipv4' || fd.type === 'ipv6' ? 'ip' : fd.type === 'unix' ? 'unix' : undefined)),
  'fd.is_server': sockf((fd) => !!fd.isServer),
  'fd.connected': fdf((fd) => !!fd.connected),
  'fd.cip.name': sockf((fd) => fd.cipName),
  'fd.sip.name': sockf((fd) => fd.sipName),
  'fd.lip.name': sockf((fd) => (fd.isServer ? fd.sipName : fd.cipName)),
  'fd.rip.name': sockf((fd) => (fd.isServer ? fd.cipName : fd.sipName)),
  'fd.name_changed': () => (ev) => (F(ev) ? L(ev).fdNameChanged ?? L(ev).type === 'connect' : undefined),
  'fd.uid': () => (ev) => { const fd = F(ev); return fd ? `${L(ev).tid}${fd.num}` : undefined; },
  'fd.containername': () => (ev) => { const fd = F(ev); return fd ? `${L(ev).proc.container.id}${fd.name}` : undefined; },
  'fd.containerdirectory': () => (ev) => {
    const fd = F(ev);
    if (!fd || !isFile(fd)) return undefined;
    return `${L(ev).proc.container.id}${fd.type === 'directory' ? fd.name : dirname(fd.name)}`;
  },

  // ---- container and k8s (container plugin)
  'container.id': () => (ev) => L(ev).proc.container.id,
  'container.full_id': () => (ev) => { const c = L(ev).proc.container; return c.meta ? (c.fullId ?? c.id) : undefined; },
  'container.name': meta((m) => m.name),
  'container.image': meta((m) => m.image),
  'container.image.id': meta((m) => m.imageId),
  'container.type': meta((m) => m.type),
  'container.privileged': meta((m) => m.privileged),
  'container.image.repository': meta((m) => m.imageRepository),
  'container.image.tag': meta((m) => m.imageTag),
  'container.image.digest': meta((m) => m.imageDigest),
  'container.ip': meta((m) => m.ip),
  'container.mounts': meta((m) => m.mounts?.map((x) => `${x.source}:${x.dest}:${x.mode}:${x.rdwr}:${x.propagation}`).join(',')),
  'container.labels': meta((m) => (m.labels ? labelText(m.labels) : undefined)),
  'container.mount': (arg) => mount(arg!, 'source', (x) => `${x.source}:${x.dest}:${x.mode}:${x.rdwr}:${x.propagation}`),
  'container.mount.source': (arg) => mount(arg!, 'dest', (x) => x.source),
  'container.mount.dest': (arg) => mount(arg!, 'source', (x) => x.dest),
  'container.mount.mode': (arg) => mount(arg!, 'source', (x) => x.mode),
  'container.mount.rdwr': (arg) => mount(arg!, 'source', (x) => String(x.rdwr)),
  'container.mount.propagation': (arg) => mount(arg!, 'source', (x) => x.propagation),
  'container.label': (arg) => meta((m) => m.labels?.[arg!])(undefined),
  'container.start_ts': proc((p) => p.pidnsInitStartNs),
  'container.duration': () => (ev) => { const p = P(ev); return p?.pidnsInitStartNs !== undefined ? ns(ev.timeNs - p.pidnsInitStartNs) : undefined; },
  'k8s.pod.name': meta((m) => m.podName),
  'k8s.ns.name': meta((m) => m.podNamespace),
  'k8s.pod.uid': meta((m) => m.podUid),
  'k8s.pod.id': meta((m) => m.podUid),
  'k8s.pod.sandbox_id': meta((m) => m.podSandboxId?.slice(0, 12)),
  'k8s.pod.full_sandbox_id': meta((m) => m.podSandboxId),
  'k8s.pod.label': (arg) => meta((m) => (m.podLabels ?? m.labels)?.[arg!])(undefined),
  'k8s.pod.labels': meta((m) => { const l = m.podLabels ?? m.labels; return l ? labelText(l) : undefined; }),
  'k8s.pod.ip': meta((m) => m.ip),
};

type Mount = NonNullable<NonNullable<ProcSnap['container']['meta']>['mounts']>[number];

/** Glob as the plugin matches mount paths (`*` and `?`, `/` included). */
function globRe(g: string): RegExp {
  return new RegExp('^' + g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
}

/**
 * `container.mount*[arg]`: a mount by position (`[0]`) or by path glob, matched against the
 * source (or, for container.mount.source, the destination), as the container plugin does.
 */
function mount(arg: string, by: 'source' | 'dest', get: (m: Mount) => string): LiveExtract {
  const index = /^\d+$/.test(arg) ? Number(arg) : undefined;
  const re = index === undefined ? globRe(arg) : undefined;
  return (ev) => {
    const mounts = P(ev)?.container.meta?.mounts;
    if (!mounts) return undefined;
    const m = index !== undefined ? mounts[index] : mounts.find((x) => re!.test(by === 'source' ? x.source : x.dest));
    return m ? get(m) : undefined;
  };
}

/** Labels as the plugin prints them: `key:value` pairs, internal and annotation keys left out. */
function labelText(labels: Record<string, string>): string {
  return Object.keys(labels).sort()
    .filter((k) => !k.startsWith('annotation.') && !k.startsWith('io.kubernetes.'))
    .map((k) => (labels[k] ? `${k}:${labels[k]}` : k)).join(', ');
}

/** Fields the live sensor extracts (everything else is listed as not supported). */
export const LIVE_FIELDS: ReadonlySet<string> = new Set(Object.keys(TABLE));

/** Extractor of a field (canonical name and argument) for live events; undefined when not supported. */
export function liveExtractor(name: string, arg: string | undefined): LiveExtract | undefined {
  return TABLE[name]?.(arg);
}
