/**
 * The syscall sensor inside `vigil run` with `store_events: all`: a real `cat /etc/hostname`
 * is stored as a syscall event that `vigil search --syscall` finds (through the running
 * server's store API), and its record replays with `vigil replay --source syscall`. Then
 * bpftrace is killed: the sensor is started again after a backoff, /readyz and
 * `vigil_sensor_restarts_total` say so, and events are stored again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BIN, spawnRun, stopRun, waitFor } from './run-child.ts';
import { canRunSensor } from '../../src/sources/syscall/runtime.ts';
import { skipOrFail } from '../helpers.ts';
import { tmpDir } from '../harness.ts';

interface SensorState { ok: boolean; state: string; why?: string; restarts?: number; stored?: { events: number; dropped: number; queued: number } }
interface Readyz { ready: boolean; sources: Record<string, SensorState> }

/** Children of `pid` named `comm`. */
function childrenNamed(pid: number, comm: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && name === comm) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

const CONDITION = 'proc.name = cat and fd.name = /etc/hostname';

test('vigil run with store_events: all stores syscall events that vigil search --syscall finds; a dead bpftrace is restarted', { timeout: 600_000 }, async (t) => {
  const can = canRunSensor();
  if (!can.ok) return skipOrFail(t, `syscall sensor: ${can.why}`);
  const dir = tmpDir('vigil-run-sensor-store-');
  const cfgFile = path.join(dir, 'vigil.yaml');
  writeFileSync(cfgFile, [
    'listen: 127.0.0.1:0', `data_dir: ${dir}`, 'log_level: info',
    'sources: [{ type: syscall, store_events: all, restart_max_backoff_ms: 1000, labels: { cluster: lab } }]',
    'outputs: [{ type: file, name: archive, path: alerts.jsonl }]',
    'storage: { type: duckdb, retention: { syscall_events: { max_age_days: 1 } } }', '',
  ].join('\n'));
  const { child, log } = spawnRun(cfgFile);
  const readyz = async () => JSON.parse(await (await fetch(url + '/readyz')).text()) as Readyz;
  let url = '';
  /** `vigil search --syscall` through the running server; the records it prints. */
  const search = (): Array<{ time: string; fields: Record<string, unknown> }> => {
    const r = spawnSync(process.execPath, [BIN, 'search', '--syscall', CONDITION, '--data', dir, '--since', '1h', '--json', '--limit', '1000'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { time: string; fields: Record<string, unknown> });
  };
  /** Run `cat /etc/hostname` every 2 s until a search finds `more` records than `before`. */
  const catUntilFound = async (before: number) => {
    const reader = setInterval(() => spawn('cat', ['/etc/hostname'], { stdio: 'ignore' }), 2000);
    try {
      return await waitFor('a stored cat /etc/hostname', async () => {
        const found = search();
        return found.length > before ? found : undefined;
      }, 180_000, log);
    } finally {
      clearInterval(reader);
    }
  };
  try {
    url = await waitFor('server.json', async () => {
      if (child.exitCode !== null) throw new Error(`vigil run exited with ${child.exitCode}:\n${log()}`);
      try {
        const info = JSON.parse(readFileSync(path.join(dir, 'server.json'), 'utf8')) as { pid: number; url: string };
        return info.pid === child.pid ? info.url : undefined;
      } catch { return undefined; }
    }, 120_000, log);
    // bpftrace compiles its probes: 6-10 s alone, much longer while other tests load the machine.
    const running = async () => {
      const s = (await readyz()).sources.syscall!;
      if (s.state === 'unavailable' || s.state === 'stopped') throw new Error(`sensor ${s.state}: ${s.why ?? ''}\n${log()}`);
      return s.state === 'running' ? s : undefined;
    };
    await waitFor('the sensor to run', running, 300_000, log);

    const found = await catUntilFound(0);
    const rec = found[0]!;
    assert.equal(rec.fields['proc.name'], 'cat');
    assert.equal(rec.fields['fd.name'], '/etc/hostname');
    assert.match(rec.time, /^\d+$/);
    // The printed records replay: a rule with the same condition fires on each.
    const file = path.join(dir, 'found.jsonl');
    writeFileSync(file, found.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const rules = path.join(dir, 'rule.yaml');
    writeFileSync(rules, `- rule: cat hostname\n  desc: t\n  condition: ${JSON.stringify(CONDITION)}\n  output: "%proc.cmdline"\n  priority: WARNING\n  source: syscall\n`);
    const replay = spawnSync(process.execPath, [BIN, 'replay', '--source', 'syscall', '--rules', rules, '--format', 'json', file], { encoding: 'utf8' });
    assert.equal(replay.status, 0, replay.stderr);
    assert.equal(replay.stdout.split('\n').filter(Boolean).length, found.length);

    let metrics = await (await fetch(url + '/metrics')).text();
    assert.match(metrics, /^vigil_syscall_store_written_total\{source="syscall"\} [1-9]/m);
    assert.match(metrics, /^vigil_sensor_restarts_total\{source="syscall"\} 0$/m);
    const before = (await readyz()).sources.syscall!;
    assert.equal(before.restarts, 0);
    assert.ok((before.stored?.events ?? 0) > 0);

    // bpftrace dies: the sensor says why and starts again.
    const bpf = childrenNamed(child.pid!, 'bpftrace');
    assert.equal(bpf.length, 1, `one bpftrace child of vigil run: ${bpf.join(' ')}`);
    process.kill(bpf[0]!, 'SIGKILL');
    await waitFor('the sensor to restart', async () => {
      const s = (await readyz()).sources.syscall!;
      return s.state === 'running' && (s.restarts ?? 0) >= 1 ? s : undefined;
    }, 300_000, log);
    assert.match(log(), /syscall sensor 'syscall': bpftrace exited \(signal SIGKILL\)/);
    metrics = await (await fetch(url + '/metrics')).text();
    assert.match(metrics, /^vigil_sensor_restarts_total\{source="syscall"\} [1-9]/m);
    assert.equal(childrenNamed(child.pid!, 'bpftrace').length, 1);
    // And events are stored again.
    await catUntilFound(found.length);
  } finally {
    assert.equal(await stopRun(child), 0, log());
    rmSync(dir, { recursive: true, force: true });
  }
});
