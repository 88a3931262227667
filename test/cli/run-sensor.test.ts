/**
 * The syscall sensor inside `vigil run`: where it cannot run, the service runs without it and
 * says why (log and /readyz); where it can (root, bpftrace, tracefs), a real `cat /etc/shadow`
 * raises an alert that a `vigil run` child process stores with its event, and sends to its
 * outputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnRun, stopRun, waitFor } from './run-child.ts';
import { canRunSensor } from '../../src/sources/syscall/runtime.ts';
import { skipOrFail } from '../helpers.ts';
import { auditEvent, startTestService, tmpDir } from '../harness.ts';

interface Readyz { ready: boolean; sources: Record<string, { ok: boolean; state: string; why?: string; events: number }> }

test('vigil run with a syscall source that cannot run here: runs without it and says why (log and /readyz)', async () => {
  const t = await startTestService({ sources: [{ type: 'syscall', bpftrace_path: '/nonexistent/bpftrace' }, { type: 'k8s_audit_webhook' }] });
  try {
    const r = JSON.parse((await t.get('/readyz')).body) as Readyz;
    assert.equal(r.ready, true, 'the rest of the service is ready');
    const s = r.sources.syscall!;
    assert.equal(s.state, 'unavailable');
    assert.equal(s.ok, false);
    // As root the missing binary is the reason; otherwise the missing privileges come first.
    assert.match(s.why ?? '', /cannot run here: (bpftrace not found at \/nonexistent\/bpftrace|the syscall sensor needs root)/);
    const msgs = t.logs.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string });
    const warn = msgs.find((m) => m.msg.startsWith("syscall sensor 'syscall' is not running: cannot run here: "));
    assert.ok(warn, 'a warning says why');
    assert.equal(warn.level, 40);
    assert.equal((await t.post('/k8s-audit', JSON.stringify(auditEvent()))).status, 200, 'the service keeps serving');
  } finally {
    await t.stop();
  }
});

test('vigil run with the sensor enabled stores the alert of a real `cat /etc/shadow`, with its event', { timeout: 420_000 }, async (t) => {
  const can = canRunSensor();
  if (!can.ok) return skipOrFail(t, `syscall sensor: ${can.why}`);
  const dir = tmpDir('vigil-run-sensor-');
  const cfgFile = path.join(dir, 'vigil.yaml');
  writeFileSync(cfgFile, [
    'listen: 127.0.0.1:0', `data_dir: ${dir}`, 'log_level: info',
    'sources: [{ type: syscall, labels: { cluster: lab } }, { type: k8s_audit_webhook }]',
    'outputs: [{ type: file, name: archive, path: alerts.jsonl }]', '',
  ].join('\n'));
  const { child, log } = spawnRun(cfgFile);
  try {
    const url = await waitFor('server.json', async () => {
      if (child.exitCode !== null) throw new Error(`vigil run exited with ${child.exitCode}:\n${log()}`);
      try {
        const info = JSON.parse(readFileSync(path.join(dir, 'server.json'), 'utf8')) as { pid: number; url: string };
        return info.pid === child.pid ? info.url : undefined;
      } catch { return undefined; }
    }, 120_000, log);
    // bpftrace compiles ~110 probes: 6-10 s alone, much longer while other tests load the machine.
    const ready = await waitFor('the sensor to run', async () => {
      const r = JSON.parse(await (await fetch(url + '/readyz')).text()) as Readyz;
      const s = r.sources.syscall!;
      if (s.state === 'unavailable' || s.state === 'stopped') throw new Error(`sensor ${s.state}: ${s.why ?? ''}\n${log()}`);
      return s.state === 'running' ? r : undefined;
    }, 300_000, log);
    assert.equal(ready.sources.syscall!.ok, true);

    // A `cat /etc/shadow` every 2 s until one is stored: right after the sensor reports ready,
    // bpftrace may still be attaching probes (seen here: a read in the first seconds missed).
    const shells = new Set<number>();
    const reader = setInterval(() => {
      const sh = spawn('sh', ['-c', 'cat /etc/shadow > /dev/null'], { stdio: 'ignore' });
      if (sh.pid) shells.add(sh.pid);
    }, 2000);
    type Stored = { rule: string; labels?: Record<string, string>; outputFields: Record<string, unknown>; event?: { time: string; fields: Record<string, unknown> } };
    let last: Stored[] = [];
    let alert: Stored;
    try {
      alert = await waitFor('the stored alert', async () => {
        const res = await fetch(`${url}/api/store/alerts?since=1h&limit=1000&rule=${encodeURIComponent('Vigil Credential File Read')}`);
        const j = (await res.json()) as { items: Stored[] };
        last = j.items;
        return j.items.find((a) => shells.has(Number(a.event?.fields['proc.ppid'])));
      }, 120_000, () => `our shells: ${[...shells].join(' ')}; credential reads stored: ${JSON.stringify(last.map((a) => [a.event?.fields['proc.pid'], a.event?.fields['proc.ppid'], a.event?.fields['proc.cmdline']]))}\n${log()}`);
    } finally {
      clearInterval(reader);
    }
    assert.equal(alert.event!.fields['fd.name'], '/etc/shadow');
    assert.equal(alert.event!.fields['proc.name'], 'cat');
    assert.equal(alert.event!.fields['proc.cmdline'], 'cat /etc/shadow');
    assert.equal(alert.event!.fields['evt.type'], 'openat');
    assert.match(alert.event!.time, /^\d+$/);
    assert.equal(alert.outputFields['fd.name'], '/etc/shadow');
    assert.deepEqual(alert.labels, { cluster: 'lab' });
    // And through the outputs, as Falco's JSON.
    const line = await waitFor('the file output', async () => {
      try {
        return readFileSync(path.join(dir, 'alerts.jsonl'), 'utf8').split('\n').filter(Boolean)
          .map((l) => JSON.parse(l) as { rule: string; source: string; output_fields: Record<string, unknown> })
          .find((a) => a.rule === 'Vigil Credential File Read' && a.output_fields['proc.cmdline'] === 'cat /etc/shadow');
      } catch { return undefined; }
    }, 30_000, log);
    assert.equal(line.source, 'syscall');
    const metrics = await (await fetch(url + '/metrics')).text();
    assert.match(metrics, /^vigil_sensor_events_total\{source="syscall"\} [1-9]/m);
    assert.match(metrics, /^vigil_rule_matches_total\{rule="Vigil Credential File Read"\} [1-9]/m);
  } finally {
    assert.equal(await stopRun(child), 0, log());
    rmSync(dir, { recursive: true, force: true });
  }
});
