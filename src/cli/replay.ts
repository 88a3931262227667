/**
 * `vigil replay`: read recorded events from files (or stdin), run the rules, print one alert
 * per line, as Falco's JSON alert or as Falco's text line.
 */
import { createReadStream } from 'node:fs';
import type { Command } from 'commander';
import { bundledRuleFiles } from '../engine/bundled.ts';
import { type Alert, Engine, type RuleMatching, alertToJson } from '../engine/engine.ts';
import { defaultTables } from '../engine/tables.ts';
import { AuditEvent, isDecodeError, readAuditStream } from '../events/k8saudit.ts';
import { parsePriority } from '../rules/collector.ts';
import { formatDiagnostic } from '../rules/diagnostics.ts';
import { readSyscallStream } from '../events/syscall.ts';
import type { VigilEvent } from '../events/event.ts';

export interface ReplayOptions {
  rules?: string[];
  source?: 'k8s_audit' | 'syscall';
  minPriority?: string;
  format?: 'json' | 'text';
  ruleMatching?: RuleMatching;
  hostname?: string;
  color?: boolean;
  /** Generated functions instead of closures (see src/rules/codegen.ts). */
  codegen?: boolean;
}

export interface ReplayIO {
  out(line: string): void;
  err(line: string): void;
}

/** Replay files through an engine; the same code path the CLI and the tests use. */
export async function replayFiles(files: string[], opts: ReplayOptions, io: ReplayIO): Promise<{ code: number; alerts: number; events: number }> {
  const engine = new Engine({
    tables: defaultTables(),
    ruleMatching: opts.ruleMatching ?? 'first',
    codegen: !!opts.codegen,
    ...(opts.hostname ? { hostname: opts.hostname } : {}),
  });
  if (opts.minPriority) {
    const p = parsePriority(opts.minPriority);
    if (p === undefined) {
      io.err(`vigil replay: invalid --min-priority '${opts.minPriority}' (one of emergency, alert, critical, error, warning, notice, informational, debug)`);
      return { code: 2, alerts: 0, events: 0 };
    }
    engine.minPriority = p;
  }
  const ruleFiles = opts.rules?.length ? opts.rules : bundledRuleFiles();
  const res = engine.loadFiles(ruleFiles);
  for (const d of res.diagnostics) if (d.severity === 'error') io.err(formatDiagnostic(d));
  if (!res.ok) return { code: 1, alerts: 0, events: 0 };

  const format = opts.format ?? 'json';
  let alerts = 0;
  let events = 0;
  let num = 0;
  const emit = (a: Alert) => {
    alerts++;
    io.out(format === 'json' ? alertToJson(a) : textLine(a, !!opts.color));
  };
  for (const file of files.length ? files : ['-']) {
    const input = file === '-' ? process.stdin : createReadStream(file);
    const origin = file === '-' ? 'stdin' : file;
    let failed = false;
    input.on('error', (e: NodeJS.ErrnoException) => {
      io.err(`vigil replay: cannot read ${origin}: ${e.code ?? e.message}`);
      failed = true;
    });
    const stream: AsyncIterable<unknown> = opts.source === 'syscall' ? readSyscallStream(input, origin) : readAuditStream(input, origin);
    try {
      for await (const x of stream) {
        if (isDecodeErrorAny(x)) {
          io.err(`${x.origin}${x.line !== undefined ? ':' + x.line : ''}: ${x.error}${x.detail ? ` (${x.detail})` : ''}`);
          continue;
        }
        const ev = x as VigilEvent & { num?: number };
        ev.num = ++num;
        events++;
        for (const a of engine.process(ev)) emit(a);
      }
    } catch (e) {
      if (!failed) io.err(`vigil replay: ${origin}: ${(e as Error).message}`);
    }
  }
  return { code: 0, alerts, events };
}

function isDecodeErrorAny(x: unknown): x is { error: string; origin: string; line?: number; detail?: string } {
  if (x instanceof AuditEvent) return false;
  return typeof x === 'object' && x !== null && 'error' in x && !('source' in x);
}

const COLORS: Record<string, string> = {
  Emergency: '\x1b[1;31m', Alert: '\x1b[1;31m', Critical: '\x1b[31m', Error: '\x1b[31m', Warning: '\x1b[33m',
  Notice: '\x1b[36m', Informational: '\x1b[32m', Debug: '\x1b[2m',
};

/** Falco's text line: `<time>: <Priority> <output>`. */
export function textLine(a: Alert, color: boolean): string {
  if (!color) return a.output;
  const c = COLORS[a.priority] ?? '';
  const idx = a.output.indexOf(': ');
  return `\x1b[2m${a.output.slice(0, idx)}\x1b[0m: ${c}${a.priority}\x1b[0m \x1b[1m${a.rule}\x1b[0m — ${a.message}`;
}

export function registerReplay(program: Command, state: { code: number }): void {
  program
    .command('replay')
    .description('Run rules over recorded events (files or - for stdin) and print one alert per line')
    .argument('[files...]', 'event files: audit JSON lines, Event, EventList or arrays; - for stdin')
    .option('--rules <file>', 'rules file (repeatable); default: Vigil\'s bundled packs', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--source <source>', 'event source of the files: k8s_audit or syscall', 'k8s_audit')
    .option('--min-priority <priority>', 'only rules at least this severe')
    .option('--format <format>', 'json or text (default: json when stdout is not a terminal)')
    .option('--rule-matching <mode>', 'first (Falco\'s default) or all', 'first')
    .option('--hostname <name>', 'hostname written in alerts')
    .action(async (files: string[], o: { rules: string[]; source: string; minPriority?: string; format?: string; ruleMatching: string; hostname?: string }) => {
      if (o.source !== 'k8s_audit' && o.source !== 'syscall') {
        process.stderr.write(`vigil replay: unknown --source '${o.source}' (k8s_audit or syscall)\n`);
        state.code = 2;
        return;
      }
      if (o.ruleMatching !== 'first' && o.ruleMatching !== 'all') {
        process.stderr.write(`vigil replay: --rule-matching must be first or all\n`);
        state.code = 2;
        return;
      }
      const format = (o.format ?? (process.stdout.isTTY ? 'text' : 'json')) as 'json' | 'text';
      if (format !== 'json' && format !== 'text') {
        process.stderr.write(`vigil replay: --format must be json or text\n`);
        state.code = 2;
        return;
      }
      const r = await replayFiles(files, {
        rules: o.rules, source: o.source, minPriority: o.minPriority, format, ruleMatching: o.ruleMatching,
        hostname: o.hostname, color: format === 'text' && !!process.stdout.isTTY,
      }, {
        out: (l) => process.stdout.write(l + '\n'),
        err: (l) => process.stderr.write(l + '\n'),
      });
      if (process.stdout.isTTY && format === 'text') process.stderr.write(`${r.events} events, ${r.alerts} alerts\n`);
      state.code = r.code;
    });
}
