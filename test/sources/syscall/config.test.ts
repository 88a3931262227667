/** The sensor's configuration schema, its metrics and its health record. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { sensorOptions, syscallSensorConfig } from '../../../src/sources/syscall/config.ts';
import { sensorHealth } from '../../../src/sources/syscall/health.ts';
import type { SensorStats } from '../../../src/sources/syscall/runtime.ts';
import { defaultPerfPages } from '../../../src/sources/syscall/runtime.ts';
import { registerSensorMetrics } from '../../../src/sources/syscall/telemetry.ts';

test('config: defaults, options, and unknown keys refused', () => {
  const c = syscallSensorConfig.parse({ type: 'syscall' });
  assert.equal(c.bpftrace_path, 'bpftrace');
  assert.equal(c.reorder_window_ms, 100);
  const o = sensorOptions(c);
  assert.equal(o.perfBufferPages, undefined, 'the default depends on the CPU count');
  assert.ok(Array.isArray(o.criSockets));
  assert.equal(sensorOptions(syscallSensorConfig.parse({ type: 'syscall', cri_sockets: [] })).criSockets, false);
  assert.equal(syscallSensorConfig.safeParse({ type: 'syscall', perf_buffer_pages: 1000 }).success, false, 'not a power of 2');
  assert.equal(syscallSensorConfig.safeParse({ type: 'syscall', bpftrace: 'x' }).success, false, 'unknown key');
  assert.deepEqual([defaultPerfPages(1), defaultPerfPages(2), defaultPerfPages(64), defaultPerfPages(1024)], [4096, 4096, 1024, 256]);
});

const stats = (n: number): SensorStats => ({
  records: 10 * n, events: 8 * n, delivered: 8 * n, drops: { kernel: n, queue: 0, parse: 0, total: n }, processes: 42, containers: 2,
  procLookups: 0, partialProcs: 0, bpftraceCpuSeconds: 1.5 * n, processCpuSeconds: 0.5 * n, uptimeSeconds: n, probes: 100,
  lateMaxMs: 0, lateBeyondWindow: 0, reorder: { earlyChildren: n, deferred: 0, lostExecs: 0, lateBeforeExec: 0, lateAfterExit: 0 },
});

test('telemetry: metrics read from the sensor\'s stats at scrape time', async () => {
  const registry = new Registry();
  let n = 1;
  registerSensorMetrics(registry, 'sensor', { stats: () => stats(n) });
  let text = await registry.metrics();
  assert.match(text, /vigil_sensor_events_total\{source="sensor"\} 8/);
  assert.match(text, /vigil_sensor_dropped_total\{source="sensor",reason="kernel"\} 1/);
  assert.match(text, /vigil_sensor_processes\{source="sensor"\} 42/);
  n = 3;
  text = await registry.metrics();
  assert.match(text, /vigil_sensor_events_total\{source="sensor"\} 24/);
  assert.match(text, /vigil_sensor_cpu_seconds_total\{source="sensor",process="bpftrace"\} 4.5/);
});

test('health: running, stopped, unavailable', () => {
  assert.deepEqual(sensorHealth('unavailable', undefined, 'needs root'), { ok: false, state: 'unavailable', why: 'needs root', events: 0, drops: 0, processes: 0, containers: 0 });
  assert.equal(sensorHealth('running', stats(2)).drops, 2);
});
