/** Helpers for tests that run `vigil run` as a child process. */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../helpers.ts';

export const BIN = path.join(projectRoot, 'bin', 'vigil.mjs');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `get` every `everyMs` until it returns a value; fail after `ms` with `why()` appended. */
export async function waitFor<T>(what: string, get: () => Promise<T | undefined>, ms: number, why: () => string = () => '', everyMs = 200): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${why()}`);
    await sleep(everyMs);
  }
}

/** `vigil run --config cfgFile`, with the last 100 kB of its stderr (the log) kept. */
export function spawnRun(cfgFile: string): { child: ChildProcess; log: () => string } {
  let stderr = '';
  const child = spawn(process.execPath, [BIN, 'run', '--config', cfgFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-100_000); });
  return { child, log: () => stderr };
}

/**
 * Stop a `vigil run` child with SIGTERM (SIGKILL after 60 s) and return its exit code. A child
 * that had already exited is not judged here (0): the test's own checks reported it.
 */
export async function stopRun(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return 0;
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  child.kill('SIGTERM');
  const k = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await exited;
  clearTimeout(k);
  return code;
}
