/**
 * Alerts raised by the service's own syscall sensor, as the sensor's consumer hands them to the
 * pipeline (Falco-shaped, through the spool): printed as Falco's JSON with 64-bit integers as
 * exact JSON numbers, and counted as `origin="engine"`; Falco's own alerts stay `origin="falco"`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringifyBig } from '../../src/engine/engine.ts';
import { falcoJson } from '../../src/pipeline/pipeline.ts';
import { type FalcoAlert, encodeSpoolPayload } from '../../src/sources/sink.ts';
import { startTestService } from '../harness.ts';

const T = 1767268800123456789n;

/** A sensor alert as the syscall source builds it: integers past 2^53 as digit strings. */
function sensorAlert(fields: Record<string, unknown>): FalcoAlert {
  return {
    output: '12:00:00.123456789: Warning Sensitive file opened (file=/etc/shadow)', priority: 'Warning', rule: 'Vigil Credential File Read',
    time: '2026-01-01T12:00:00.123456789Z', timeNs: T, output_fields: fields, source: 'syscall', tags: ['filesystem'], hostname: 'node-1',
    event: { time: T.toString(), fields: { 'fd.name': '/etc/shadow' } },
  };
}

test('falcoJson: 64-bit integers of syscall alerts are exact JSON numbers; strings of string fields stay strings', () => {
  const f = sensorAlert({
    'evt.time': T.toString(), 'evt.rawtime': '1767268800123456790', 'proc.pid': 4242, 'proc.vpid': 18446744073709551615n,
    'proc.name': '1767268800123456789', 'fd.name': '/etc/shadow', 'proc.aname[2]': 'bash', 'user.uid': 0,
  });
  const text = falcoJson(f);
  assert.match(text, /"evt\.time":1767268800123456789[,}]/);
  assert.match(text, /"evt\.rawtime":1767268800123456790[,}]/);
  assert.match(text, /"proc\.pid":4242[,}]/);
  assert.match(text, /"proc\.vpid":18446744073709551615[,}]/, 'a bigint is printed as it is');
  assert.match(text, /"proc\.name":"1767268800123456789"/, 'a string field keeps its digits as a string');
  assert.deepEqual(Object.keys(JSON.parse(text) as object), ['hostname', 'output', 'output_fields', 'priority', 'rule', 'source', 'tags', 'time']);
  // Falco's own alerts (JSON numbers already, parsed as doubles) are printed as received.
  const k8s = falcoJson({ ...f, source: 'k8s_audit', output_fields: { 'ka.user.name': '1767268800123456789' } });
  assert.match(k8s, /"ka\.user\.name":"1767268800123456789"/);
});

test('vigil run: sensor alerts are printed with exact integers and counted origin="engine"; Falco alerts origin="falco"', async () => {
  const t = await startTestService({ sources: [{ type: 'syscall', bpftrace_path: '/nonexistent/bpftrace' }, { type: 'falco_alerts' }] });
  try {
    const a = sensorAlert({ 'evt.time': T.toString(), 'fd.name': '/etc/shadow', 'proc.pid': 4242 });
    const body = stringifyBig([{ ...a, timeNs: a.timeNs.toString() }]);
    await t.svc.pipeline.submitSpooled({ kind: 'falco', source: 'syscall', alerts: [a], receivedAt: performance.now() }, encodeSpoolPayload('falco', 'syscall', undefined, body));
    const falco = { ...a, rule: 'From Falco', event: undefined, timeNs: undefined, output_fields: { 'evt.time': 1767268800123456789, 'proc.name': 'bash' } };
    assert.equal((await t.post('/falco', JSON.stringify(falco))).status, 200);
    await t.until(() => t.stdout.join('').split('\n').filter(Boolean).length === 2);
    const lines = t.stdout.join('').split('\n').filter(Boolean);
    const mine = lines.find((l) => l.includes('Vigil Credential File Read'))!;
    assert.match(mine, /"evt\.time":1767268800123456789,/);
    const m = (await t.get('/metrics')).body;
    assert.match(m, /^vigil_alerts_total\{priority="Warning",origin="engine"\} 1$/m);
    assert.match(m, /^vigil_alerts_total\{priority="Warning",origin="falco"\} 1$/m);
  } finally {
    await t.stop();
  }
});
