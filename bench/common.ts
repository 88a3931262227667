/**
 * What the benchmark harness shares: the result record, where the inputs live, a seeded PRNG,
 * small statistics, and the protocol between `bench/run.ts` and its measurement children.
 *
 * Every measurement runs in a child process of its own (see run.ts) so that JIT state, heap
 * and peak RSS belong to that measurement alone. A child prints its results as one marked
 * line on stdout; progress goes to stderr, which the parent passes through.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchResult {
  name: string;
  /** null when the figure could not be measured (the note says why). */
  value: number | null;
  unit: string;
  note: string;
}

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT_DIR = path.resolve(BENCH_DIR, '..');
/**
 * Upstream material (Falco rules, audit traces), a sibling of the project; may be missing.
 * VIGIL_BENCH_SHARED points elsewhere (e.g. at a folder that does not exist, to check the
 * harness without it).
 */
export const SHARED_DIR = path.resolve(process.env.VIGIL_BENCH_SHARED ?? path.join(ROOT_DIR, '..', 'shared'));
export const UPSTREAM_RULES_DIR = path.join(SHARED_DIR, 'falco', 'rules');
export const AUDIT_TRACES_DIR = path.join(SHARED_DIR, 'falco', 'k8s_audit_traces');
/** Generated inputs; git-ignored. */
export const DATA_DIR = path.join(BENCH_DIR, 'data');

export const UPSTREAM_SYSCALL_RULES = ['falco_rules.yaml', 'falco-incubating_rules.yaml', 'falco-sandbox_rules.yaml']
  .map((f) => path.join(UPSTREAM_RULES_DIR, f));
export const UPSTREAM_K8S_RULES = path.join(UPSTREAM_RULES_DIR, 'k8s_audit_rules.yaml');
export const UPSTREAM_ALL_RULES = [...UPSTREAM_SYSCALL_RULES, UPSTREAM_K8S_RULES];

/** The files that exist, or the first one missing. */
export function missingFile(paths: string[]): string | undefined {
  return paths.find((p) => !existsSync(p));
}

/** A path relative to the project root, for notes. */
export function rel(p: string): string {
  return path.relative(ROOT_DIR, p) || '.';
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness: mulberry32. Small, fast, and the same stream on every machine, so
// every run measures exactly the same events.

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.int(16)];
    return s;
  }

  /** A random (version 4 shaped) UUID. */
  uuid(): string {
    return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-${'89ab'[this.int(4)]}${this.hex(3)}-${this.hex(12)}`;
  }
}

/** Pick by weight: `[[weight, value], ...]`, weights need not sum to 1. */
export function weighted<T>(items: ReadonlyArray<readonly [number, T]>): (rng: Rng) => T {
  const total = items.reduce((s, [w]) => s + w, 0);
  const cum: number[] = [];
  let acc = 0;
  for (const [w] of items) cum.push((acc += w / total));
  return (rng) => {
    const x = rng.next();
    for (let i = 0; i < cum.length; i++) if (x < cum[i]!) return items[i]![1];
    return items[items.length - 1]![1];
  };
}

// ---------------------------------------------------------------------------------------------
// Statistics and units

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Peak resident set size of this process so far, in MB (maxRSS is in KB). */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

export function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// ---------------------------------------------------------------------------------------------
// Child protocol

const MARK = '@@vigil-bench-results ';

/** Called by a measurement child once, at the end: hands its results to the parent. */
export function emitResults(results: BenchResult[]): void {
  process.stdout.write('\n' + MARK + JSON.stringify(results) + '\n');
}

/** The results a child printed, or undefined when it printed none. */
export function parseChildResults(stdout: string): BenchResult[] | undefined {
  const i = stdout.lastIndexOf(MARK);
  if (i < 0) return undefined;
  const line = stdout.slice(i + MARK.length).split('\n', 1)[0]!;
  return JSON.parse(line) as BenchResult[];
}

/** Progress on stderr, so stdout stays clean for the results line. */
export function log(msg: string): void {
  process.stderr.write(`  [${path.basename(process.argv[1] ?? 'bench')}] ${msg}\n`);
}
