/**
 * Reading processes and their descriptors from /proc, as libsinsp does at start (and for a
 * process an event names before anything was seen of it).
 *
 * Everything here is best effort: a process may exit between two reads, in which case the
 * reader returns what it got or undefined. Paths are read through `root` (default `/proc`) so
 * tests can point it at a fixture tree.
 */
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync, statfsSync } from 'node:fs';
import path from 'node:path';

/** USER_HZ: /proc times are in clock ticks of 1/100 s on every Linux architecture. */
const TICKS_PER_S = 100;

export interface ProcRead {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  /** tty_nr as the kernel encodes it (0: none). */
  tty: number;
  comm: string;
  args: string[];
  /** Environment (`NAME=value`), from /proc/<pid>/environ ([] when unreadable). */
  env: string[];
  /** readlink of /proc/<pid>/exe ('' when unreadable, e.g. kernel threads). */
  exe: string;
  cwd: string;
  uid: number;
  gid: number;
  loginuid: number;
  capEffective: bigint;
  capPermitted: bigint;
  capInheritable: bigint;
  /** Innermost pid, pgid and sid (the process's own pid namespace). */
  vpid: number;
  vpgid: number;
  /** Start time in ticks since boot. */
  startTicks: number;
  /** cgroup paths, one per hierarchy line. */
  cgroups: string[];
  /** Inode of the pid namespace (`pid:[N]`), to find its init. */
  pidns: string;
  netns: string;
  kthread: boolean;
}

export interface FdRead {
  num: number;
  /** readlink of /proc/<pid>/fd/<n>. */
  target: string;
  /** Open flags from fdinfo (kernel O_* values). */
  flags: number;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function link(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

export function listPids(root = '/proc'): number[] {
  try {
    return readdirSync(root).filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/** Parse /proc/<pid>/stat: the comm is between the first '(' and the last ')'. */
export function parseStat(text: string): { comm: string; ppid: number; pgid: number; sid: number; tty: number; startTicks: number; flags: number } | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is the state; fields counted from there: ppid 1, pgrp 2, session 3, tty_nr 4,
  // flags 6, starttime 19.
  return {
    comm: text.slice(open + 1, close),
    ppid: Number(rest[1]), pgid: Number(rest[2]), sid: Number(rest[3]), tty: Number(rest[4]),
    flags: Number(rest[6]), startTicks: Number(rest[19]),
  };
}

function statusField(status: string, name: string): string[] {
  const i = status.indexOf('\n' + name + ':');
  if (i < 0) return [];
  const end = status.indexOf('\n', i + 1);
  return status.slice(i + name.length + 2, end < 0 ? undefined : end).trim().split(/\s+/);
}

const PF_KTHREAD = 0x00200000;

/** NUL-separated strings (cmdline, environ); a trailing NUL does not make an empty last one. */
function nulList(text: string): string[] {
  const out = text.split('\0');
  if (out.length && out[out.length - 1] === '') out.pop();
  return out;
}

/**
 * The bytes of /proc/<pid>/<file> (cmdline, environ) when they begin with `prefix`: the rest of
 * a list the kernel side could only read the beginning of, taken while the process still runs
 * the same image (a different beginning means it is gone or exec'd again: undefined).
 */
export function completeFromProc(pid: number, file: 'cmdline' | 'environ', prefix: Buffer, root = '/proc'): Buffer | undefined {
  let b: Buffer;
  try {
    b = readFileSync(`${root}/${pid}/${file}`);
  } catch {
    return undefined;
  }
  if (b.length <= prefix.length || !b.subarray(0, prefix.length).equals(prefix)) return undefined;
  return b;
}

const OVERLAYFS_SUPER_MAGIC = 0x794c7630;

/**
 * The overlayfs layer of a running process's executable, for processes the sensor did not see
 * exec (the kernel side reads it at exec): 2 (upper, PPM_EXE_UPPER_LAYER) when the file exists
 * in the mount's `upperdir`, 8 (lower) otherwise, 0 when the file is not on overlayfs. The mount
 * is the process's own (its mountinfo), the one with the file's device; `upperdir` is a path of
 * the mounter's namespace, which for container runtimes is the host's (this one).
 */
export function exeOverlayLayer(pid: number, root = '/proc'): number {
  const exe = `${root}/${pid}/exe`;
  let st;
  try {
    if (Number(statfsSync(exe).type) !== OVERLAYFS_SUPER_MAGIC) return 0;
    st = statSync(exe);
  } catch {
    return 0;
  }
  const target = link(exe)?.replace(/ \(deleted\)$/, '');
  const info = read(`${root}/${pid}/mountinfo`);
  if (!target || !info) return 8;
  const dev = `${Math.floor(st.dev / 256) & 0xfff}:${(st.dev & 0xff) | ((st.dev >>> 12) & 0xfff00)}`;
  let best: { mnt: string; upper?: string } | undefined;
  for (const line of info.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const a = line.slice(0, sep).split(' ');
    const b = line.slice(sep + 3).split(' ');
    if (b[0] !== 'overlay' || a[2] !== dev) continue;
    const mnt = unescapeMount(a[4] ?? '');
    if (!(target === mnt || target.startsWith(mnt.endsWith('/') ? mnt : mnt + '/'))) continue;
    if (best && best.mnt.length >= mnt.length) continue;
    const upper = /(?:^|,)upperdir=([^,]*)/.exec(b[2] ?? '')?.[1];
    best = { mnt, ...(upper ? { upper: unescapeMount(upper) } : {}) };
  }
  if (!best?.upper) return 8;
  const rel = best.mnt === '/' ? target : target.slice(best.mnt.length);
  return existsSync(path.join(best.upper, rel)) ? 2 : 8;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function readProc(pid: number, root = '/proc'): ProcRead | undefined {
  const dir = `${root}/${pid}`;
  const statText = read(`${dir}/stat`);
  const status = read(`${dir}/status`);
  if (!statText || !status) return undefined;
  const st = parseStat(statText);
  if (!st) return undefined;
  const args = nulList(read(`${dir}/cmdline`) ?? '');
  const env = nulList(read(`${dir}/environ`) ?? '');
  const uid = statusField('\n' + status, 'Uid');
  const gid = statusField('\n' + status, 'Gid');
  const nspid = statusField('\n' + status, 'NSpid');
  const nspgid = statusField('\n' + status, 'NSpgid');
  const hex = (name: string): bigint => {
    const v = statusField('\n' + status, name)[0];
    try {
      return v ? BigInt('0x' + v) : 0n;
    } catch {
      return 0n;
    }
  };
  const loginuidText = read(`${dir}/loginuid`);
  let loginuid = loginuidText === undefined ? -1 : Number(loginuidText.trim());
  if (loginuid === 4294967295 || !Number.isFinite(loginuid)) loginuid = -1;
  const cg = (read(`${dir}/cgroup`) ?? '').split('\n').filter(Boolean).map((l) => l.slice(l.indexOf(':', l.indexOf(':') + 1) + 1));
  return {
    pid, ppid: st.ppid, pgid: st.pgid, sid: st.sid, tty: st.tty, comm: st.comm, args, env,
    exe: link(`${dir}/exe`) ?? '', cwd: link(`${dir}/cwd`) ?? '/',
    uid: Number(uid[1] ?? 0), gid: Number(gid[1] ?? 0), loginuid,
    capEffective: hex('CapEff'), capPermitted: hex('CapPrm'), capInheritable: hex('CapInh'),
    vpid: Number(nspid[nspid.length - 1] ?? pid), vpgid: Number(nspgid[nspgid.length - 1] ?? st.pgid),
    startTicks: st.startTicks, cgroups: cg,
    pidns: link(`${dir}/ns/pid`) ?? '', netns: link(`${dir}/ns/net`) ?? '',
    kthread: (st.flags & PF_KTHREAD) !== 0,
  };
}

export function readFds(pid: number, root = '/proc'): FdRead[] {
  const dir = `${root}/${pid}/fd`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: FdRead[] = [];
  for (const n of names) {
    const target = link(`${dir}/${n}`);
    if (target === undefined) continue;
    const info = read(`${root}/${pid}/fdinfo/${n}`) ?? '';
    const m = /flags:\s*([0-7]+)/.exec(info);
    out.push({ num: Number(n), target, flags: m ? parseInt(m[1]!, 8) : 0 });
  }
  return out;
}

/** Ticks since boot to ns since the epoch. */
export function ticksToEpochNs(ticks: number, bootEpochNs: bigint): bigint {
  return bootEpochNs + (BigInt(Math.round(ticks)) * 1_000_000_000n) / BigInt(TICKS_PER_S);
}

// ---------------------------------------------------------------------------------------------
// Sockets: /proc/<pid>/net/{tcp,tcp6,udp,udp6} of a network namespace, by inode.

export interface SockRead {
  family: 4 | 6;
  proto: 'tcp' | 'udp';
  lip: string;
  lport: number;
  rip: string;
  rport: number;
  listening: boolean;
}

function hexIp4(h: string): string {
  const n = parseInt(h, 16);
  return `${n & 255}.${(n >>> 8) & 255}.${(n >>> 16) & 255}.${n >>> 24}`;
}

function hexIp6(h: string): string {
  const b = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) b.writeUInt32LE(parseInt(h.slice(i * 8, i * 8 + 8), 16) >>> 0, i * 4);
  return ip6Text(b);
}

/** Text form of a 16-byte IPv6 address; IPv4-mapped addresses as dotted quads. */
export function ip6Text(b: Buffer): string {
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i).toString(16));
  // Compress the longest run of zero words, as inet_ntop does.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return words.join(':');
  return `${words.slice(0, best).join(':')}::${words.slice(best + bestLen).join(':')}`;
}

export function readSockets(pid: number, root = '/proc'): Map<string, SockRead> {
  const out = new Map<string, SockRead>();
  for (const [file, family, proto] of [['tcp', 4, 'tcp'], ['tcp6', 6, 'tcp'], ['udp', 4, 'udp'], ['udp6', 6, 'udp']] as const) {
    const text = read(`${root}/${pid}/net/${file}`);
    if (!text) continue;
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 10) continue;
      const [l, r, st, inode] = [c[1]!, c[2]!, c[3]!, c[9]!];
      const [lh, lp] = l.split(':');
      const [rh, rp] = r.split(':');
      const ip = family === 4 ? hexIp4 : hexIp6;
      out.set(inode, {
        family, proto, lip: ip(lh!), lport: parseInt(lp!, 16), rip: ip(rh!), rport: parseInt(rp!, 16),
        listening: proto === 'tcp' ? st === '0A' : rh!.replace(/0/g, '') === '',
      });
    }
  }
  return out;
}
