/**
 * Falco's alerts as Falco's http_output posts them (json_output: true), checked as
 * Falcosidekick checks them, joining the alert stream (storage, outputs, live feed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/pipeline/memstore.ts';
import { Overloaded, encodeSpoolPayload } from '../../src/sources/sink.ts';
import { auditEvent, startTestService } from '../harness.ts';

/** What Falco 0.3x/0.4x sends: its json_output line, one alert per POST. */
function falcoAlert(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    hostname: 'ip-10-0-1-17',
    output: '12:00:00.123456789: Notice A shell was spawned in a container with an attached terminal (evt_type=execve user=root user_uid=0 user_loginuid=-1 process=bash proc_exepath=/usr/bin/bash parent=runc command=bash terminal=34816 exe_flags=EXE_WRITABLE container_id=4f2b1c9e8a7d container_name=web)',
    output_fields: {
      'container.id': '4f2b1c9e8a7d', 'container.name': 'web', 'evt.time': 1767268800123456789, 'evt.type': 'execve',
      'proc.cmdline': 'bash', 'proc.exepath': '/usr/bin/bash', 'proc.name': 'bash', 'proc.pname': 'runc', 'proc.tty': 34816,
      'user.loginuid': -1, 'user.name': 'root', 'user.uid': 0, 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web-1',
    },
    priority: 'Notice',
    rule: 'Terminal shell in container',
    source: 'syscall',
    tags: ['T1059', 'container', 'maturity_stable', 'mitre_execution', 'shell'],
    time: '2026-01-01T12:00:00.123456789Z',
    ...over,
  };
}

const FALCO_HEADERS = { 'Content-Type': 'application/json', 'User-Agent': 'falcosecurity/falco', Accept: '*/*' };

test('falco: an alert posted as Falco http_output sends it is stored, printed and answered 200 with no body', async () => {
  const t = await startTestService({ sources: [{ type: 'falco_alerts', labels: { cluster: 'prod' } }] });
  try {
    for (const p of ['/', '/falco']) {
      const r = await t.post(p, JSON.stringify(falcoAlert({ rule: `Terminal shell in container ${p}` })), FALCO_HEADERS);
      assert.equal(r.status, 200);
      assert.equal(r.body, '');
    }
    const store = t.store as MemoryStore;
    await t.until(() => store.alerts.size === 2);
    const a = [...store.alerts.values()][0]!;
    assert.equal(a.priority, 'Notice');
    assert.equal(a.source, 'syscall');
    assert.deepEqual(a.labels, { cluster: 'prod' });
    assert.equal(a.timeNs, 1767268800123456789n);
    const printed = t.stdout.join('').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(printed.length, 2);
    assert.equal(printed[0].rule, 'Terminal shell in container /');
    assert.equal(printed[0].output_fields['proc.name'], 'bash');
    // the same alert again (Falco does not retry, but a relay might): stored once
    await t.post('/falco', JSON.stringify(falcoAlert({ rule: 'Terminal shell in container /' })), FALCO_HEADERS);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(store.alerts.size, 2);
  } finally {
    await t.stop();
  }
});

const refused: Array<[string, unknown]> = [
  ['missing rule', falcoAlert({ rule: undefined })],
  ['empty rule', falcoAlert({ rule: '' })],
  ['unknown priority', falcoAlert({ priority: 'Urgent' })],
  ['missing time', falcoAlert({ time: undefined })],
  ['zero time', falcoAlert({ time: '0001-01-01T00:00:00Z' })],
  ['empty output_fields', falcoAlert({ output_fields: {} })],
  ['not an object', 'hello'],
];

test('falco: alerts Falcosidekick would refuse get 400 "Please send a valid request body"', async () => {
  const t = await startTestService();
  try {
    for (const [name, body] of refused) {
      const r = await t.post('/', JSON.stringify(body), FALCO_HEADERS);
      assert.equal(r.status, 400, name);
      assert.match(JSON.parse(r.body).error, /^Please send a valid request body/, name);
    }
    let r = await t.post('/falco', '{not json', FALCO_HEADERS);
    assert.equal(r.status, 400);
    r = await t.get('/falco');
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).error, /Please send with post http method/);
    // case-insensitive priority and a missing source are fine, as in Falcosidekick
    r = await t.post('/', JSON.stringify(falcoAlert({ priority: 'warning', source: undefined })), FALCO_HEADERS);
    assert.equal(r.status, 200);
    await t.until(() => (t.store as MemoryStore).alerts.size === 1);
    const a = [...(t.store as MemoryStore).alerts.values()][0]!;
    assert.equal(a.priority, 'Warning');
    assert.equal(a.source, 'syscalls');
    assert.match((await t.get('/metrics')).body, /vigil_source_rejected_total\{source="falco_alerts",reason="invalid_alert"\} 8/);
  } finally {
    await t.stop();
  }
});

test('falco: alerts are taken while audit webhooks get 429 (Falco does not retry); an admitted batch is never refused for the high-water mark', async () => {
  const store = new MemoryStore();
  store.writeDelayMs = 4000; // storage stalls: the spool fills while the test posts
  const t = await startTestService({
    sources: [{ type: 'falco_alerts' }, { type: 'k8s_audit_webhook' }],
    pipeline: { batch_max_events: 10, spool: { high_water_bytes: 20_000 } },
  }, { store });
  try {
    let audit = 0;
    for (let i = 0; i < 50 && audit !== 429; i++) {
      audit = (await t.post('/k8s-audit', JSON.stringify(Array.from({ length: 20 }, () => auditEvent())))).status;
    }
    assert.equal(audit, 429, 'the spool is past its high-water mark: audit batches are refused');
    for (let i = 0; i < 3; i++) {
      const r = await t.post('/falco', JSON.stringify(falcoAlert({ rule: `Behind ${i}` })), FALCO_HEADERS);
      assert.equal(r.status, 200, 'a Falco alert is spooled all the same');
    }
    // The pipeline's own check, as a source sees it: refused unless admitted already.
    const body = JSON.stringify([auditEvent()]);
    const item = () => ({ kind: 'audit' as const, source: 'k8s_audit_webhook', events: [], receivedAt: performance.now() });
    await assert.rejects(t.svc.pipeline.submitSpooled(item(), encodeSpoolPayload('audit', 'k8s_audit_webhook', undefined, body)), Overloaded);
    await t.svc.pipeline.submitSpooled(item(), encodeSpoolPayload('audit', 'k8s_audit_webhook', undefined, body), { admitted: true });
    const m = (await t.get('/metrics')).body;
    assert.match(m, /vigil_source_rejected_total\{source="k8s_audit_webhook",reason="overloaded"\} [1-9]/);
    assert.doesNotMatch(m, /vigil_source_rejected_total\{source="falco_alerts",reason="overloaded"\} [1-9]/);
    store.writeDelayMs = 0;
    await t.until(() => [...store.alerts.values()].filter((a) => a.rule.startsWith('Behind ')).length === 3, 30_000);
  } finally {
    await t.stop();
  }
});
