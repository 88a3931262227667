/**
 * The bpftrace program the sensor runs, generated for the kernel it runs on.
 *
 * Output protocol (bpftrace `-f json`, one JSON object per line; `printf` records arrive as
 * `{"type":"printf","data":"..."}`): each record is one line of tab-separated fields,
 *
 *     <code> \t <ts ns, CLOCK_MONOTONIC> \t <pid (tgid)> \t <tid> \t <ppid> \t <exec id>
 *            \t <fields...> [\t <string>]
 *
 * The parent pid and the kernel's per-process exec counter (`self_exec_id`, +1 at each exec)
 * ride on every record: bpftrace reads one perf buffer per CPU, so a child's first records can
 * arrive before its parent's fork record, and a process's records before its exec record (see
 * state.ts for how they are used).
 *
 * with at most one free-form string (a path, a name), always last, so that tabs inside it
 * cannot shift the other fields: the decoder splits off a fixed number of fields per code and
 * keeps the rest whole. JSON mode escapes newlines, quotes and control characters, so a file
 * name cannot forge a record. Two-string syscalls (rename, link, symlink, mount) print the
 * extra strings first as `P` records of the same thread and timestamp.
 *
 * Enter and exit are paired in the kernel, as Falco merges them into its exit event: each
 * `sys_enter_X` probe saves the arguments in per-thread maps (`@sc` holds the syscall the
 * saved arguments belong to), and `sys_exit_X` prints one record with arguments and return
 * value. Per-thread entries are deleted at exit of the syscall and when the thread dies.
 *
 * close is reported for sockets and directories only (see below).
 *
 * Codes: E exec (with A argv chunks, Y environment chunks, N exe dentry name, W exec filename,
 * G cgroup leaf names before it; E carries the executable's inode: number, times, mode, owner,
 * overlayfs layer),
 * e failed exec, F fork (parent side; threads are filtered out), X process exit, o open family,
 * c connect, a accept, b bind, l listen, s socket, d dup family and fcntl(F_DUPFD*), x close,
 * r close_range, u setuid family, p ptrace, U unlink, R rename, M mkdir, H chmod, T mount,
 * m memfd_create, S symlink, L link, K module load, D chdir/fchdir, z setsid, g setpgid,
 * n datagram sent to / received from an address (sendto, sendmsg, recvfrom, recvmsg; UDP and
 * other non-TCP IP sockets only), P pending string (also the continuations of a long open path,
 * slots PATH_SLOT + k), I bpftrace's own pid (printed from BEGIN).
 *
 * Limits (bpftrace 0.17): strings are at most 199 bytes (BPFTRACE_STRLEN max 200, the BPF stack
 * is 512 bytes; bpftrace refuses more). Open paths are read whole up to 995 bytes (continuation
 * probes, PATH_CONT); other paths are cut at 199 bytes. argv and the environment are read as
 * buffers of 200 bytes (ARGV_CHUNKS, ENV_CHUNKS), the rest completed from /proc (state.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** Largest string bpftrace 0.17 can read at once. */
export const STRLEN = 200;
/** argv is read in chunks of STRLEN bytes, this many at most (proc.args up to 800 bytes). */
export const ARGV_CHUNKS = 4;
/**
 * The environment is read like argv, this many chunks at most by default (4,000 bytes, about
 * Falco's 4,096); the rest is taken from /proc/<pid>/environ while the process is there
 * (state.ts). A program started with a variable appended (`env VAR=x cmd`) has it at the end,
 * after the whole inherited environment, so less would miss it once the process is gone.
 */
export const ENV_CHUNKS = 20;
/** Largest number of env chunks a caller may ask for (the program grows by one probe each). */
export const MAX_ENV_CHUNKS = 20;
/**
 * Continuations of a long user-space path (open, exec and path syscalls): each adds STRLEN - 1
 * bytes, so paths up to 199 * (1 + PATH_CONT) bytes are read whole.
 */
export const PATH_CONT = 4;
/** Pending-string slot of the first continuation of a long path (slot + k for the k-th). */
export const PATH_SLOT = 10;
/** overlayfs's s_magic. */
export const OVERLAYFS_SUPER_MAGIC = 0x794c7630;

export interface KernelFeatures {
  /** tracefs folder with `events/`. */
  tracefs: string;
  /** Syscalls with tracepoints on this kernel (e.g. no `open` on arm64). */
  syscalls: Set<string>;
  /** `sched_process_exit` has `group_dead` (5.x+): process exit vs thread exit. */
  exitHasGroupDead: boolean;
  /** kernel_cap_t is `{ u64 val }` (6.3+) rather than `{ u32 cap[2] }`. */
  capIsU64: boolean;
  /** cgroup v1 subsystem ids to read the leaf cgroup name of (one per hierarchy). */
  cgroupSubsys: Array<{ id: number; name: string }>;
  /**
   * How struct inode keeps its times (from the kernel's BTF names): `split` (6.11+,
   * `i_ctime_sec`/`i_ctime_nsec`), `dunder` (6.7-6.10, `__i_ctime`/`__i_mtime`), `ctime66`
   * (6.6, `__i_ctime` and `i_mtime`), `plain` (older, `i_ctime`/`i_mtime`).
   */
  inodeTimes: 'split' | 'dunder' | 'ctime66' | 'plain';
}

export const TRACEFS_CANDIDATES = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

export function findTracefs(): string | undefined {
  return TRACEFS_CANDIDATES.find((d) => existsSync(`${d}/events/syscalls`));
}

/** Preferred v1 controllers for the container id (kubelet puts a container in every one). */
const CGROUP_PREFERENCE = ['pids', 'memory', 'cpu', 'cpuacct', 'cpuset', 'blkio', 'devices', 'freezer'];
const MAX_V1_HIERARCHIES = 3;

export function probeKernel(tracefs: string): KernelFeatures {
  const syscalls = new Set<string>();
  const dir = `${tracefs}/events/syscalls`;
  for (const name of WANTED_SYSCALLS) if (existsSync(`${dir}/sys_enter_${name}`)) syscalls.add(name);
  let exitHasGroupDead = false;
  try {
    exitHasGroupDead = readFileSync(`${tracefs}/events/sched/sched_process_exit/format`, 'utf8').includes('group_dead');
  } catch { /* keep false */ }
  const [maj = 0, min = 0] = os.release().split(/[.-]/).map((x) => Number(x));
  const capIsU64 = maj > 6 || (maj === 6 && min >= 3);
  return { tracefs, syscalls, exitHasGroupDead, capIsU64, cgroupSubsys: cgroupSubsystems(), inodeTimes: inodeTimes() };
}

/** Member names are strings of the BTF blob: which ones exist tells the layout of struct inode. */
function inodeTimes(): KernelFeatures['inodeTimes'] {
  let btf: Buffer;
  try {
    btf = readFileSync('/sys/kernel/btf/vmlinux');
  } catch {
    return 'plain';
  }
  const has = (name: string): boolean => btf.includes(Buffer.from(`\0${name}\0`));
  if (has('i_ctime_sec') && has('i_mtime_sec')) return 'split';
  if (has('__i_ctime') && has('__i_mtime')) return 'dunder';
  if (has('__i_ctime')) return 'ctime66';
  return 'plain';
}

/** ns-since-epoch expressions for the ctime and mtime of inode expression `i`. */
function inodeTimeExprs(k: KernelFeatures, i: string): [ctime: string, mtime: string] {
  const ts = (e: string): string => `(uint64)${e}.tv_sec * 1000000000 + (uint64)${e}.tv_nsec`;
  switch (k.inodeTimes) {
    // The top bits of i_ctime_nsec are flags (multigrain timestamps, 6.13+).
    case 'split': return [`(uint64)${i}->i_ctime_sec * 1000000000 + (uint64)(${i}->i_ctime_nsec & 0x3fffffff)`,
      `(uint64)${i}->i_mtime_sec * 1000000000 + (uint64)(${i}->i_mtime_nsec & 0x3fffffff)`];
    case 'dunder': return [ts(`${i}->__i_ctime`), ts(`${i}->__i_mtime`)];
    case 'ctime66': return [ts(`${i}->__i_ctime`), ts(`${i}->i_mtime`)];
    default: return [ts(`${i}->i_ctime`), ts(`${i}->i_mtime`)];
  }
}

/**
 * /proc/cgroups lists the compiled-in controllers in the order of their subsystem ids, with
 * the hierarchy each is mounted on (0: not on a v1 hierarchy). One controller per hierarchy.
 */
function cgroupSubsystems(): Array<{ id: number; name: string }> {
  let text = '';
  try {
    text = readFileSync('/proc/cgroups', 'utf8');
  } catch {
    return [];
  }
  const rows = text.split('\n').filter((l) => l && !l.startsWith('#')).map((l, id) => {
    const [name = '', hier = '0', , enabled = '0'] = l.split('\t');
    return { id, name, hier: Number(hier), enabled: enabled === '1' };
  });
  const chosen: Array<{ id: number; name: string }> = [];
  const hiers = new Set<number>();
  for (const pref of CGROUP_PREFERENCE) {
    const r = rows.find((x) => x.name === pref && x.enabled && x.hier > 0);
    if (!r || hiers.has(r.hier)) continue;
    hiers.add(r.hier);
    chosen.push({ id: r.id, name: r.name });
    if (chosen.length >= MAX_V1_HIERARCHIES) break;
  }
  return chosen;
}

/** Every syscall the program may trace (those missing on this kernel are left out). */
export const WANTED_SYSCALLS = [
  'execve', 'execveat', 'clone', 'clone3', 'fork', 'vfork',
  'open', 'openat', 'openat2', 'creat', 'close', 'close_range',
  'connect', 'accept', 'accept4', 'bind', 'listen', 'socket',
  'dup', 'dup2', 'dup3', 'fcntl',
  'setuid', 'setgid', 'setreuid', 'setregid', 'setresuid', 'setresgid',
  'ptrace', 'unlink', 'unlinkat', 'rename', 'renameat', 'renameat2', 'mkdir', 'mkdirat',
  'chmod', 'fchmod', 'fchmodat', 'mount', 'memfd_create', 'symlink', 'symlinkat', 'link', 'linkat',
  'init_module', 'finit_module', 'chdir', 'fchdir', 'setsid', 'setpgid',
  // Appended (ids are positions): datagram I/O with an address, and rmdir.
  'sendto', 'sendmsg', 'recvfrom', 'recvmsg', 'rmdir',
];

/** Numeric ids the program writes in `@sc` and in records (`sc` fields). */
export const SC: Record<string, number> = Object.fromEntries(WANTED_SYSCALLS.map((n, i) => [n, i + 1]));

// ---------------------------------------------------------------------------------------------
// Generation

const KERNEL_STRUCTS = ['pid', 'dentry', 'inode', 'super_block', 'kernfs_node', 'file', 'socket', 'sock', 'tty_struct',
  'tty_driver', 'cred', 'signal_struct', 'nsproxy', 'pid_namespace', 'mm_struct', 'css_set', 'cgroup', 'fdtable',
  'files_struct', 'task_struct'];

const HEAD = '$ts = nsecs;';
/** Every record starts with time, pid, tid, parent pid and the exec counter of the process. */
const PFX = '%llu\\t%d\\t%d\\t%d\\t%llu';
const PARGS = '$ts, pid, tid, curtask->real_parent->tgid, curtask->self_exec_id';

/** Per-thread argument maps; one syscall at a time per thread, so they are shared. */
const STR_MAPS = ['@p1', '@p2', '@p3'];
const INT_MAPS = ['@n1', '@n2', '@n3', '@n4', '@n5'];

/** Placeholder for "delete every per-thread map entry"; filled in once all maps are known. */
const CLEANUP = '__CLEANUP__';
function cleanup(): string {
  return CLEANUP;
}

/** bpftrace refuses to delete from a map never assigned: delete only the maps the script sets. */
function fillCleanup(script: string): string {
  const used = new Set<string>();
  for (const m of script.matchAll(/(@[a-z0-9]+)\[[a-z_>-]+\] =/g)) used.add(m[1]!);
  const all = ['@sc', '@lc', ...STR_MAPS, ...INT_MAPS].filter((m) => used.has(m));
  // bpftrace prints every non-empty map when it stops; nothing of ours is meant for that.
  const end = `END { ${[...used].sort().map((m) => `clear(${m});`).join(' ')} }\n`;
  return script.replaceAll(CLEANUP, all.map((m) => `delete(${m}[tid]);`).join(' ')) + end;
}

/** Statements that set `$sk` to the `struct sock *` behind fd expression `fd`. */
function sockOf(fd: string): string {
  return `$f = (struct file *)*(uint64 *)((uint64)curtask->files->fdt->fd + 8 * (uint64)(${fd})); ` +
    `$sk = ((struct socket *)$f->private_data)->sk;`;
}

/** printf arguments: local port, 4 words of local address, remote port, 4 words of remote. */
const SK_ADDRS = '$sk->__sk_common.skc_num, ' +
  '$sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[0], $sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[1], ' +
  '$sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[2], $sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[3], ' +
  '$sk->__sk_common.skc_rcv_saddr, ' +
  '$sk->__sk_common.skc_dport, ' +
  '$sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[0], $sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[1], ' +
  '$sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[2], $sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[3], ' +
  '$sk->__sk_common.skc_daddr, $sk->__sk_common.skc_family, $sk->sk_protocol, $sk->sk_type';
const SK_FMT = '%d\\t%x\\t%x\\t%x\\t%x\\t%x\\t%d\\t%x\\t%x\\t%x\\t%x\\t%x\\t%d\\t%d\\t%d';

/** For AF_UNIX, the socket path goes first as a pending string (slot 1). */
const UNIX_PATH = `if (@n2[tid] == 1) { printf("P\\t${PFX}\\t1\\t%s\\n", ${PARGS}, str(uptr(@p1[tid]))); }`;

/** Save a user sockaddr: family, port (network order), 4 address words (v4 in the first). */
function saveSockaddr(ptr: string): string {
  return `$sa = (uint64)${ptr}; @n2[tid] = *(uint16 *)uptr($sa); @n3[tid] = *(uint16 *)uptr($sa + 2); ` +
    `if (@n2[tid] == 10) { @n4[tid] = *(uint64 *)uptr($sa + 8); @n5[tid] = *(uint64 *)uptr($sa + 16); } ` +
    `else { @n4[tid] = *(uint32 *)uptr($sa + 4); @n5[tid] = 0; } ` +
    `if (@n2[tid] == 1) { @p1[tid] = $sa + 2; }`;
}

export interface ScriptOptions {
  /** Environment chunks read at exec (STRLEN bytes each; 0: no environment). Default ENV_CHUNKS. */
  envChunks?: number;
}

export function generateScript(k: KernelFeatures, opts: ScriptOptions = {}): string {
  const envChunks = Math.max(0, Math.min(MAX_ENV_CHUNKS, Math.floor(opts.envChunks ?? ENV_CHUNKS)));
  const out: string[] = [];
  const has = (n: string): boolean => k.syscalls.has(n);
  const p = (s: string): void => void out.push(s);

  // Naming the kernel structs makes bpftrace 0.17 load their full BTF definitions; without it,
  // fields inside anonymous unions (dentry.d_name, inode.i_nlink on 6.x) are not found.
  p(`BEGIN { printf("I\\t%d\\n", pid); $x = ${KERNEL_STRUCTS.map((st) => `sizeof(struct ${st})`).join(' + ')}; }`);

  // ---- processes
  const cap = (set: string): string => (k.capIsU64 ? `$c->${set}.val` : `((uint64)$c->${set}.cap[1] << 32) | $c->${set}.cap[0]`);
  const pidOf = (expr: string): string => `*(int32 *)((uint64)${expr} + sizeof(struct pid))`;
  const vnr = (expr: string): string => `*(int32 *)((uint64)${expr} + sizeof(struct pid) + 16 * (uint64)$lvl)`;
  for (const sc of ['execve', 'execveat'].filter(has)) {
    p(`tracepoint:syscalls:sys_enter_${sc} { @sc[tid] = ${SC[sc]}; @p1[tid] = (uint64)args->filename; }`);
    p(`tracepoint:syscalls:sys_exit_${sc} /@sc[tid] == ${SC[sc]}/ { ${HEAD} if (args->ret < 0) { ` +
      `printf("e\\t${PFX}\\t%d\\t%d\\t%s\\n", ${PARGS}, args->ret, ${SC[sc]}, str(uptr(@p1[tid]))); } ${cleanup()} }`);
  }
  // sched_process_exec runs in the new image. Its parts are separate probes because each printf
  // with a 200-byte string needs its own stack space; probes on one tracepoint run in the order
  // they are defined, each reads nsecs, so sorting by time keeps A/N/G before E.
  const EXEC = 'tracepoint:sched:sched_process_exec';
  const chunks = (code: string, start: string, end: string, n: number): void => {
    for (let i = 0; i < n; i++) {
      p(`${EXEC} { ${HEAD} $mm = curtask->mm; $len = $mm->${end} - $mm->${start}; if ($len > ${i * STRLEN}) { ` +
        `printf("${code}\\t${PFX}\\t${i}\\t%r\\n", ${PARGS}, buf(uptr($mm->${start} + ${i * STRLEN}), ` +
        `$len - ${i * STRLEN} > ${STRLEN} ? ${STRLEN} : $len - ${i * STRLEN})); } }`);
    }
  };
  chunks('A', 'arg_start', 'arg_end', ARGV_CHUNKS);
  chunks('Y', 'env_start', 'env_end', envChunks);
  p(`${EXEC} { ${HEAD} $mm = curtask->mm; printf("N\\t${PFX}\\t%s\\n", ${PARGS}, str($mm->exe_file->f_path.dentry->d_name.name)); }`);
  p(`${EXEC} { ${HEAD} printf("W\\t${PFX}\\t%s\\n", ${PARGS}, str(args->filename)); }`);
  p(`${EXEC} { ${HEAD} printf("G\\t${PFX}\\t0\\t%s\\n", ${PARGS}, str(curtask->cgroups->dfl_cgrp->kn->name)); }`);
  k.cgroupSubsys.forEach((sub, i) => {
    p(`${EXEC} { ${HEAD} printf("G\\t${PFX}\\t${i + 1}\\t%s\\n", ${PARGS}, str(curtask->cgroups->subsys[${sub.id}]->cgroup->kn->name)); }`);
  });
  // The executable's inode as libs reads it at exec: number, times, owner and mode (for
  // EXE_WRITABLE), and its overlayfs layer: struct ovl_inode has the VFS inode followed by
  // `__upperdentry`, set when the file is on the upper (container's writable) layer. libs
  // reads the same word the same way (EXE_UPPER_LAYER / EXE_LOWER_LAYER).
  const [ctime, mtime] = inodeTimeExprs(k, '$i');
  p(`${EXEC} { ${HEAD} $t = curtask; $mm = $t->mm; $c = $t->cred; $i = $mm->exe_file->f_inode; ` +
    `$alen = $mm->arg_end - $mm->arg_start; $elen = $mm->env_end - $mm->env_start; ` +
    `$lay = 0; if ($i->i_sb->s_magic == ${OVERLAYFS_SUPER_MAGIC}) { $lay = 8; if (*(uint64 *)((uint64)$i + sizeof(struct inode)) != 0) { $lay = 2; } } ` +
    `$lvl = $t->thread_pid->level; $tty = $t->signal->tty; $ttyn = (int64)-1; ` +
    `if ($tty != 0) { $ttyn = (int64)(($tty->driver->major << 20) | ($tty->driver->minor_start + $tty->index)); } ` +
    `$xk = @xk[args->old_pid]; delete(@xk[args->old_pid]); ` +
    `printf("E\\t${PFX}\\t%d\\t%d\\t%d\\t%d\\t%d\\t%llx\\t%llx\\t%llx\\t%d\\t%d\\t%d\\t%d\\t%d\\t%d\\t%d\\t%llu\\t%d` +
    `\\t%d\\t%llu\\t%llu\\t%llu\\t%d\\t%d\\t%d\\t%d\\n", ${PARGS}, ` +
    `$t->real_parent->tgid, $xk, $c->euid.val, $c->egid.val, $t->loginuid.val, ${cap('cap_effective')}, ${cap('cap_permitted')}, ${cap('cap_inheritable')}, ` +
    `${pidOf('$t->signal->pids[3]')}, ${pidOf('$t->signal->pids[2]')}, ${vnr('$t->thread_pid')}, ${vnr('$t->signal->pids[2]')}, ` +
    `$ttyn, $i->i_nlink, $i->i_sb->s_magic, ` +
    `$t->nsproxy->pid_ns_for_children->child_reaper->start_time, $alen, ` +
    `$elen, $i->i_ino, ${ctime}, ${mtime}, $lay, $i->i_mode, $i->i_uid.val, $i->i_gid.val); }`);
  // The exec kind (execve/execveat) is saved at enter for sched_process_exec to find.
  for (const sc of ['execve', 'execveat'].filter(has)) {
    p(`tracepoint:syscalls:sys_enter_${sc} { @xk[tid] = ${SC[sc]}; }`);
  }
  // Clone flags of the creating thread tell a new process from a new thread.
  if (has('clone')) p(`tracepoint:syscalls:sys_enter_clone { @cf[tid] = args->clone_flags; @ck[tid] = ${SC.clone}; }`);
  if (has('clone3')) p(`tracepoint:syscalls:sys_enter_clone3 { @cf[tid] = *(uint64 *)uptr(args->uargs); @ck[tid] = ${SC.clone3}; }`);
  if (has('fork')) p(`tracepoint:syscalls:sys_enter_fork { @cf[tid] = 0; @ck[tid] = ${SC.fork}; }`);
  if (has('vfork')) p(`tracepoint:syscalls:sys_enter_vfork { @cf[tid] = 0; @ck[tid] = ${SC.vfork}; }`);
  p(`tracepoint:sched:sched_process_fork { ${HEAD} if ((@cf[tid] & 0x10000) == 0) { ` +
    `printf("F\\t${PFX}\\t%d\\t%d\\n", ${PARGS}, args->child_pid, @ck[tid]); } }`);
  for (const sc of ['clone', 'clone3', 'fork', 'vfork'].filter(has)) {
    p(`tracepoint:syscalls:sys_exit_${sc} { delete(@cf[tid]); delete(@ck[tid]); }`);
  }
  const dead = k.exitHasGroupDead ? 'args->group_dead' : 'pid == tid';
  p(`tracepoint:sched:sched_process_exit { ${HEAD} if (${dead}) { printf("X\\t${PFX}\\n", ${PARGS}); } ` +
    `${cleanup()} delete(@cf[tid]); delete(@ck[tid]); delete(@xk[tid]); }`);

  // ---- files
  /**
   * The rest of a path longer than one string, as pending strings (slots PATH_SLOT + k) printed
   * before the exit record: probe k runs only when the string read at offset 199 * (k - 1) filled
   * all 199 bytes, which bpftrace 0.17 (no strlen) tells by comparing the string read with
   * limits 200 and 198 (measured: `str(p, n)` keeps n characters for n < 200 and 199 for 200,
   * so 199 vs 200 never differ). A path of exactly 199 bytes gets an empty continuation. Each
   * step is its own probe (two strings fill most of the BPF stack).
   */
  const longPath = (sc: string, ptr: string): void => {
    for (let k = 1; k <= PATH_CONT; k++) {
      const at = `${ptr} + ${(k - 1) * (STRLEN - 1)}`;
      p(`tracepoint:syscalls:sys_exit_${sc} /@sc[tid] == ${SC[sc]}${k > 1 ? ` && @lc[tid] == ${k - 1}` : ''}/ { ` +
        `if (strncmp(str(uptr(${at}), ${STRLEN}), str(uptr(${at}), ${STRLEN - 2}), ${STRLEN}) != 0) { @lc[tid] = ${k}; } }`);
      p(`tracepoint:syscalls:sys_exit_${sc} /@sc[tid] == ${SC[sc]} && @lc[tid] == ${k}/ { ${HEAD} ` +
        `printf("P\\t${PFX}\\t${PATH_SLOT + k}\\t%s\\n", ${PARGS}, str(uptr(${ptr} + ${k * (STRLEN - 1)}))); }`);
    }
  };

  const open = (sc: string, enter: string): void => {
    p(`tracepoint:syscalls:sys_enter_${sc} { @sc[tid] = ${SC[sc]}; ${enter} }`);
    longPath(sc, '@p1[tid]');
    p(`tracepoint:syscalls:sys_exit_${sc} /@sc[tid] == ${SC[sc]}/ { ${HEAD} ` +
      `printf("o\\t${PFX}\\t%d\\t%d\\t%d\\t%d\\t%d\\t%s\\n", ${PARGS}, ${SC[sc]}, args->ret, @n1[tid], @n2[tid], @n3[tid], str(uptr(@p1[tid]))); ${cleanup()} }`);
  };
  if (has('open')) open('open', '@p1[tid] = (uint64)args->filename; @n1[tid] = -100; @n2[tid] = args->flags; @n3[tid] = args->mode;');
  if (has('openat')) open('openat', '@p1[tid] = (uint64)args->filename; @n1[tid] = args->dfd; @n2[tid] = args->flags; @n3[tid] = args->mode;');
  if (has('openat2')) {
    open('openat2', '@p1[tid] = (uint64)args->filename; @n1[tid] = args->dfd; ' +
      '@n2[tid] = *(uint64 *)uptr(args->how); @n3[tid] = *(uint64 *)uptr((uint64)args->how + 8);');
  }
  if (has('creat')) open('creat', '@p1[tid] = (uint64)args->pathname; @n1[tid] = -100; @n2[tid] = 0x241; @n3[tid] = args->mode;');
  // close is the busiest syscall there is; the state only needs it for sockets and
  // directories (a stale file entry is overwritten by the next open of that number), so the
  // kernel filters on the inode type.
  if (has('close')) {
    p(`tracepoint:syscalls:sys_enter_close { ${HEAD} ` +
      `$f = (struct file *)*(uint64 *)((uint64)curtask->files->fdt->fd + 8 * (uint64)args->fd); ` +
      `$m = $f->f_inode->i_mode & 0xf000; if ($m == 0xc000 || $m == 0x4000) { printf("x\\t${PFX}\\t%d\\n", ${PARGS}, args->fd); } }`);
  }
  if (has('close_range')) {
    p(`tracepoint:syscalls:sys_enter_close_range { ${HEAD} printf("r\\t${PFX}\\t%u\\t%u\\t%u\\n", ${PARGS}, args->fd, args->max_fd, args->flags); }`);
  }

  // Generic "path syscall" shape: enter saves up to three strings and three ints, exit prints.
  const pathCall = (code: string, sc: string, enter: string, ints: string[], strs: { main: string; pending?: Array<[slot: number, map: string]> }): void => {
    p(`tracepoint:syscalls:sys_enter_${sc} { @sc[tid] = ${SC[sc]}; ${enter} }`);
    const pend = (strs.pending ?? []).map(([slot, m]) => `printf("P\\t${PFX}\\t${slot}\\t%s\\n", ${PARGS}, str(uptr(${m}[tid])));`).join(' ');
    const fmt = ints.map(() => '\\t%d').join('');
    const vals = ints.length ? ', ' + ints.join(', ') : '';
    p(`tracepoint:syscalls:sys_exit_${sc} /@sc[tid] == ${SC[sc]}/ { ${HEAD} ${pend} ` +
      `printf("${code}\\t${PFX}\\t%d\\t%d${fmt}\\t%s\\n", ${PARGS}, ${SC[sc]}, args->ret${vals}, ${strs.main}); ${cleanup()} }`);
  };
  if (has('unlink')) pathCall('U', 'unlink', '@p1[tid] = (uint64)args->pathname; @n1[tid] = -100; @n2[tid] = 0;', ['@n1[tid]', '@n2[tid]'], { main: 'str(uptr(@p1[tid]))' });
  if (has('unlinkat')) pathCall('U', 'unlinkat', '@p1[tid] = (uint64)args->pathname; @n1[tid] = args->dfd; @n2[tid] = args->flag;', ['@n1[tid]', '@n2[tid]'], { main: 'str(uptr(@p1[tid]))' });
  const ren = (sc: string, enter: string): void => pathCall('R', sc, enter, ['@n1[tid]', '@n2[tid]', '@n3[tid]'], { main: 'str(uptr(@p2[tid]))', pending: [[1, '@p1']] });
  if (has('rename')) ren('rename', '@p1[tid] = (uint64)args->oldname; @p2[tid] = (uint64)args->newname; @n1[tid] = -100; @n2[tid] = -100; @n3[tid] = 0;');
  if (has('renameat')) ren('renameat', '@p1[tid] = (uint64)args->oldname; @p2[tid] = (uint64)args->newname; @n1[tid] = args->olddfd; @n2[tid] = args->newdfd; @n3[tid] = 0;');
  if (has('renameat2')) ren('renameat2', '@p1[tid] = (uint64)args->oldname; @p2[tid] = (uint64)args->newname; @n1[tid] = args->olddfd; @n2[tid] = args->newdfd; @n3[tid] = args->flags;');
  if (has('mkdir')) pathCall('M', 'mkdir', '@p1[tid] = (uint64)args->pathname; @n1[tid] = -100; @n2[tid] = args->mode;', ['@n1[tid]', '@n2[tid]'], { main: 'str(uptr(@p1[tid]))' });
  if (has('mkdirat')) pathCall('M', 'mkdirat', '@p1[tid] = (uint64)args->pathname; @n1[tid] = args->dfd; @n2[tid] = args->mode;', ['@n1[tid]', '@n2[tid]'], { main: 'str(uptr(@p1[tid]))' });
  if (has('chmod')) pathCall('H', 'chmod', '@p1[tid] = (uint64)args->filename; @n1[tid] = -100; @n2[tid] = args->mode;', ['@n1[tid]', '@n2[tid]'], { main: 'str(uptr(@p1[tid]))' });
  if (has('fchmodat')) pathCall('H', 'fchmodat', '@p1[tid] = (uint64)args->filename; @n1[tid] = args->dfd; @n2[tid] = args->mode;', ['@n1[tid]', '@n2[tid]'], { main: 'str(uptr(@p1[tid]))' });
  if (has('fchmod')) pathCall('H', 'fchmod', '@n1[tid] = args->fd; @n2[tid] = args->mode;', ['@n1[tid]', '@n2[tid]'], { main: '""' });
  if (has('mount')) {
    pathCall('T', 'mount', '@p1[tid] = (uint64)args->dev_name; @p2[tid] = (uint64)args->dir_name; @p3[tid] = (uint64)args->type; @n1[tid] = args->flags;',
      ['@n1[tid]'], { main: 'str(uptr(@p2[tid]))', pending: [[1, '@p1'], [3, '@p3']] });
  }
  if (has('memfd_create')) pathCall('m', 'memfd_create', '@p1[tid] = (uint64)args->uname; @n1[tid] = args->flags;', ['@n1[tid]'], { main: 'str(uptr(@p1[tid]))' });
  if (has('symlink')) pathCall('S', 'symlink', '@p1[tid] = (uint64)args->oldname; @p2[tid] = (uint64)args->newname; @n1[tid] = -100;', ['@n1[tid]'], { main: 'str(uptr(@p2[tid]))', pending: [[1, '@p1']] });
  if (has('symlinkat')) pathCall('S', 'symlinkat', '@p1[tid] = (uint64)args->oldname; @p2[tid] = (uint64)args->newname; @n1[tid] = args->newdfd;', ['@n1[tid]'], { main: 'str(uptr(@p2[tid]))', pending: [[1, '@p1']] });
  if (has('link')) pathCall('L', 'link', '@p1[tid] = (uint64)args->oldname; @p2[tid] = (uint64)args->newname; @n1[tid] = -100; @n2[tid] = -100; @n3[tid] = 0;', ['@n1[tid]', '@n2[tid]', '@n3[tid]'], { main: 'str(uptr(@p2[tid]))', pending: [[1, '@p1']] });
  if (has('linkat')) pathCall('L', 'linkat', '@p1[tid] = (uint64)args->oldname; @p2[tid] = (uint64)args->newname; @n1[tid] = args->olddfd; @n2[tid] = args->newdfd; @n3[tid] = args->flags;', ['@n1[tid]', '@n2[tid]', '@n3[tid]'], { main: 'str(uptr(@p2[tid]))', pending: [[1, '@p1']] });
  if (has('init_module')) pathCall('K', 'init_module', '@p1[tid] = (uint64)args->uargs; @n1[tid] = args->len; @n2[tid] = 0;', ['@n1[tid]', '@n2[tid]'], { main: 'str(uptr(@p1[tid]))' });
  if (has('finit_module')) pathCall('K', 'finit_module', '@p1[tid] = (uint64)args->uargs; @n1[tid] = args->fd; @n2[tid] = args->flags;', ['@n1[tid]', '@n2[tid]'], { main: 'str(uptr(@p1[tid]))' });
  if (has('rmdir')) pathCall('U', 'rmdir', '@p1[tid] = (uint64)args->pathname; @n1[tid] = -100; @n2[tid] = 0;', ['@n1[tid]', '@n2[tid]'], { main: 'str(uptr(@p1[tid]))' });
  if (has('chdir')) pathCall('D', 'chdir', '@p1[tid] = (uint64)args->filename; @n1[tid] = -1;', ['@n1[tid]'], { main: 'str(uptr(@p1[tid]))' });
  if (has('fchdir')) pathCall('D', 'fchdir', '@n1[tid] = args->fd;', ['@n1[tid]'], { main: '""' });

  // ---- network
  if (has('socket')) {
    p(`tracepoint:syscalls:sys_enter_socket { @sc[tid] = ${SC.socket}; @n1[tid] = args->family; @n2[tid] = args->type; @n3[tid] = args->protocol; }`);
    p(`tracepoint:syscalls:sys_exit_socket /@sc[tid] == ${SC.socket}/ { ${HEAD} ` +
      `printf("s\\t${PFX}\\t%d\\t%d\\t%d\\t%d\\n", ${PARGS}, args->ret, @n1[tid], @n2[tid], @n3[tid]); ${cleanup()} }`);
  }
  if (has('connect')) {
    p(`tracepoint:syscalls:sys_enter_connect { @sc[tid] = ${SC.connect}; @n1[tid] = args->fd; ${saveSockaddr('args->uservaddr')} }`);
    p(`tracepoint:syscalls:sys_exit_connect /@sc[tid] == ${SC.connect}/ { ${HEAD} ${sockOf('@n1[tid]')} ` +
      `${UNIX_PATH} printf("c\\t${PFX}\\t%d\\t%d\\t%d\\t%d\\t%llx\\t%llx\\t${SK_FMT}\\n", ${PARGS}, args->ret, @n1[tid], @n2[tid], @n3[tid], @n4[tid], @n5[tid], ` +
      `${SK_ADDRS}); ${cleanup()} }`);
  }
  if (has('bind')) {
    p(`tracepoint:syscalls:sys_enter_bind { @sc[tid] = ${SC.bind}; @n1[tid] = args->fd; ${saveSockaddr('args->umyaddr')} }`);
    p(`tracepoint:syscalls:sys_exit_bind /@sc[tid] == ${SC.bind}/ { ${HEAD} ` +
      `${UNIX_PATH} printf("b\\t${PFX}\\t%d\\t%d\\t%d\\t%d\\t%llx\\t%llx\\n", ${PARGS}, args->ret, @n1[tid], @n2[tid], @n3[tid], @n4[tid], @n5[tid]); ${cleanup()} }`);
  }
  for (const sc of ['accept', 'accept4'].filter(has)) {
    const flags = sc === 'accept4' ? 'args->flags' : '0';
    p(`tracepoint:syscalls:sys_enter_${sc} { @sc[tid] = ${SC[sc]}; @n1[tid] = args->fd; @n2[tid] = ${flags}; }`);
    p(`tracepoint:syscalls:sys_exit_${sc} /@sc[tid] == ${SC[sc]}/ { ${HEAD} $fd = args->ret < 0 ? 0 : args->ret; ${sockOf('$fd')} ` +
      `printf("a\\t${PFX}\\t%d\\t%d\\t%d\\t%d\\t${SK_FMT}\\n", ${PARGS}, ${SC[sc]}, args->ret, @n1[tid], @n2[tid], ${SK_ADDRS}); ${cleanup()} }`);
  }
  // Datagram I/O with an address: sendto/sendmsg to, recvfrom/recvmsg from, an IPv4/IPv6 peer
  // on a socket that is not TCP (Falco's `outbound`/`inbound` macros read them for UDP; the
  // address of a TCP send is ignored by the kernel). The kernel filters out everything else
  // (no address, other families, TCP), so a busy TCP or unix-socket service costs one map
  // lookup per call. The payload (evt.buffer) is not read.
  const dgram = (sc: string, enter: string, ptrAtExit: string): void => {
    p(`tracepoint:syscalls:sys_enter_${sc} ${enter}`);
    p(`tracepoint:syscalls:sys_exit_${sc} /@sc[tid] == ${SC[sc]}/ { ${HEAD} $sa = ${ptrAtExit}; ` +
      `if ($sa != 0) { $fam = *(uint16 *)uptr($sa); if ($fam == 2 || $fam == 10) { ` +
      `$port = *(uint16 *)uptr($sa + 2); $w1 = (uint64)*(uint32 *)uptr($sa + 4); $w2 = (uint64)0; ` +
      `if ($fam == 10) { $w1 = *(uint64 *)uptr($sa + 8); $w2 = *(uint64 *)uptr($sa + 16); } ` +
      `${sockOf('@n1[tid]')} if ($sk->sk_protocol != 6) { ` +
      `printf("n\\t${PFX}\\t%d\\t%d\\t%d\\t%d\\t%d\\t%llx\\t%llx\\t${SK_FMT}\\n", ${PARGS}, ${SC[sc]}, args->ret, @n1[tid], $fam, $port, $w1, $w2, ` +
      `${SK_ADDRS}); } } } ${cleanup()} }`);
  };
  if (has('sendto')) dgram('sendto', `/args->addr != 0/ { @sc[tid] = ${SC.sendto}; @n1[tid] = args->fd; @p1[tid] = (uint64)args->addr; }`, '@p1[tid]');
  if (has('sendmsg')) {
    dgram('sendmsg', `/args->msg != 0/ { $mn = *(uint64 *)uptr(args->msg); if ($mn != 0) { @sc[tid] = ${SC.sendmsg}; @n1[tid] = args->fd; @p1[tid] = $mn; } }`, '@p1[tid]');
  }
  if (has('recvfrom')) {
    dgram('recvfrom', `/args->addr != 0/ { @sc[tid] = ${SC.recvfrom}; @n1[tid] = args->fd; @p1[tid] = (uint64)args->addr; }`,
      'args->ret >= 0 ? @p1[tid] : 0');
  }
  if (has('recvmsg')) {
    dgram('recvmsg', `/args->msg != 0/ { @sc[tid] = ${SC.recvmsg}; @n1[tid] = args->fd; @p1[tid] = (uint64)args->msg; }`,
      'args->ret >= 0 ? *(uint64 *)uptr(@p1[tid]) : 0');
  }
  if (has('listen')) {
    p(`tracepoint:syscalls:sys_enter_listen { @sc[tid] = ${SC.listen}; @n1[tid] = args->fd; @n2[tid] = args->backlog; }`);
    p(`tracepoint:syscalls:sys_exit_listen /@sc[tid] == ${SC.listen}/ { ${HEAD} ` +
      `printf("l\\t${PFX}\\t%d\\t%d\\t%d\\n", ${PARGS}, args->ret, @n1[tid], @n2[tid]); ${cleanup()} }`);
  }

  // ---- descriptors
  const dup = (sc: string, enter: string, pred = ''): void => {
    p(`tracepoint:syscalls:sys_enter_${sc} ${pred}{ @sc[tid] = ${SC[sc]}; ${enter} }`);
    p(`tracepoint:syscalls:sys_exit_${sc} /@sc[tid] == ${SC[sc]}/ { ${HEAD} ` +
      `printf("d\\t${PFX}\\t%d\\t%d\\t%d\\t%d\\t%d\\n", ${PARGS}, ${SC[sc]}, args->ret, @n1[tid], @n2[tid], @n3[tid]); ${cleanup()} }`);
  };
  if (has('dup')) dup('dup', '@n1[tid] = args->fildes; @n2[tid] = -1; @n3[tid] = 0;');
  if (has('dup2')) dup('dup2', '@n1[tid] = args->oldfd; @n2[tid] = args->newfd; @n3[tid] = 0;');
  if (has('dup3')) dup('dup3', '@n1[tid] = args->oldfd; @n2[tid] = args->newfd; @n3[tid] = args->flags;');
  // fcntl only for F_DUPFD (0) and F_DUPFD_CLOEXEC (1030); the flags slot carries the cmd.
  if (has('fcntl')) dup('fcntl', '@n1[tid] = args->fd; @n2[tid] = -1; @n3[tid] = args->cmd;', '/args->cmd == 0 || args->cmd == 1030/ ');

  // ---- credentials, sessions, ptrace
  const cred = (sc: string, a: string[]): void => {
    const sets = a.map((x, i) => `@n${i + 1}[tid] = args->${x};`).join(' ');
    p(`tracepoint:syscalls:sys_enter_${sc} { @sc[tid] = ${SC[sc]}; ${sets} }`);
    p(`tracepoint:syscalls:sys_exit_${sc} /@sc[tid] == ${SC[sc]}/ { ${HEAD} $c = curtask->cred; ` +
      `printf("u\\t${PFX}\\t%d\\t%d\\t%d\\t%d\\t%d\\t%d\\t%d\\n", ${PARGS}, ${SC[sc]}, args->ret, @n1[tid], @n2[tid], @n3[tid], $c->euid.val, $c->egid.val); ${cleanup()} }`);
  };
  if (has('setuid')) cred('setuid', ['uid']);
  if (has('setgid')) cred('setgid', ['gid']);
  if (has('setreuid')) cred('setreuid', ['ruid', 'euid']);
  if (has('setregid')) cred('setregid', ['rgid', 'egid']);
  if (has('setresuid')) cred('setresuid', ['ruid', 'euid', 'suid']);
  if (has('setresgid')) cred('setresgid', ['rgid', 'egid', 'sgid']);
  if (has('setsid')) p(`tracepoint:syscalls:sys_exit_setsid { ${HEAD} printf("z\\t${PFX}\\t%d\\n", ${PARGS}, args->ret); }`);
  if (has('setpgid')) {
    p(`tracepoint:syscalls:sys_enter_setpgid { @sc[tid] = ${SC.setpgid}; @n1[tid] = args->pid; @n2[tid] = args->pgid; }`);
    p(`tracepoint:syscalls:sys_exit_setpgid /@sc[tid] == ${SC.setpgid}/ { ${HEAD} ` +
      `printf("g\\t${PFX}\\t%d\\t%d\\t%d\\n", ${PARGS}, args->ret, @n1[tid], @n2[tid]); ${cleanup()} }`);
  }
  if (has('ptrace')) {
    p(`tracepoint:syscalls:sys_enter_ptrace { @sc[tid] = ${SC.ptrace}; @n1[tid] = args->request; @n2[tid] = args->pid; @n3[tid] = args->addr; @n4[tid] = args->data; }`);
    p(`tracepoint:syscalls:sys_exit_ptrace /@sc[tid] == ${SC.ptrace}/ { ${HEAD} ` +
      `printf("p\\t${PFX}\\t%d\\t%d\\t%d\\t%llx\\t%llx\\n", ${PARGS}, args->ret, @n1[tid], @n2[tid], @n3[tid], @n4[tid]); ${cleanup()} }`);
  }
  return fillCleanup(out.join('\n') + '\n');
}
