/**
 * Helpers for the live sensor tests: a cgroup that looks like a kubelet's container, commands
 * run inside it, a loopback listener that plays the attacker's side of a reverse shell, and a
 * fileless (memfd) execution. Everything stays on this machine and on 127.0.0.1.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { which } from '../../../src/sources/syscall/runtime.ts';

export { which };

/** A cgroup at `.../kubepods/besteffort/pod<uid>/<64 hex>`, in a v1 hierarchy the sensor reads (or v2). */
export class FakeContainer {
  readonly fullId = randomBytes(32).toString('hex');
  readonly id = this.fullId.slice(0, 12);
  readonly podUid = randomUUID();
  readonly dir: string;
  private created: string[] = [];

  constructor() {
    const base = ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/cpu', '/sys/fs/cgroup/unified', '/sys/fs/cgroup']
      .find((d) => existsSync(`${d}/cgroup.procs`));
    if (!base) throw new Error('no cgroup hierarchy to put test processes in');
    let cur = base;
    for (const part of ['kubepods', 'besteffort', `pod${this.podUid}`, this.fullId]) {
      cur = `${cur}/${part}`;
      if (!existsSync(cur)) {
        mkdirSync(cur);
        this.created.push(cur);
      }
    }
    this.dir = cur;
  }

  /** argv that runs `cmd` inside the container's cgroup (the shell moves itself, then execs). */
  wrap(cmd: string[]): string[] {
    return ['sh', '-c', `echo $$ > ${this.dir}/cgroup.procs && exec "$@"`, 'sh', ...cmd];
  }

  /** Kill what is left in it and remove the folders, innermost first. */
  remove(): void {
    for (const dir of [...this.created].reverse()) {
      try {
        const left = readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean);
        for (const pid of left) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch { /* gone */ }
        }
      } catch { /* no file */ }
    }
    for (const dir of [...this.created].reverse()) {
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(dir);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EBUSY') break;
          spawnSync('sleep', ['0.1']);
        }
      }
    }
  }
}

export interface Ran {
  child: ChildProcess;
  pid: number;
  exited: Promise<number | null>;
  output(): string;
}

/** Start a command (never blocking the event loop, so the sensor keeps reading). */
export function run(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; stdin?: 'ignore' | 'pipe' } = {}): Ran {
  const child = spawn(argv[0]!, argv.slice(1), {
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd,
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', () => resolve(null));
  });
  return { child, pid: child.pid!, exited, output: () => out };
}

/**
 * A loopback TCP listener playing the attacker: when a shell connects it sends `exit` after a
 * moment and closes. `connected` resolves with the peer's port.
 */
export async function listener(): Promise<{ port: number; connected: Promise<number>; close(): void }> {
  let resolveConn!: (p: number) => void;
  const connected = new Promise<number>((r) => { resolveConn = r; });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    resolveConn(s.remotePort ?? 0);
    s.on('error', () => {});
    s.on('data', () => {});
    setTimeout(() => { s.write('exit\n'); setTimeout(() => s.end(), 300); }, 700);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port, connected,
    close: () => { for (const s of sockets) s.destroy(); server.close(); },
  };
}

/** A folder with `runc` (a symlink to `script`, which gives its child a terminal) and `nc`. */
export function toolDir(): { dir: string; runc?: string; nc?: string; memfdScript: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-sensor-test-'));
  const script = which('script');
  let runc: string | undefined;
  if (script) {
    runc = path.join(dir, 'runc');
    symlinkSync(script, runc);
  }
  // A netcat that knows -e, run under the name `nc` (the name the rule looks for).
  let nc: string | undefined;
  for (const cand of ['ncat', 'nc.traditional', 'nc']) {
    const p = which(cand);
    if (!p) continue;
    const help = spawnSync(p, ['-h'], { encoding: 'utf8' });
    if (/(^|\s)-e[ ,]/m.test((help.stdout ?? '') + (help.stderr ?? ''))) {
      nc = path.join(dir, 'nc');
      symlinkSync(p, nc);
      break;
    }
  }
  // memfd_create, copy /bin/true into it, exec /proc/self/fd/N: a program that is no file.
  const memfdScript = path.join(dir, 'memfd.pl');
  writeFileSync(memfdScript, [
    'use POSIX;',
    'my $nr = (POSIX::uname())[4] eq "aarch64" ? 279 : 319;',
    'my $name = "vigil-test";',
    'my $fd = syscall($nr, $name, 0);',
    'die "memfd_create: $!" if $fd < 0;',
    'open(my $out, ">&=", $fd) or die "fdopen: $!";',
    'open(my $in, "<", "/bin/true") or die "open: $!";',
    'binmode $in; binmode $out; local $/; my $data = <$in>; print {$out} $data; close $in;',
    'exec {"/proc/self/fd/$fd"} "vigil-memfd" or die "exec: $!";',
  ].join('\n') + '\n');
  return { dir, runc, nc, memfdScript, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
