/**
 * Syscall events, live and recorded.
 *
 * A live event (from the sensor, `src/sources/syscall/`) carries what libsinsp would have at
 * the moment the syscall returned: the event type and parameters, and immutable snapshots of
 * the process (`ProcSnap`) and of the file descriptor the event works on (`FdSnap`). Snapshots
 * are never changed once an event points at them (the sensor makes a new one when a process
 * execs, changes credentials or directory), so an event can wait in a queue while later events
 * update the tables, and still be judged on the state it happened in.
 *
 * A recorded event (`vigil sensor --record`, read back by `vigil replay --source syscall`)
 * carries the resolved values of the fields the rules read instead: each line is
 * `{ "time": "<ns>", "fields": { "<field>": value, ... }, "bigint": ["<field>", ...] }`, where
 * the fields listed in `bigint` hold decimal strings of integers beyond 2^53 (times in ns).
 */
import { createInterface } from 'node:readline';
import type { VigilEvent } from './event.ts';

// ---------------------------------------------------------------------------------------------
// State snapshots

/** Container of a process, from its cgroups; `meta` arrives later from the CRI socket, if ever. */
export interface ContainerRef {
  /** `host`, or the first 12 hex characters of the container id. */
  readonly id: string;
  /** Full 64-hex id from the cgroup path; undefined for `host`. */
  readonly fullId?: string;
  /** Runtime the cgroup layout points at (`containerd`, `cri-o`, `docker`), when it tells. */
  readonly runtimeHint?: string;
  /** Kubernetes pod uid from a kubelet cgroup path (`.../pod<uid>/...`), when present. */
  readonly podUidHint?: string;
  /** Metadata from the container runtime; filled in once the lookup answers (shared, mutable). */
  meta?: ContainerMeta;
}

export interface ContainerMeta {
  name?: string;
  image?: string;
  imageId?: string;
  imageRepository?: string;
  imageTag?: string;
  imageDigest?: string;
  type?: string;
  privileged?: boolean;
  labels?: Record<string, string>;
  podName?: string;
  podNamespace?: string;
  podUid?: string;
  podSandboxId?: string;
  podLabels?: Record<string, string>;
  ip?: string;
  mounts?: Array<{ source: string; dest: string; mode: string; rdwr: boolean; propagation: string }>;
}

/** The host pseudo-container every process outside a container belongs to (as Falco's plugin). */
export const HOST_CONTAINER: ContainerRef = Object.freeze({
  id: 'host',
  meta: Object.freeze({ name: 'host', image: '', imageRepository: '', imageTag: '', imageDigest: '', imageId: '', privileged: false }),
}) as ContainerRef;

/** Executable flags, as libs' execve `flags` parameter (PPM_EXE_*). */
export const EXE_WRITABLE = 1;
export const EXE_UPPER_LAYER = 2;
export const EXE_FROM_MEMFD = 4;
export const EXE_LOWER_LAYER = 8;

/** A process as libsinsp's thread table keeps it, frozen at one moment. */
export interface ProcSnap {
  readonly pid: number;
  readonly ppid: number;
  /** Pid, process group and session as seen inside the process's own pid namespace. */
  readonly vpid: number;
  readonly vpgid: number;
  readonly pgid: number;
  readonly sid: number;
  /** Task comm (at most 15 characters): proc.name. */
  readonly comm: string;
  /** argv[0]: proc.exe. */
  readonly exe: string;
  /** Path of the executable file, symlinks resolved: proc.exepath. */
  readonly exepath: string;
  /** argv[1..]. */
  readonly args: readonly string[];
  /** Environment as `NAME=value`, when captured. */
  readonly env?: readonly string[];
  readonly cwd: string;
  readonly uid: number;
  readonly gid: number;
  /** Audit login uid; -1 when unset. */
  readonly loginuid: number;
  readonly userName?: string;
  readonly groupName?: string;
  readonly loginName?: string;
  readonly userHome?: string;
  readonly userShell?: string;
  /** Controlling terminal, encoded as the kernel's tty_nr; 0 for none. */
  readonly tty: number;
  /** Process start (clone) time, ns since the epoch. */
  readonly startNs: bigint;
  /** Start of the pid namespace's init, ns since the epoch (container.start_ts). */
  readonly pidnsInitStartNs?: bigint;
  /** EXE_* bits. */
  readonly exeFlags: number;
  readonly exeIno?: number;
  readonly exeCtimeNs?: bigint;
  readonly exeMtimeNs?: bigint;
  /** Capability sets as bit masks. */
  readonly capEffective?: bigint;
  readonly capPermitted?: bigint;
  readonly capInheritable?: bigint;
  readonly container: ContainerRef;
  /** The parent as it was when this snapshot was made; undefined when unknown. */
  readonly parent?: ProcSnap;
  /** Seen in an event before anything was known of it (gone from /proc): process fields are missing. */
  readonly partial?: boolean;
}

export type FdType =
  | 'file' | 'directory' | 'ipv4' | 'ipv6' | 'unix' | 'pipe' | 'event' | 'signalfd' | 'eventpoll'
  | 'inotify' | 'timerfd' | 'netlink' | 'memfd' | 'bpf' | 'io_uring' | 'userfaultfd' | 'pidfd' | 'other';

export const FD_TYPECHAR: Readonly<Record<FdType, string>> = {
  file: 'f', directory: 'd', ipv4: '4', ipv6: '6', unix: 'u', pipe: 'p', event: 'e', signalfd: 's',
  eventpoll: 'l', inotify: 'i', timerfd: 't', netlink: 'n', memfd: 'm', bpf: 'b', io_uring: 'r',
  userfaultfd: 'u', pidfd: 'P', other: 'o',
};

/** A file descriptor, frozen at one moment. */
export interface FdSnap {
  readonly num: number;
  readonly type: FdType;
  /** Absolute path for files; `cip:cport->sip:sport` for IP sockets; path for unix sockets. */
  readonly name: string;
  /** The path exactly as the syscall passed it (files). */
  readonly nameRaw?: string;
  readonly l4proto?: 'tcp' | 'udp' | 'icmp' | 'raw';
  readonly cip?: string;
  readonly sip?: string;
  readonly cport?: number;
  readonly sport?: number;
  /** This process is the server side (accepted, or bound and listening). */
  readonly isServer?: boolean;
  readonly connected?: boolean;
  /** Closed by exec (O_CLOEXEC, SOCK_CLOEXEC, ...). */
  readonly cloexec?: boolean;
  /** Open flags (kernel O_* values) for files. */
  readonly openFlags?: number;
  readonly dev?: number;
  readonly ino?: number;
  /** Host names the client and server addresses were resolved from (see sources/syscall/dns.ts). */
  readonly cipName?: string;
  readonly sipName?: string;
}

/** What a live event carries besides its type and time. */
export interface LiveData {
  /** Falco event type name (`openat`, `execve`, `procexit`, ...). */
  readonly type: string;
  /** Return value (negative errno on failure); undefined for events without one. */
  readonly res?: number;
  readonly tid: number;
  readonly proc: ProcSnap;
  readonly fd?: FdSnap;
  /**
   * Event parameters in Falco's order, by Falco's parameter names (`names` is shared by every
   * event of a type), raw: numbers as the kernel gave them (flags in kernel values), strings as
   * passed. The field table renders them (`evt.arg.flags` -> `O_RDONLY|O_CLOEXEC`).
   */
  readonly names: readonly string[];
  readonly values: readonly ParamValue[];
  /**
   * Paths the syscall works on, made absolute when the event happened (cwd and directory fds
   * change later): `name` for one-path calls (fs.path.name, evt.abspath), `source`/`target` for
   * two-path calls (rename, link, symlink, mount); the `*Raw` forms as passed.
   */
  readonly paths?: PathInfo;
  /**
   * The event gave the descriptor a new name (fd.name_changed): a datagram sent to, or
   * received from, another peer than the last. Undefined: true for connect, false otherwise.
   */
  readonly fdNameChanged?: boolean;
}

export interface PathInfo {
  readonly name?: string;
  readonly nameRaw?: string;
  readonly source?: string;
  readonly sourceRaw?: string;
  readonly target?: string;
  readonly targetRaw?: string;
}

export type ParamValue = string | number | bigint | undefined;

// ---------------------------------------------------------------------------------------------
// The event

export class SyscallEvent implements VigilEvent {
  readonly source = 'syscall' as const;
  num?: number;
  labels?: Record<string, string>;
  /** Live events only. */
  live?: LiveData;

  /**
   * `fields` holds pre-extracted values (recorded events, tests, benchmarks); live events
   * (`SyscallEvent.live`) have none and are read through their state snapshots.
   */
  constructor(readonly timeNs: bigint, readonly fields?: Record<string, unknown>) {}

  static live(timeNs: bigint, data: LiveData, num?: number): SyscallEvent {
    const e = new SyscallEvent(timeNs);
    e.live = data;
    if (num !== undefined) e.num = num;
    return e;
  }
}

// ---------------------------------------------------------------------------------------------
// Recorded events

export interface SyscallDecodeError { error: string; origin: string; line?: number }

/** One recorded event as a JSON line (bigints as decimal strings, listed in `bigint`). */
export function encodeRecordedEvent(timeNs: bigint, fields: Record<string, unknown>): string {
  const out: Record<string, unknown> = {};
  let big: string[] | undefined;
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    if (v === undefined) continue;
    if (typeof v === 'bigint') {
      (big ??= []).push(k);
      out[k] = v.toString();
    } else if (Array.isArray(v) && v.some((x) => typeof x === 'bigint')) {
      (big ??= []).push(k);
      out[k] = v.map((x) => String(x));
    } else if (v instanceof Uint8Array) {
      out[k] = { hex: Buffer.from(v).toString('hex') };
    } else {
      out[k] = v;
    }
  }
  const rec: Record<string, unknown> = { time: timeNs.toString(), fields: out };
  if (big) rec.bigint = big;
  return JSON.stringify(rec);
}

function decodeFields(fields: Record<string, unknown>, big: unknown): Record<string, unknown> {
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { hex?: unknown }).hex === 'string') {
      fields[k] = Uint8Array.from(Buffer.from((v as { hex: string }).hex, 'hex'));
    }
  }
  if (Array.isArray(big)) {
    for (const k of big) {
      if (typeof k !== 'string') continue;
      const v = fields[k];
      if (typeof v === 'string') fields[k] = BigInt(v);
      else if (Array.isArray(v)) fields[k] = v.map((x) => (typeof x === 'string' ? BigInt(x) : x));
    }
  }
  return fields;
}

/**
 * One recorded event from its parsed JSON line, or what is wrong with it. The object is not
 * changed (the fields are copied).
 */
export function decodeRecordedEvent(obj: unknown): SyscallEvent | string {
  const o = obj as { time?: unknown; fields?: unknown; bigint?: unknown };
  if (!o || typeof o !== 'object' || typeof o.fields !== 'object' || o.fields === null || Array.isArray(o.fields)) {
    return 'not a syscall event';
  }
  let t = 0n;
  try {
    t = typeof o.time === 'string' || typeof o.time === 'number' ? BigInt(o.time) : 0n;
  } catch {
    return `invalid time '${String(o.time)}'`;
  }
  return new SyscallEvent(t, decodeFields({ ...(o.fields as Record<string, unknown>) }, o.bigint));
}

export async function* readSyscallStream(input: NodeJS.ReadableStream, origin: string): AsyncGenerator<SyscallEvent | SyscallDecodeError> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    if (!text.trim()) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      yield { error: `invalid JSON: ${(e as Error).message}`, origin, line };
      continue;
    }
    const ev = decodeRecordedEvent(obj);
    if (typeof ev === 'string') {
      yield { error: ev, origin, line };
      continue;
    }
    yield ev;
  }
}
