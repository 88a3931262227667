/**
 * How Falco renders syscall event parameters as text (`evt.arg.NAME`, `evt.args`, `evt.res`):
 * flag sets as names joined with `|` in the order of libs' flag tables (matched bits removed as
 * they are named, so O_RDWR is not also O_RDONLY|O_WRONLY), enumerations as one name, errors as
 * errno names, user ids as user names. Names and table orders are facts from libs
 * (driver/flags_table.c, userspace/libsinsp/event.cpp); the code is ours.
 *
 * Values arrive raw from the sensor: open flags in kernel O_* values, converted here to libs'
 * PPM_O_* bits first, because that is what Falco's tables name.
 */
import { type FdSnap, FD_TYPECHAR } from '../../events/syscall.ts';

type Table = ReadonlyArray<readonly [string, number]>;

/** Kernel open flags -> libs PPM_O_* bits. */
export function ppmOpenFlags(k: number): number {
  let p = 0;
  const acc = k & 3;
  p |= acc === 0 ? 1 : acc === 1 ? 2 : acc === 2 ? 3 : 0;
  const map: Array<[number, number]> = [
    [0o100, 1 << 2], [0o2000, 1 << 3], [0o10000, 1 << 4], [0o200, 1 << 5], [0o4000, 1 << 6], [0o4000000, 1 << 7],
    [0o1000, 1 << 8], [0o40000, 1 << 9], [0o200000, 1 << 10], [0o100000, 1 << 11], [0o2000000, 1 << 12], [0o20000000, 1 << 13],
  ];
  for (const [kb, pb] of map) if (k & kb) p |= pb;
  return p;
}

const FILE_FLAGS: Table = [
  ['O_LARGEFILE', 1 << 11], ['O_DIRECTORY', 1 << 10], ['O_DIRECT', 1 << 9], ['O_TRUNC', 1 << 8], ['O_SYNC', 1 << 7],
  ['O_NONBLOCK', 1 << 6], ['O_EXCL', 1 << 5], ['O_DSYNC', 1 << 4], ['O_APPEND', 1 << 3], ['O_CREAT', 1 << 2],
  ['O_RDWR', 3], ['O_WRONLY', 2], ['O_RDONLY', 1], ['O_CLOEXEC', 1 << 12], ['O_NONE', 0], ['O_TMPFILE', 1 << 13],
];

const EXE_FLAGS: Table = [['EXE_WRITABLE', 1], ['EXE_UPPER_LAYER', 2], ['EXE_FROM_MEMFD', 4], ['EXE_LOWER_LAYER', 8]];

const CHMOD_MODE: Table = [
  ['S_IXOTH', 0o1], ['S_IWOTH', 0o2], ['S_IROTH', 0o4], ['S_IXGRP', 0o10], ['S_IWGRP', 0o20], ['S_IRGRP', 0o40],
  ['S_IXUSR', 0o100], ['S_IWUSR', 0o200], ['S_IRUSR', 0o400], ['S_ISVTX', 0o1000], ['S_ISGID', 0o2000], ['S_ISUID', 0o4000],
];

const UNLINKAT_FLAGS: Table = [['AT_REMOVEDIR', 0x200]];
const LINKAT_FLAGS: Table = [['AT_SYMLINK_FOLLOW', 0x400], ['AT_EMPTY_PATH', 0x1000]];
const RENAMEAT2_FLAGS: Table = [['RENAME_NOREPLACE', 1], ['RENAME_EXCHANGE', 2], ['RENAME_WHITEOUT', 4]];
const DUP3_FLAGS: Table = [['O_CLOEXEC', 0o2000000]];
const ACCEPT4_FLAGS: Table = [['SOCK_NONBLOCK', 0o4000], ['SOCK_CLOEXEC', 0o2000000]];
const MEMFD_FLAGS: Table = [['MFD_CLOEXEC', 1], ['MFD_ALLOW_SEALING', 2], ['MFD_HUGETLB', 4], ['MFD_NOEXEC_SEAL', 8], ['MFD_EXEC', 0x10]];
const MOUNT_FLAGS: Table = [
  ['RDONLY', 1], ['NOSUID', 2], ['NODEV', 4], ['NOEXEC', 8], ['SYNCHRONOUS', 16], ['REMOUNT', 32], ['MANDLOCK', 64],
  ['DIRSYNC', 128], ['NOATIME', 1024], ['NODIRATIME', 2048], ['BIND', 4096], ['MOVE', 8192], ['REC', 16384],
  ['SILENT', 32768], ['POSIXACL', 1 << 16], ['UNBINDABLE', 1 << 17], ['PRIVATE', 1 << 18], ['SLAVE', 1 << 19],
  ['SHARED', 1 << 20], ['RELATIME', 1 << 21], ['KERNMOUNT', 1 << 22], ['I_VERSION', 1 << 23], ['STRICTATIME', 1 << 24],
  ['LAZYTIME', 1 << 25],
];

const SOCKET_FAMILIES: Readonly<Record<number, string>> = {
  0: 'AF_UNSPEC', 1: 'AF_LOCAL', 2: 'AF_INET', 3: 'AF_AX25', 4: 'AF_IPX', 5: 'AF_APPLETALK', 6: 'AF_NETROM',
  7: 'AF_BRIDGE', 8: 'AF_ATMPVC', 9: 'AF_X25', 10: 'AF_INET6', 11: 'AF_ROSE', 12: 'AF_DECnet', 13: 'AF_NETBEUI',
  14: 'AF_SECURITY', 15: 'AF_KEY', 16: 'AF_NETLINK', 17: 'AF_PACKET', 18: 'AF_ASH', 19: 'AF_ECONET', 20: 'AF_ATMSVC',
  21: 'AF_RDS', 22: 'AF_SNA', 23: 'AF_IRDA', 24: 'AF_PPPOX', 25: 'AF_WANPIPE', 26: 'AF_LLC', 27: 'AF_IB', 28: 'AF_MPLS',
  29: 'AF_CAN', 30: 'AF_TIPC', 31: 'AF_BLUETOOTH', 32: 'AF_IUCV', 33: 'AF_RXRPC', 34: 'AF_ISDN', 35: 'AF_PHONET',
  36: 'AF_IEEE802154', 37: 'AF_CAIF', 38: 'AF_ALG', 39: 'AF_NFC', 40: 'AF_VSOCK', 41: 'AF_KCM', 42: 'AF_QIPCRTR',
  43: 'AF_SMC', 44: 'AF_XDP',
};

const PTRACE_REQUESTS: Readonly<Record<number, string>> = {
  0: 'PTRACE_TRACEME', 1: 'PTRACE_PEEKTEXT', 2: 'PTRACE_PEEKDATA', 3: 'PTRACE_PEEKUSR', 4: 'PTRACE_POKETEXT',
  5: 'PTRACE_POKEDATA', 6: 'PTRACE_POKEUSR', 7: 'PTRACE_CONT', 8: 'PTRACE_KILL', 9: 'PTRACE_SINGLESTEP',
  12: 'PTRACE_GETREGS', 13: 'PTRACE_SETREGS', 14: 'PTRACE_GETFPREGS', 15: 'PTRACE_SETFPREGS', 16: 'PTRACE_ATTACH',
  17: 'PTRACE_DETACH', 18: 'PTRACE_GETFPXREGS', 19: 'PTRACE_SETFPXREGS', 24: 'PTRACE_SYSCALL', 31: 'PTRACE_SYSEMU',
  32: 'PTRACE_SYSEMU_SINGLESTEP', 0x4200: 'PTRACE_SETOPTIONS', 0x4201: 'PTRACE_GETEVENTMSG',
  0x4202: 'PTRACE_GETSIGINFO', 0x4203: 'PTRACE_SETSIGINFO', 0x4204: 'PTRACE_GETREGSET', 0x4205: 'PTRACE_SETREGSET',
  0x4206: 'PTRACE_SEIZE', 0x4207: 'PTRACE_INTERRUPT', 0x4208: 'PTRACE_LISTEN', 0x4209: 'PTRACE_PEEKSIGINFO',
  0x420a: 'PTRACE_GETSIGMASK', 0x420b: 'PTRACE_SETSIGMASK', 0x420c: 'PTRACE_SECCOMP_GET_FILTER',
  0x420d: 'PTRACE_SECCOMP_GET_METADATA', 0x420e: 'PTRACE_GET_SYSCALL_INFO',
};

/** Linux errno names (generic numbering, x86-64 and arm64). */
const ERRNO: readonly string[] = [
  '', 'EPERM', 'ENOENT', 'ESRCH', 'EINTR', 'EIO', 'ENXIO', 'E2BIG', 'ENOEXEC', 'EBADF', 'ECHILD', 'EAGAIN', 'ENOMEM',
  'EACCES', 'EFAULT', 'ENOTBLK', 'EBUSY', 'EEXIST', 'EXDEV', 'ENODEV', 'ENOTDIR', 'EISDIR', 'EINVAL', 'ENFILE', 'EMFILE',
  'ENOTTY', 'ETXTBSY', 'EFBIG', 'ENOSPC', 'ESPIPE', 'EROFS', 'EMLINK', 'EPIPE', 'EDOM', 'ERANGE', 'EDEADLK',
  'ENAMETOOLONG', 'ENOLCK', 'ENOSYS', 'ENOTEMPTY', 'ELOOP', '', 'ENOMSG', 'EIDRM', 'ECHRNG', 'EL2NSYNC', 'EL3HLT',
  'EL3RST', 'ELNRNG', 'EUNATCH', 'ENOCSI', 'EL2HLT', 'EBADE', 'EBADR', 'EXFULL', 'ENOANO', 'EBADRQC', 'EBADSLT', '',
  'EBFONT', 'ENOSTR', 'ENODATA', 'ETIME', 'ENOSR', 'ENONET', 'ENOPKG', 'EREMOTE', 'ENOLINK', 'EADV', 'ESRMNT', 'ECOMM',
  'EPROTO', 'EMULTIHOP', 'EDOTDOT', 'EBADMSG', 'EOVERFLOW', 'ENOTUNIQ', 'EBADFD', 'EREMCHG', 'ELIBACC', 'ELIBBAD',
  'ELIBSCN', 'ELIBMAX', 'ELIBEXEC', 'EILSEQ', 'ERESTART', 'ESTRPIPE', 'EUSERS', 'ENOTSOCK', 'EDESTADDRREQ', 'EMSGSIZE',
  'EPROTOTYPE', 'ENOPROTOOPT', 'EPROTONOSUPPORT', 'ESOCKTNOSUPPORT', 'EOPNOTSUPP', 'EPFNOSUPPORT', 'EAFNOSUPPORT',
  'EADDRINUSE', 'EADDRNOTAVAIL', 'ENETDOWN', 'ENETUNREACH', 'ENETRESET', 'ECONNABORTED', 'ECONNRESET', 'ENOBUFS',
  'EISCONN', 'ENOTCONN', 'ESHUTDOWN', 'ETOOMANYREFS', 'ETIMEDOUT', 'ECONNREFUSED', 'EHOSTDOWN', 'EHOSTUNREACH',
  'EALREADY', 'EINPROGRESS', 'ESTALE', 'EUCLEAN', 'ENOTNAM', 'ENAVAIL', 'EISNAM', 'EREMOTEIO', 'EDQUOT', 'ENOMEDIUM',
  'EMEDIUMTYPE', 'ECANCELED', 'ENOKEY', 'EKEYEXPIRED', 'EKEYREVOKED', 'EKEYREJECTED', 'EOWNERDEAD', 'ENOTRECOVERABLE',
  'ERFKILL', 'EHWPOISON',
];

export function errnoName(res: number): string {
  if (res >= 0) return 'SUCCESS';
  return ERRNO[-res] || `E${-res}`;
}

export const CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** Capability set as names joined by spaces, as libs prints thread.cap_*. */
export function capsText(set: bigint | undefined): string | undefined {
  if (set === undefined) return undefined;
  const out: string[] = [];
  for (let i = 0; i < CAPABILITIES.length; i++) if ((set >> BigInt(i)) & 1n) out.push(CAPABILITIES[i]!);
  return out.join(' ');
}

/** libs' flag rendering: names in table order, each matched value removed from what is left. */
export function flagsText(v: number, table: Table): string {
  let left = v;
  const out: string[] = [];
  for (const [name, bits] of table) {
    if ((bits === 0 && v === 0) || (bits !== 0 && left !== 0 && (left & bits) === bits)) {
      out.push(name);
      left &= ~bits;
    }
  }
  return out.length ? out.join('|') : String(v);
}

const octal = (v: number): string => (v === 0 ? '0' : '0' + v.toString(8));

export interface RenderContext {
  type: string;
  fd?: FdSnap;
  /** uid -> user name, for uid parameters. */
  userName?: (uid: number) => string | undefined;
  groupName?: (gid: number) => string | undefined;
}

function fdText(v: number, fd: FdSnap | undefined): string {
  if (v === -100) return 'AT_FDCWD';
  if (fd && fd.num === v && fd.name) return `${v}(<${FD_TYPECHAR[fd.type]}>${fd.name})`;
  return String(v);
}

/** `evt.arg.NAME` of a live event: the parameter as Falco renders it. */
export function renderParam(name: string, v: unknown, ctx: RenderContext): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') {
    if (name.startsWith('cap_')) return capsText(v);
    return v.toString();
  }
  const n = v as number;
  const t = ctx.type;
  switch (name) {
    case 'res': return n < 0 ? errnoName(n) : String(n);
    case 'fd': return n < 0 ? errnoName(n) : fdText(n, ctx.fd);
    case 'oldfd': case 'dirfd': case 'olddirfd': case 'newdirfd': case 'linkdirfd': case 'olddir': case 'newdir':
      return fdText(n, name === 'oldfd' ? ctx.fd : undefined);
    case 'flags':
      if (t === 'open' || t === 'openat' || t === 'openat2') return flagsText(ppmOpenFlags(n), FILE_FLAGS);
      if (t === 'execve' || t === 'execveat') return flagsText(n, EXE_FLAGS);
      if (t === 'unlinkat') return flagsText(n, UNLINKAT_FLAGS);
      if (t === 'linkat') return flagsText(n, LINKAT_FLAGS);
      if (t === 'renameat2') return flagsText(n, RENAMEAT2_FLAGS);
      if (t === 'dup3') return flagsText(n, DUP3_FLAGS);
      if (t === 'accept4') return flagsText(n, ACCEPT4_FLAGS);
      if (t === 'memfd_create') return flagsText(n, MEMFD_FLAGS);
      if (t === 'mount') return flagsText(n, MOUNT_FLAGS);
      return String(n);
    case 'mode':
      if (t === 'chmod' || t === 'fchmod' || t === 'fchmodat') return flagsText(n, CHMOD_MODE);
      return octal(n);
    case 'domain': return SOCKET_FAMILIES[n] ?? String(n);
    case 'request': return PTRACE_REQUESTS[n] ?? String(n);
    case 'uid': case 'ruid': case 'euid': case 'suid':
      return (t === 'execve' || t === 'execveat' || t === 'clone') ? String(n) : (ctx.userName?.(n) ?? String(n));
    case 'gid': case 'rgid': case 'egid': case 'sgid':
      return (t === 'execve' || t === 'execveat' || t === 'clone') ? String(n) : (ctx.groupName?.(n) ?? String(n));
    default: return String(n);
  }
}

/** `evt.args`: every parameter as `name=value`, space-separated (fd parameters with their names). */
export function renderArgs(names: readonly string[], values: readonly unknown[], ctx: RenderContext): string {
  const out: string[] = [];
  for (let i = 0; i < names.length; i++) {
    const v = values[i];
    if (v === undefined) continue;
    const name = names[i]!;
    let text = renderParam(name, v, ctx) ?? '';
    if (typeof v === 'number' && text !== String(v) && !/^(fd|oldfd|dirfd|res)$/.test(name)) text = `${v}(${text})`;
    else if (typeof v === 'number' && name === 'res' && v < 0) text = `${v}(${text})`;
    out.push(`${name}=${text}`);
  }
  return out.join(' ');
}
