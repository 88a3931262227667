/**
 * Building sensor records by hand (the lines bpftrace would print), and a SensorState to feed
 * them to, for tests that need no root: /proc is an empty folder, so processes the records do
 * not introduce are unknown, as they would be for a sensor that missed them.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SyscallEvent } from '../../../src/events/syscall.ts';
import { ContainerRegistry } from '../../../src/sources/syscall/container.ts';
import type { Rec } from '../../../src/sources/syscall/decode.ts';
import { SC } from '../../../src/sources/syscall/script.ts';
import { SensorState } from '../../../src/sources/syscall/state.ts';
import { UserDirectory } from '../../../src/sources/syscall/users.ts';

export { SC };

export interface Proc {
  pid: number;
  ppid: number;
  xid?: number;
  tid?: number;
}

let seq = 0;
let clock = 1_000_000_000;

/** A record of `p` with fixed fields `f` (numbers or text) and an optional trailing string. */
export function rec(code: string, p: Proc, f: Array<number | string>, s?: string, ts?: number): Rec {
  const t = ts ?? (clock += 1000);
  const r: Rec = {
    code, tsText: String(t), ts: t, pid: p.pid, tid: p.tid ?? p.pid, ppid: p.ppid, xid: p.xid ?? 1,
    f: f.map(String), seq: seq++,
  };
  if (s !== undefined) r.s = s;
  return r;
}

const hex32le = (ip: string): string => {
  const b = ip.split('.').map(Number);
  return ((b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0).toString(16);
};
const netPort = (port: number): number => ((port & 0xff) << 8) | (port >>> 8);

/** The records of a successful exec: argv, exe name, filename, cgroup leaves, then E. */
export function exec(p: Proc, argv: string[], opts: {
  filename?: string; exeName?: string; nlink?: number; cgroups?: string[]; uid?: number; gid?: number; tty?: number;
  sid?: number; pgid?: number; caps?: bigint; execveat?: boolean; loginuid?: number;
  /** The environment, read in 200-byte chunks as the kernel side does (with `exeFile`). */
  env?: string[];
  /** The executable's inode as read at exec; without it, the older 17-field record (no inode: looked up in /proc). */
  exeFile?: { ino: number; ctimeNs: bigint; mtimeNs: bigint; layer: number; mode: number; uid: number; gid: number };
} = {}): Rec[] {
  const filename = opts.filename ?? argv[0]!;
  const buf = argv.map((a) => a + '\\x00').join('');
  const tty = opts.tty !== undefined ? (136 * 2 ** 20) + opts.tty : -1;
  const caps = (opts.caps ?? 0x1ffffffffffn).toString(16);
  const recs = [
    rec('A', p, [0], buf),
    rec('N', p, [], opts.exeName ?? path.basename(filename)),
    rec('W', p, [], filename),
    ...(opts.cgroups ?? ['']).map((c, i) => rec('G', p, [i], c)),
  ];
  const len = Buffer.byteLength(argv.join('\0') + '\0');
  const fields: Array<number | string> = [p.ppid, opts.execveat ? SC.execveat! : SC.execve!, opts.uid ?? 0, opts.gid ?? 0, opts.loginuid ?? -1, caps, caps, '0',
    opts.sid ?? p.pid, opts.pgid ?? p.pid, p.pid, opts.pgid ?? p.pid, tty, opts.nlink ?? 1, 61267, 1000, len];
  if (opts.exeFile) {
    const envText = (opts.env ?? []).map((v) => v + '\0').join('');
    for (let i = 0; i * 200 < envText.length; i++) {
      const chunk = envText.slice(i * 200, (i + 1) * 200).replaceAll('\0', '\\x00');
      recs.splice(1, 0, rec('Y', p, [i], chunk));
    }
    const x = opts.exeFile;
    fields.push(Buffer.byteLength(envText), x.ino, String(x.ctimeNs), String(x.mtimeNs), x.layer, x.mode, x.uid, x.gid);
  }
  recs.push(rec('E', p, fields));
  return recs;
}

export const fork = (parent: Proc, child: number, kind = 'clone'): Rec => rec('F', parent, [child, SC[kind]!]);
export const exit = (p: Proc): Rec => rec('X', p, []);
export const open = (p: Proc, ret: number, name: string, flags = 0, opts: { dirfd?: number; mode?: number; sc?: string } = {}): Rec =>
  rec('o', p, [SC[opts.sc ?? 'openat']!, ret, opts.dirfd ?? -100, flags, opts.mode ?? 0], name);
export const close = (p: Proc, fd: number): Rec => rec('x', p, [fd]);
export const socket = (p: Proc, ret: number, domain = 2, type = 1, proto = 0): Rec => rec('s', p, [ret, domain, type, proto]);
export const dup = (p: Proc, sc: 'dup' | 'dup2' | 'dup3', ret: number, oldfd: number, newfd = -1, flags = 0): Rec =>
  rec('d', p, [SC[sc]!, ret, oldfd, newfd, flags]);

/** connect() of fd to ip:port from local lip:lport (IPv4). */
export function connect(p: Proc, ret: number, fd: number, ip: string, port: number, lip: string, lport: number): Rec {
  return rec('c', p, [ret, fd, 2, netPort(port), hex32le(ip), 0, lport, 0, 0, 0, 0, hex32le(lip), netPort(port), 0, 0, 0, 0, hex32le(ip), 2, 6, 1]);
}

/** A path syscall record (U R M H T m S L K D) with pending strings first. */
export function pathRec(code: string, p: Proc, sc: string, ret: number, ints: number[], str: string, pending: Record<number, string> = {}): Rec[] {
  return [...Object.entries(pending).map(([slot, v]) => rec('P', p, [Number(slot)], v)), rec(code, p, [SC[sc]!, ret, ...ints], str)];
}

/** accept() on lfd returning ret, peer rip:rport, local lip:lport (IPv4). */
export function accept(p: Proc, ret: number, lfd: number, lip: string, lport: number, rip: string, rport: number): Rec {
  return rec('a', p, [SC.accept4!, ret, lfd, 0, lport, 0, 0, 0, 0, hex32le(lip), netPort(rport), 0, 0, 0, 0, hex32le(rip), 2, 6, 1]);
}

export function newState(opts: { names?: Record<string, string> } = {}): { state: SensorState; events: SyscallEvent[]; apply(recs: Rec | Rec[]): SyscallEvent[] } {
  const events: SyscallEvent[] = [];
  const procRoot = mkdtempSync(path.join(os.tmpdir(), 'vigil-noproc-'));
  const names = opts.names ?? {};
  const state = new SensorState({
    bootEpochNs: 0n, containers: new ContainerRegistry(), users: new UserDirectory(), emit: (e) => events.push(e), procRoot,
    addressNames: { name: (ip) => (ip === undefined ? undefined : names[ip]) },
  });
  return {
    state, events,
    apply(recs) {
      const before = events.length;
      for (const r of Array.isArray(recs) ? recs : [recs]) state.apply(r);
      return events.slice(before);
    },
  };
}

/** sendto (or recvfrom, ...) on a UDP socket fd, peer ip:port, local 0.0.0.0:lport (IPv4). */
export function dgram(p: Proc, sc: 'sendto' | 'sendmsg' | 'recvfrom' | 'recvmsg', ret: number, fd: number, ip: string, port: number, lport: number): Rec {
  return rec('n', p, [SC[sc]!, ret, fd, 2, netPort(port), hex32le(ip), 0, lport, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 17, 2]);
}
