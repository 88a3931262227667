/**
 * The generated bpftrace program (no bpftrace needed): the probes it asks for, the limits it
 * must respect (one 200-byte string per printf, no string maps), and the kernel differences it
 * adapts to. `vigil sensor` refuses clearly when it cannot run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSensorCommand, EXIT_CANNOT_RUN } from '../../../src/cli/sensor.ts';
import { LAYOUT } from '../../../src/sources/syscall/decode.ts';
import { ENV_CHUNKS, PATH_CONT, WANTED_SYSCALLS, generateScript, type KernelFeatures } from '../../../src/sources/syscall/script.ts';

const ALL: KernelFeatures = {
  tracefs: '/sys/kernel/tracing', syscalls: new Set(WANTED_SYSCALLS), exitHasGroupDead: true, capIsU64: true,
  cgroupSubsys: [{ id: 11, name: 'pids' }, { id: 4, name: 'memory' }], inodeTimes: 'split',
};

test('script: probes for the scheduler and every traced syscall', () => {
  const s = generateScript(ALL);
  for (const tp of ['sched:sched_process_exec', 'sched:sched_process_fork', 'sched:sched_process_exit']) assert.ok(s.includes(`tracepoint:${tp} `), tp);
  for (const sc of WANTED_SYSCALLS) {
    if (['clone', 'clone3', 'fork', 'vfork', 'setsid', 'close', 'close_range'].includes(sc)) continue;
    assert.ok(s.includes(`tracepoint:syscalls:sys_enter_${sc} `), sc);
  }
  assert.ok(s.includes('curtask->cgroups->subsys[11]'), 'the pids hierarchy');
  assert.ok(s.includes('curtask->cgroups->dfl_cgrp'), 'the unified hierarchy');
  assert.ok(s.includes('args->group_dead'));
  assert.ok(s.includes('cap_effective.val'));
  assert.ok(s.includes('$i->i_ctime_sec') && s.includes('$i->i_mtime_nsec & 0x3fffffff'), 'inode times (6.11+)');
  assert.ok(s.includes(`s_magic == ${0x794c7630}`) && s.includes('sizeof(struct inode)'), 'overlayfs layer of the executable');
  assert.equal((s.match(/printf\("Y\\t/g) ?? []).length, ENV_CHUNKS, 'environment chunks');
  assert.equal((generateScript(ALL, { envChunks: 0 }).match(/printf\("Y\\t/g) ?? []).length, 0, 'no environment');
  assert.equal((s.match(/sys_exit_openat .*printf\("P\\t/g) ?? []).length, PATH_CONT, 'continuations of long open paths');
  for (const sc of ['sendto', 'sendmsg', 'recvfrom', 'recvmsg']) assert.match(s, new RegExp(`sys_exit_${sc} .*sk_protocol != 6`), `${sc}: not TCP`);
});

test('script: within bpftrace 0.17 limits', () => {
  const s = generateScript(ALL);
  for (const line of s.split('\n')) {
    for (const call of line.match(/printf\("(?:[^"\\]|\\.)*"/g) ?? []) {
      const strings = (call.match(/%[sr]/g) ?? []).length;
      assert.ok(strings <= 1, `more than one string in one printf: ${call}`);
      const code = /printf\("(.)/.exec(call)![1]!;
      if (code !== 'I') assert.ok(code in LAYOUT, `record code ${code} has a layout`);
    }
  }
  assert.doesNotMatch(s, /@\w+\[tid\] = str\(/, 'strings are read at exit from saved pointers, never stored in maps');
  assert.match(s, /^END \{ .*clear\(@sc\);/m, 'maps are cleared so bpftrace prints none at exit');
});

test('script: adapts to the kernel', () => {
  const old = generateScript({ ...ALL, syscalls: new Set(['openat', 'execve', 'close']), exitHasGroupDead: false, capIsU64: false, cgroupSubsys: [] });
  assert.ok(!old.includes('sys_enter_open '), 'no open on this kernel');
  assert.ok(!old.includes('group_dead'));
  assert.ok(old.includes('cap_effective.cap[1]'));
  assert.ok(!old.includes('subsys['));
  const v6 = generateScript({ ...ALL, inodeTimes: 'ctime66' });
  assert.ok(v6.includes('$i->__i_ctime.tv_sec') && v6.includes('$i->i_mtime.tv_sec'));
  assert.ok(generateScript({ ...ALL, inodeTimes: 'plain' }).includes('$i->i_ctime.tv_nsec'));
});

test('vigil sensor: a clear message and exit code 3 when the sensor cannot run', async () => {
  const errs: string[] = [];
  const r = await runSensorCommand({ bpftrace: '/nonexistent/bpftrace' }, { out: () => {}, err: (l) => errs.push(l) });
  assert.equal(r.code, EXIT_CANNOT_RUN);
  assert.equal(errs.length, 1);
  const why = process.getuid?.() === 0 ? /bpftrace not found at \/nonexistent\/bpftrace/ : /needs root/;
  assert.match(errs[0]!, /^vigil sensor: cannot run the syscall sensor: /);
  assert.match(errs[0]!, why);
});
