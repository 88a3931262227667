/**
 * Child: the syscall sensor under a synthetic load, its events judged by the upstream stable
 * rules (rule_matching first), as `vigil sensor` does.
 *
 * Load, for LOAD_S seconds, on the CPUs this child is not pinned to (when there are others):
 * - a process storm: shell loops that fork and exec /bin/true as fast as they can;
 * - a file-open storm: perl opening and closing files in a tight loop.
 *
 * Figures (all over the load window):
 * - sensor.events_per_s: events the sensor produced and the engine evaluated, per second;
 * - sensor.cpu_percent: CPU time of bpftrace + this process (state, decoding, rules), as a
 *   percentage of one core (the kernel side of eBPF runs in the traced processes and is not
 *   in it);
 * - sensor.drops: events lost (kernel perf buffers full + queue), with the split in the note.
 *
 * argv: [load seconds] [pin cpu]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { Engine } from '../../src/engine/engine.ts';
import { defaultTables } from '../../src/engine/tables.ts';
import { canRunSensor, startSensor } from '../../src/sources/syscall/runtime.ts';
import { type BenchResult, UPSTREAM_SYSCALL_RULES, emitResults, log, round } from '../common.ts';

const LOAD_S = Number(process.argv[2] ?? 8);
const PIN = process.argv[3] === undefined ? undefined : Number(process.argv[3]);

const names = ['sensor.events_per_s', 'sensor.cpu_percent', 'sensor.drops'] as const;
const units = ['events/s', '% of one core', 'events'];

const can = canRunSensor();
if (!can.ok) {
  emitResults(names.map((name, i) => ({ name, value: null, unit: units[i]!, note: `skipped: ${can.why}` })));
  process.exit(0);
}

const engine = new Engine({ tables: defaultTables(), ruleMatching: 'first', hostname: 'bench' });
const loaded = engine.loadFiles([UPSTREAM_SYSCALL_RULES[0]!]);
if (!loaded.ok) throw new Error('falco_rules.yaml failed to load');

let events = 0;
let alerts = 0;
const sensor = startSensor({
  onEvent: (ev) => {
    events++;
    alerts += engine.process(ev).length;
  },
  log: (level, msg) => log(`${level}: ${msg}`),
});
const t0 = performance.now();
await sensor.ready;
log(`sensor ready in ${round((performance.now() - t0) / 1000, 1)} s`);

// Load generators on the other CPUs, so they do not share this child's core.
const cpus = os.cpus().length;
const others = PIN !== undefined && cpus > 1 ? [...Array(cpus).keys()].filter((c) => c !== PIN).join(',') : undefined;
const canPin = others !== undefined && spawnSync('taskset', ['-c', others, 'true']).status === 0;
const gen = (argv: string[]): ChildProcess => spawn(canPin ? 'taskset' : argv[0]!, canPin ? ['-c', others!, ...argv] : argv.slice(1), { stdio: 'ignore' });
const deadline = `$(( $(date +%s) + ${LOAD_S} ))`;
const load = [
  gen(['sh', '-c', `end=${deadline}; while [ $(date +%s) -lt $end ]; do /bin/true; /bin/true; /bin/true; /bin/true; done`]),
  gen(['sh', '-c', `end=${deadline}; while [ $(date +%s) -lt $end ]; do /bin/true; /bin/true; /bin/true; /bin/true; done`]),
  gen(['perl', '-e', `my $end = time + ${LOAD_S}; while (time < $end) { for (1..1000) { open(my $f, '<', '/etc/hostname'); close($f); } }`]),
];

const before = sensor.stats();
const ev0 = events;
const w0 = performance.now();
await Promise.all(load.map((p) => new Promise((r) => p.on('exit', r))));
const seconds = (performance.now() - w0) / 1000;
const after = sensor.stats();
const evWindow = events - ev0;
// Let the backlog drain, to report what the load cost in the end.
let last = -1;
for (let i = 0; i < 40 && events !== last; i++) {
  last = events;
  await new Promise((r) => setTimeout(r, 500));
}
const drained = sensor.stats();
await sensor.stop();

const cpu = (after.bpftraceCpuSeconds - before.bpftraceCpuSeconds) + (after.processCpuSeconds - before.processCpuSeconds);
const drops = drained.drops.total - before.drops.total;
const active = engine.allRules.filter((r) => r.source === 'syscall' && engine.isActive(r)).length;
const results: BenchResult[] = [
  {
    name: 'sensor.events_per_s', value: round(evWindow / seconds), unit: 'events/s',
    note: `${evWindow} events evaluated by ${active} stable rules in ${round(seconds, 1)} s of process storm (2 fork/exec loops) + ` +
      `open storm (perl); ${drained.events - before.events} events in all once drained; ${alerts} alerts; load ${canPin ? `on CPUs ${others}` : 'unpinned'}`,
  },
  {
    name: 'sensor.cpu_percent', value: round((cpu / seconds) * 100, 1), unit: '% of one core',
    note: `bpftrace ${round(after.bpftraceCpuSeconds - before.bpftraceCpuSeconds, 2)} s + vigil ${round(after.processCpuSeconds - before.processCpuSeconds, 2)} s ` +
      'over the load window (kernel-side eBPF time is charged to the traced processes)',
  },
  {
    name: 'sensor.drops', value: drops, unit: 'events',
    note: `kernel (perf buffer full) ${drained.drops.kernel - before.drops.kernel}, queue ${drained.drops.queue - before.drops.queue}, ` +
      `unreadable ${drained.drops.parse - before.drops.parse}; worst lateness of a CPU's records ${round(drained.lateMaxMs)} ms`,
  },
];
emitResults(results);
process.exit(0);
