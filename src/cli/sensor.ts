/**
 * `vigil sensor`: run the syscall sensor alone, judge its events with the rules, print alerts;
 * optionally record the events for `vigil replay --source syscall`.
 *
 * Exit codes: 0 stopped (SIGINT/SIGTERM or --duration), 1 rules failed to load or bpftrace
 * failed, 2 bad usage, 3 the sensor cannot run here (not root, no bpftrace, no tracefs, no BTF).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Command } from 'commander';
import { bundledRuleFiles } from '../engine/bundled.ts';
import { type Alert, Engine, type RuleMatching, alertToJson } from '../engine/engine.ts';
import { defaultTables } from '../engine/tables.ts';
import { encodeRecordedEvent, type SyscallEvent } from '../events/syscall.ts';
import { fieldRecorder } from '../fields/syscall/record.ts';
import { usedSyscallFields } from '../fields/syscall/table.ts';
import { parsePriority } from '../rules/collector.ts';
import { formatDiagnostic } from '../rules/diagnostics.ts';
import { canRunSensor, startSensor, type SensorStats } from '../sources/syscall/runtime.ts';
import { textLine } from './replay.ts';

export const EXIT_CANNOT_RUN = 3;

export interface SensorCliOptions {
  rules?: string[];
  record?: string;
  recordAll?: boolean;
  format?: 'json' | 'text';
  minPriority?: string;
  ruleMatching?: RuleMatching;
  durationS?: number;
  bpftrace?: string;
  color?: boolean;
}

export interface SensorIO {
  out(line: string): void;
  err(line: string): void;
  /** Resolves when the run should stop (a signal); the CLI wires SIGINT/SIGTERM. */
  stopSignal?: Promise<void>;
}

function statsLine(s: SensorStats): string {
  const cpu = s.uptimeSeconds > 0 ? ((s.bpftraceCpuSeconds + s.processCpuSeconds) / s.uptimeSeconds) * 100 : 0;
  return `vigil sensor: ${s.events} events from ${s.records} records in ${s.uptimeSeconds.toFixed(1)} s; ` +
    `drops ${s.drops.total} (kernel ${s.drops.kernel}, queue ${s.drops.queue}, unreadable ${s.drops.parse}); ` +
    `${s.processes} processes, ${s.containers} containers; CPU ${cpu.toFixed(1)}% ` +
    `(bpftrace ${s.bpftraceCpuSeconds.toFixed(1)} s, vigil ${s.processCpuSeconds.toFixed(1)} s)`;
}

/** The whole command, for the CLI and for tests. */
export async function runSensorCommand(o: SensorCliOptions, io: SensorIO): Promise<{ code: number; alerts: number; events: number }> {
  const can = canRunSensor({ bpftracePath: o.bpftrace });
  if (!can.ok) {
    io.err(`vigil sensor: cannot run the syscall sensor: ${can.why}`);
    return { code: EXIT_CANNOT_RUN, alerts: 0, events: 0 };
  }
  const engine = new Engine({ tables: defaultTables(), ruleMatching: o.ruleMatching ?? 'first' });
  if (o.minPriority) {
    const p = parsePriority(o.minPriority);
    if (p === undefined) {
      io.err(`vigil sensor: invalid --min-priority '${o.minPriority}'`);
      return { code: 2, alerts: 0, events: 0 };
    }
    engine.minPriority = p;
  }
  const files = o.rules?.length ? o.rules : bundledRuleFiles();
  const res = engine.loadFiles(files);
  for (const d of res.diagnostics) if (d.severity === 'error') io.err(formatDiagnostic(d));
  if (!res.ok) return { code: 1, alerts: 0, events: 0 };
  const syscallRules = engine.allRules.filter((r) => r.source === 'syscall' && engine.isActive(r)).length;
  if (syscallRules === 0) io.err(`vigil sensor: warning: no active syscall rule in ${files.join(', ')}; events are recorded but nothing can alert`);

  let out: WriteStream | undefined;
  const recorder = o.record ? fieldRecorder(defaultTables().get('syscall')!, usedSyscallFields()) : undefined;
  if (o.record) {
    out = createWriteStream(o.record);
    out.on('error', (e) => io.err(`vigil sensor: cannot write ${o.record}: ${e.message}`));
  }
  const format = o.format ?? 'json';
  let alerts = 0;
  let events = 0;
  const onEvent = (ev: SyscallEvent): void => {
    events++;
    const found: Alert[] = engine.process(ev);
    if (out && recorder && (o.recordAll || found.length > 0 || engine.candidateCount(ev) > 0)) {
      out.write(encodeRecordedEvent(ev.timeNs, recorder.record(ev)) + '\n');
    }
    for (const a of found) {
      alerts++;
      io.out(format === 'json' ? alertToJson(a) : textLine(a, !!o.color));
    }
  };
  let sensor;
  try {
    sensor = startSensor({
      onEvent, ...(o.bpftrace ? { bpftracePath: o.bpftrace } : {}),
      log: (level, msg) => io.err(level === 'info' ? msg : `${level}: ${msg}`),
    });
  } catch (e) {
    io.err(`vigil sensor: ${(e as Error).message}`);
    return { code: EXIT_CANNOT_RUN, alerts: 0, events: 0 };
  }
  try {
    await sensor.ready;
  } catch (e) {
    io.err(`vigil sensor: ${(e as Error).message}`);
    out?.end();
    return { code: 1, alerts: 0, events: 0 };
  }
  io.err(`vigil sensor: watching (${syscallRules} syscall rules from ${files.length} file(s))${o.record ? `, recording to ${o.record}` : ''}; Ctrl-C stops`);
  const stops: Array<Promise<unknown>> = [sensor.done];
  if (io.stopSignal) stops.push(io.stopSignal);
  if (o.durationS !== undefined) stops.push(new Promise((r) => setTimeout(r, o.durationS! * 1000)));
  const first = await Promise.race(stops.map((p, i) => p.then(() => i)));
  const died = first === 0;
  await sensor.stop();
  const result = await sensor.done;
  if (out) await new Promise<void>((r) => out!.end(r));
  io.err(statsLine(sensor.stats()));
  if (died && result.error) return { code: 1, alerts, events };
  return { code: 0, alerts, events };
}

export function registerSensor(program: Command, state: { code: number }): void {
  program
    .command('sensor')
    .description('Run the syscall sensor (eBPF through bpftrace; root) and print alerts; optionally record events')
    .option('--rules <file>', 'rules file (repeatable); default: Vigil\'s bundled packs', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--record <file>', 'write events as JSON lines, for `vigil replay --source syscall`')
    .option('--record-all', 'record every event, not only those a loaded rule could match')
    .option('--format <format>', 'json or text (default: json when stdout is not a terminal)')
    .option('--min-priority <priority>', 'only rules at least this severe')
    .option('--rule-matching <mode>', 'first (Falco\'s default) or all', 'first')
    .option('--duration <seconds>', 'stop after this many seconds')
    .option('--bpftrace <path>', 'bpftrace binary (default: bpftrace on PATH)')
    .option('--print-script', 'print the generated bpftrace program and exit')
    .action(async (o: { rules: string[]; record?: string; recordAll?: boolean; format?: string; minPriority?: string; ruleMatching: string; duration?: string; bpftrace?: string; printScript?: boolean }) => {
      if (o.printScript) {
        const { findTracefs, probeKernel, generateScript } = await import('../sources/syscall/script.ts');
        const tracefs = findTracefs();
        if (!tracefs) {
          process.stderr.write('vigil sensor: tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)\n');
          state.code = EXIT_CANNOT_RUN;
          return;
        }
        process.stdout.write(generateScript(probeKernel(tracefs)));
        return;
      }
      if (o.ruleMatching !== 'first' && o.ruleMatching !== 'all') {
        process.stderr.write('vigil sensor: --rule-matching must be first or all\n');
        state.code = 2;
        return;
      }
      const format = (o.format ?? (process.stdout.isTTY ? 'text' : 'json')) as 'json' | 'text';
      if (format !== 'json' && format !== 'text') {
        process.stderr.write('vigil sensor: --format must be json or text\n');
        state.code = 2;
        return;
      }
      const duration = o.duration === undefined ? undefined : Number(o.duration);
      if (duration !== undefined && !(duration > 0)) {
        process.stderr.write('vigil sensor: --duration needs a number of seconds\n');
        state.code = 2;
        return;
      }
      // First SIGINT/SIGTERM: stop in order (stats printed); a second one: stop now.
      let signals = 0;
      const stopSignal = new Promise<void>((resolve) => {
        const on = (): void => {
          if (++signals > 1) process.exit(130);
          resolve();
        };
        process.on('SIGINT', on);
        process.on('SIGTERM', on);
      });
      const r = await runSensorCommand({
        rules: o.rules, record: o.record, recordAll: !!o.recordAll, format, minPriority: o.minPriority,
        ruleMatching: o.ruleMatching, durationS: duration, bpftrace: o.bpftrace,
        color: format === 'text' && !!process.stdout.isTTY,
      }, {
        out: (l) => process.stdout.write(l + '\n'),
        err: (l) => process.stderr.write(l + '\n'),
        stopSignal,
      });
      state.code = r.code;
    });
}
