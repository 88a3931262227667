/**
 * The syscall sensor: bpftrace on tracepoints, its output turned into SyscallEvents.
 *
 * Protocol quirks (see script.ts for the record format):
 * - bpftrace reads one perf buffer per CPU, so records of different CPUs come out of order
 *   (a child's exec on CPU 1 before its fork on CPU 0). Records are held for `reorderWindowMs`
 *   of event time and released sorted by their kernel timestamp; when no record arrives for
 *   that long, everything held is released.
 * - Probes attach before /proc is scanned, and records that arrive meanwhile wait, so nothing
 *   that happens between the scan and the attach is missed (libsinsp does the same). The scan
 *   starts at BEGIN's record, which bpftrace runs once every probe is attached (its
 *   `attached_probes` message comes before the attaching).
 * - Drops are counted, never silent: `kernel` (bpftrace reported lost perf events: the buffer
 *   was full), `queue` (the consumer of the async iterator fell behind and the bounded queue
 *   was full; state is still updated, only the event is dropped), `parse` (a line that is not
 *   a record). A log line says so the first time and then at most every DROP_LOG_MS.
 *
 * Off the hot path: stdout is read in chunks and each chunk is parsed and applied as one batch;
 * the consumer gets events through a callback (synchronous, in batches) or an async iterator
 * over a bounded queue.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SyscallEvent } from '../../events/syscall.ts';
import { usedSyscallFields } from '../../fields/syscall/table.ts';
import { ContainerRegistry } from './container.ts';
import { criLookup } from './cri.ts';
import { AddressNames, DEFAULT_DNS_NAMES } from './dns.ts';
import { type Rec, parseLine } from './decode.ts';
import { ENV_CHUNKS, MAX_ENV_CHUNKS, STRLEN, TRACEFS_CANDIDATES, findTracefs, generateScript, probeKernel } from './script.ts';
import { SensorState } from './state.ts';
import { UserDirectory } from './users.ts';

const DROP_LOG_MS = 10_000;
const SWEEP_MS = 30_000;
/** Lines bpftrace prints on stderr that are not problems. */
const STDERR_NOISE = [/RLIMIT_MEMLOCK/, /WARNING: /, /^\s*~+\s*$/, /^\s*$/, /Addrspace mismatch/];

export interface SensorOptions {
  /** Called for every event, synchronously, in order. Without it, iterate the Sensor instead. */
  onEvent?: (ev: SyscallEvent) => void;
  /** Bound of the queue behind the async iterator (default 65,536 events). */
  queueMaxEvents?: number;
  /** bpftrace binary (default: `bpftrace` on PATH). */
  bpftracePath?: string;
  /**
   * Perf buffer pages per CPU (a power of 2; default defaultPerfPages()): more pages, fewer
   * kernel drops, but bpftrace drains one CPU's buffer at a time, so a full buffer also means
   * records of other CPUs arrive later (see the reorder window and state.ts).
   */
  perfBufferPages?: number;
  /** Event time records are held to put CPUs back in order (default 100 ms). */
  reorderWindowMs?: number;
  /** CRI sockets tried for container metadata; `false` turns the lookup off. Default: the usual paths. */
  criSockets?: string[] | false;
  criTimeoutMs?: number;
  /** Mount tracefs at /sys/kernel/tracing when it is missing (root only). Default true. */
  mountTracefs?: boolean;
  /** Messages for a person (start, drops, bpftrace errors). */
  log?: (level: 'info' | 'warn' | 'error', msg: string) => void;
  /** Where /proc is (tests). */
  procRoot?: string;
  /** Host names resolved now and then so fd.sip.name & co. can name addresses (default: the Kubernetes API's). */
  dnsNames?: string[];
  /**
   * Bytes of a new program's environment read in the kernel at exec (proc.env), in 200-byte
   * chunks (at most 4,000; 0: none). A longer environment is completed from
   * /proc/<pid>/environ while the process runs. Default: 4,000 when a loaded rule reads
   * `proc.env` or `proc.aenv` (condition or output), else 0 — the capture costs up to 20
   * records per exec (an exec storm with it: ~28,000 kernel drops; Falco's stable rules
   * do not read the environment, only incubating ones do).
   */
  envCaptureBytes?: number;
}

export interface SensorStats {
  /** Records read from bpftrace, by the sensor. */
  records: number;
  /** Events produced (after state), and handed to the consumer. */
  events: number;
  delivered: number;
  drops: { kernel: number; queue: number; parse: number; total: number };
  processes: number;
  containers: number;
  /** Records for processes looked up in /proc on the fly, and those /proc had nothing for. */
  procLookups: number;
  partialProcs: number;
  /** CPU seconds used by bpftrace (user + system) and by this process, since start. */
  bpftraceCpuSeconds: number;
  processCpuSeconds: number;
  /** Seconds since start. */
  uptimeSeconds: number;
  probes: number;
  /** Worst lateness of a record behind the newest one seen (ms), and records later than the reorder window. */
  lateMaxMs: number;
  lateBeyondWindow: number;
  /** Records that other CPUs' late records made wait or look back (see state.ts resolve()). */
  reorder: { earlyChildren: number; deferred: number; lostExecs: number; lateBeforeExec: number; lateAfterExit: number };
}

export interface Sensor extends AsyncIterable<SyscallEvent> {
  /** Resolves once the probes are attached and /proc was read; rejects if bpftrace fails first. */
  readonly ready: Promise<void>;
  /** Resolves when bpftrace has exited (after stop(), or on its own: `error` says why). */
  readonly done: Promise<{ code: number | null; signal: string | null; error?: string }>;
  stats(): SensorStats;
  /** Stop bpftrace, release what is held, end the iterator. */
  stop(): Promise<void>;
  /** The generated bpftrace program (for `vigil sensor --print-script` and tests). */
  readonly script: string;
}

export interface CanRun { ok: boolean; why?: string; tracefs?: string; bpftrace?: string }

/** The executable `cmd` on PATH (or as given when it has a slash), if any. */
export function which(cmd: string): string | undefined {
  if (cmd.includes('/')) return existsSync(cmd) ? cmd : undefined;
  for (const dir of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = path.join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch { /* next */ }
  }
  return undefined;
}

/**
 * Whether the sensor can run here, and why not: Linux, root, bpftrace installed, kernel BTF,
 * tracefs mounted (mounted here when `mountTracefs` and possible).
 */
export function canRunSensor(opts: { bpftracePath?: string; mountTracefs?: boolean } = {}): CanRun {
  if (process.platform !== 'linux') return { ok: false, why: `the syscall sensor needs Linux (this is ${process.platform})` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { ok: false, why: 'the syscall sensor needs root (bpftrace loads eBPF programs); run as root' };
  }
  const bpftrace = which(opts.bpftracePath ?? 'bpftrace');
  if (!bpftrace) return { ok: false, why: `bpftrace not found${opts.bpftracePath ? ` at ${opts.bpftracePath}` : ' on PATH'} (Debian/Ubuntu: apt-get install bpftrace)` };
  if (!existsSync('/sys/kernel/btf/vmlinux')) return { ok: false, why: 'the kernel has no BTF (/sys/kernel/btf/vmlinux): the sensor reads kernel structures through it' };
  let tracefs = findTracefs();
  if (!tracefs && opts.mountTracefs !== false) {
    const r = spawnSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS_CANDIDATES[0]!], { encoding: 'utf8' });
    if (r.status === 0) tracefs = findTracefs();
  }
  if (!tracefs) return { ok: false, why: `tracefs is not mounted (mount -t tracefs nodev ${TRACEFS_CANDIDATES[0]})`, bpftrace };
  if (!existsSync(`${tracefs}/events/syscalls/sys_enter_openat`)) return { ok: false, why: `no syscall tracepoints under ${tracefs}/events/syscalls (kernel without CONFIG_FTRACE_SYSCALLS)`, bpftrace, tracefs };
  return { ok: true, bpftrace, tracefs };
}

/**
 * Perf buffer pages per CPU: 16 MiB per CPU, down to 1 MiB on many-CPU machines (a total of
 * about 256 MiB). Measured on this project's 2-core machine under an open storm: with 64 pages
 * bpftrace lost a third of the events while idle half the time (it wakes up in batches); with
 * 4096 pages it lost none.
 */
export function defaultPerfPages(cpus = os.cpus().length): number {
  const budget = Math.floor((256 * 1024 * 1024) / 4096 / Math.max(1, cpus));
  let pages = 256;
  while (pages * 2 <= Math.min(4096, budget)) pages *= 2;
  return pages;
}

/** ns since the epoch at CLOCK_MONOTONIC 0 (bpftrace's nsecs), measured now. */
function bootEpochNs(): bigint {
  const mono = process.hrtime.bigint();
  const real = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
  return real - mono;
}

function childCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const t = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = t.slice(t.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return 0;
  }
}

/** Whether a rule loaded in this process reads the environment (fields resolved so far). */
export function rulesReadEnvironment(): boolean {
  return usedSyscallFields().some((f) => /^proc\.a?env(\[|$)/.test(f));
}

export function startSensor(opts: SensorOptions = {}): Sensor {
  const log = opts.log ?? (() => {});
  const can = canRunSensor({ bpftracePath: opts.bpftracePath, mountTracefs: opts.mountTracefs });
  if (!can.ok) throw new Error(can.why);
  const kernel = probeKernel(can.tracefs!);
  const envBytes = opts.envCaptureBytes ?? (rulesReadEnvironment() ? ENV_CHUNKS * STRLEN : 0);
  if (!Number.isFinite(envBytes) || envBytes < 0 || envBytes > MAX_ENV_CHUNKS * STRLEN) {
    throw new Error(`envCaptureBytes must be between 0 and ${MAX_ENV_CHUNKS * STRLEN} (got ${envBytes})`);
  }
  const script = generateScript(kernel, { envChunks: Math.ceil(envBytes / STRLEN) });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-sensor-'));
  const scriptPath = path.join(dir, 'sensor.bt');
  writeFileSync(scriptPath, script, { mode: 0o600 });

  const queueMax = opts.queueMaxEvents ?? 65_536;
  const windowNs = (opts.reorderWindowMs ?? 100) * 1e6;
  const idleMs = Math.max(5, opts.reorderWindowMs ?? 100);
  const drops = { kernel: 0, queue: 0, parse: 0 };
  /** How far behind the newest record a record arrived (other CPUs' buffers), worst case. */
  const late = { maxNs: 0, beyondWindow: 0 };
  let delivered = 0;
  let lastDropLog = 0;
  let loggedDrops = 0;
  const started = performance.now();
  const cpu0 = process.cpuUsage();

  // Consumer side: callback, or a bounded queue behind the async iterator.
  const queue: SyscallEvent[] = [];
  let qHead = 0;
  let waiter: (() => void) | undefined;
  let ended = false;
  const emit = opts.onEvent
    ? (ev: SyscallEvent) => { delivered++; opts.onEvent!(ev); }
    : (ev: SyscallEvent) => {
      if (queue.length - qHead >= queueMax) {
        drops.queue++;
        return;
      }
      queue.push(ev);
      delivered++;
    };

  const containers = new ContainerRegistry(
    opts.criSockets === false ? undefined : criLookup({ sockets: opts.criSockets || undefined, timeoutMs: opts.criTimeoutMs }),
    (m) => log('warn', m),
  );
  const addressNames = new AddressNames(opts.dnsNames ?? DEFAULT_DNS_NAMES);
  addressNames.start();
  const state = new SensorState({
    bootEpochNs: bootEpochNs(), containers, users: new UserDirectory(), emit, procRoot: opts.procRoot,
    ignorePids: new Set([process.pid]), addressNames,
  });

  let probes = 0;
  let attached = false;
  let held: Rec[] = [];
  let maxTs = 0;
  let seq = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  let resolveReady!: () => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => { resolveReady = res; rejectReady = rej; });
  ready.catch(() => {});

  const reportDrops = (): void => {
    const total = drops.kernel + drops.queue + drops.parse;
    if (total === loggedDrops) return;
    const now = Date.now();
    if (loggedDrops !== 0 && now - lastDropLog < DROP_LOG_MS) return;
    lastDropLog = now;
    loggedDrops = total;
    log('warn', `syscall sensor dropped events: ${drops.kernel} lost in the kernel (perf buffer full), ` +
      `${drops.queue} at the queue (consumer behind), ${drops.parse} unreadable lines`);
  };

  const wake = (): void => {
    const w = waiter;
    waiter = undefined;
    w?.();
  };

  /** Apply held records up to `cutoff` (all when undefined), in timestamp order. */
  const release = (cutoff?: number): void => {
    if (!attached || held.length === 0) return;
    held.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
    let n = held.length;
    if (cutoff !== undefined) {
      n = 0;
      while (n < held.length && held[n]!.ts <= cutoff) n++;
    }
    for (let i = 0; i < n; i++) {
      try {
        state.apply(held[i]!);
      } catch (e) {
        drops.parse++;
        log('error', `syscall sensor: record '${held[i]!.code}' failed: ${(e as Error).message}`);
      }
    }
    held = n === held.length ? [] : held.slice(n);
    if (n > 0) wake();
  };

  // bpftrace runs in its own process group: a Ctrl-C on the terminal goes to Vigil, which stops
  // it in order (flushing what is held). If Vigil dies, bpftrace dies on its next write (EPIPE).
  const child: ChildProcess = spawn(can.bpftrace!, ['-f', 'json', scriptPath], {
    stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    env: {
      ...process.env,
      BPFTRACE_STRLEN: '200',
      BPFTRACE_MAP_KEYS_MAX: '65536',
      BPFTRACE_PERF_RB_PAGES: String(opts.perfBufferPages ?? defaultPerfPages()),
    },
  });
  let stderrTail = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    stderrTail = (stderrTail + s).slice(-8192);
  });

  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const text = partial + chunk;
    const last = text.lastIndexOf('\n');
    if (last < 0) {
      partial = text;
      return;
    }
    partial = text.slice(last + 1);
    let start = 0;
    while (start <= last) {
      const nl = text.indexOf('\n', start);
      const line = text.slice(start, nl);
      start = nl + 1;
      if (!line) continue;
      const p = parseLine(line, seq++);
      switch (p.kind) {
        case 'rec':
          held.push(p.rec);
          if (p.rec.ts > maxTs) maxTs = p.rec.ts;
          else if (maxTs - p.rec.ts > late.maxNs) late.maxNs = maxTs - p.rec.ts;
          if (maxTs - p.rec.ts > windowNs) late.beyondWindow++;
          break;
        case 'lost': drops.kernel += p.events; break;
        // bpftrace 0.17 prints `attached_probes` before it attaches them (measured: 0.85 s
        // before BEGIN with ~170 probes; a scenario started then lost its opens) and runs BEGIN
        // once all are attached: BEGIN's record (our pid) is the moment to read /proc.
        case 'attached': probes = p.probes; break;
        case 'self':
          state.ignorePids.add(p.pid);
          if (attached) break;
          try {
            const n = state.seed();
            log('info', `syscall sensor: ${probes} probes attached, ${n} processes read from /proc`);
          } catch (e) {
            log('warn', `syscall sensor: reading /proc failed: ${(e as Error).message}`);
          }
          attached = true;
          resolveReady();
          break;
        case 'bad': drops.parse++; break;
        default:
      }
    }
    release(maxTs - windowNs);
    reportDrops();
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => { release(); reportDrops(); }, idleMs);
  });

  const sweeper = setInterval(() => state.sweep(), SWEEP_MS);
  sweeper.unref();
  // Records waiting for an exec record that does not come are applied after a while.
  const staleTimer = setInterval(() => { if (attached) { state.flushStale(); wake(); } }, 250);
  staleTimer.unref();

  let bpftraceCpu = 0;
  const cpuTimer = setInterval(() => { bpftraceCpu = Math.max(bpftraceCpu, childCpuSeconds(child.pid)); }, 1000);
  cpuTimer.unref();

  const done = new Promise<{ code: number | null; signal: string | null; error?: string }>((resolve) => {
    child.on('error', (e) => {
      rejectReady(new Error(`bpftrace did not start: ${e.message}`));
      resolve({ code: null, signal: null, error: e.message });
    });
    child.on('exit', (code, signal) => {
      clearInterval(sweeper);
      clearInterval(staleTimer);
      addressNames.stop();
      clearInterval(cpuTimer);
      if (idleTimer) clearTimeout(idleTimer);
      release();
      state.flushStale(Number.MAX_SAFE_INTEGER);
      ended = true;
      wake();
      rmSync(dir, { recursive: true, force: true });
      const errors = stderrTail.split('\n').filter((l) => !STDERR_NOISE.some((re) => re.test(l))).join('\n').trim();
      const error = stopping ? undefined : `bpftrace exited (${signal ?? `code ${code}`})${errors ? ': ' + errors : ''}`;
      if (!attached) rejectReady(new Error(error ?? 'bpftrace stopped before the probes were attached'));
      if (error) log('error', `syscall sensor: ${error}`);
      resolve({ code, signal, ...(error ? { error } : {}) });
    });
  });

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (!stopping) {
      stopping = true;
      bpftraceCpu = Math.max(bpftraceCpu, childCpuSeconds(child.pid));
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await done;
        clearTimeout(t);
      }
    }
    await done;
  };

  const stats = (): SensorStats => {
    const c = process.cpuUsage(cpu0);
    if (!stopping) bpftraceCpu = Math.max(bpftraceCpu, childCpuSeconds(child.pid));
    return {
      records: state.counters.records, events: state.counters.events, delivered,
      drops: { ...drops, total: drops.kernel + drops.queue + drops.parse },
      processes: state.procs.size, containers: containers.size,
      procLookups: state.counters.procLookups, partialProcs: state.counters.partialProcs,
      bpftraceCpuSeconds: bpftraceCpu, processCpuSeconds: (c.user + c.system) / 1e6,
      uptimeSeconds: (performance.now() - started) / 1000, probes,
      lateMaxMs: late.maxNs / 1e6, lateBeyondWindow: late.beyondWindow,
      reorder: {
        earlyChildren: state.counters.earlyChildren, deferred: state.counters.deferred, lostExecs: state.counters.lostExecs,
        lateBeforeExec: state.counters.lateBeforeExec, lateAfterExit: state.counters.lateAfterExit,
      },
    };
  };

  const iterator = (): AsyncIterator<SyscallEvent> => ({
    async next(): Promise<IteratorResult<SyscallEvent>> {
      for (;;) {
        if (qHead < queue.length) {
          const v = queue[qHead]!;
          queue[qHead++] = undefined as unknown as SyscallEvent;
          if (qHead > 4096 && qHead * 2 > queue.length) {
            queue.splice(0, qHead);
            qHead = 0;
          }
          return { value: v, done: false };
        }
        if (ended) return { value: undefined, done: true };
        await new Promise<void>((r) => { waiter = r; });
      }
    },
    async return(): Promise<IteratorResult<SyscallEvent>> {
      await stop();
      return { value: undefined, done: true };
    },
  });

  return { ready, done, stats, stop, script, [Symbol.asyncIterator]: iterator };
}
