/**
 * Alert delivery from a running service (in this process, real HTTP): the `webhook` output
 * against real local receivers (working, answering 500 then 200, Retry-After, 400, down,
 * never answering), the `file` output on a folder that appears later, and the counters in
 * /metrics. A dead or hanging output never holds up storage or the other outputs, its failure
 * is logged naming it, and the service stops on time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { MemoryStore } from '../../src/pipeline/memstore.ts';
import { retryAfterMs } from '../../src/outputs/webhook.ts';
import { type TestService, shellEvent, startTestService } from '../harness.ts';

interface Received { method: string; url: string; headers: IncomingHttpHeaders; body: string; at: number }

/** A real HTTP receiver; `answer` decides each response (by request number, from 0). */
async function receiver(answer: (n: number, req: IncomingMessage, res: ServerResponse) => void = (_n, _q, res) => void res.end('ok')): Promise<{ url: string; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      const n = got.length;
      got.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, at: Date.now() });
      answer(n, req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`;
  return {
    url, got,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** A loopback URL where nothing listens. */
async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}/alerts`;
}

async function metric(t: TestService, name: string, output: string): Promise<number> {
  const text = (await t.get('/metrics')).body;
  const m = new RegExp(`^${name}\\{output="${output}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

const fast = { max_retries: 3, initial_backoff_ms: 20, max_backoff_ms: 200 };
const mem = (s: unknown): MemoryStore => s as MemoryStore;
/** The log's messages, one per line. */
const logText = (t: TestService): string => t.logs.join('').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg).join('\n');

test('webhook output: each alert is POSTed as Falco\'s JSON with the configured headers; counted sent', async () => {
  const rx = await receiver();
  const t = await startTestService({ outputs: [{ type: 'webhook', url: rx.url, headers: { Authorization: 'Bearer s3cret', 'X-Team': 'sec' } }] });
  try {
    assert.equal((await t.post('/k8s-audit', JSON.stringify(shellEvent()))).status, 200);
    await t.until(() => rx.got.length === 1 && mem(t.store).alerts.size === 1);
    const r = rx.got[0]!;
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/alerts');
    assert.match(r.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(r.headers.authorization, 'Bearer s3cret');
    assert.equal(r.headers['x-team'], 'sec');
    const a = JSON.parse(r.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(a).sort(), ['hostname', 'output', 'output_fields', 'priority', 'rule', 'source', 'tags', 'time']);
    assert.equal(a.rule, 'K8s Interactive Shell In Pod');
    assert.equal(a.source, 'k8s_audit');
    assert.match(String(a.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    await t.until(async () => (await metric(t, 'vigil_output_sent_total', 'webhook')) === 1);
    assert.equal(await metric(t, 'vigil_output_failed_total', 'webhook'), 0);
    assert.equal(await metric(t, 'vigil_output_retried_total', 'webhook'), 0);
  } finally {
    await t.stop();
    await rx.close();
  }
});

test('webhook output: 500 twice, then 200: retried with backoff and delivered once; the first failure is logged naming the output', async () => {
  const rx = await receiver((n, _q, res) => { res.statusCode = n < 2 ? 500 : 200; res.end(n < 2 ? 'database locked' : 'ok'); });
  const t = await startTestService({ outputs: [{ type: 'webhook', name: 'siem', url: rx.url, delivery: fast }] });
  try {
    assert.equal((await t.post('/k8s-audit', JSON.stringify(shellEvent()))).status, 200);
    await t.until(async () => (await metric(t, 'vigil_output_sent_total', 'siem')) === 1);
    assert.equal(rx.got.length, 3);
    assert.equal(rx.got[0]!.body, rx.got[2]!.body, 'the same alert is sent again');
    assert.equal(await metric(t, 'vigil_output_retried_total', 'siem'), 2);
    assert.equal(await metric(t, 'vigil_output_failed_total', 'siem'), 0);
    assert.match(logText(t), /output 'siem': send failed: POST http:\/\/127\.0\.0\.1:\d+\/alerts answered 500 Internal Server Error: database locked; retrying/);
    await t.until(() => logText(t).includes("output 'siem': delivering again"));
    const ready = JSON.parse((await t.get('/readyz')).body) as { outputs: Record<string, { state: string; sent: number }> };
    assert.equal(ready.outputs.siem!.state, 'ok');
  } finally {
    await t.stop();
    await rx.close();
  }
});

test('webhook output: Retry-After of a 503 is honoured; a 400 is not retried', async () => {
  const rx = await receiver((n, _req, res) => {
    if (n === 0) { res.writeHead(503, { 'Retry-After': '1' }); res.end(); return; }
    res.end('ok');
  });
  const bad = await receiver((_n, _q, res) => { res.statusCode = 400; res.end('{"error":"schema mismatch"}'); });
  const t = await startTestService({
    outputs: [
      { type: 'webhook', name: 'slow', url: rx.url, delivery: { ...fast, max_backoff_ms: 5000 } },
      { type: 'webhook', name: 'strict', url: bad.url, delivery: fast },
    ],
  });
  try {
    assert.equal((await t.post('/k8s-audit', JSON.stringify(shellEvent()))).status, 200);
    await t.until(async () => (await metric(t, 'vigil_output_sent_total', 'slow')) === 1, 15_000);
    assert.ok(rx.got[1]!.at - rx.got[0]!.at >= 900, `waited ${rx.got[1]!.at - rx.got[0]!.at} ms after Retry-After: 1`);
    await t.until(async () => (await metric(t, 'vigil_output_failed_total', 'strict')) === 1);
    assert.equal(bad.got.length, 1, 'a 400 is not retried');
    assert.equal(await metric(t, 'vigil_output_retried_total', 'strict'), 0);
    assert.match(logText(t), /output 'strict': 1 alerts not delivered \(not retried: the answer will not change\): POST \S+ answered 400 Bad Request: \{"error":"schema mismatch"\}/);
    assert.equal(retryAfterMs('120'), 120_000);
    assert.equal(retryAfterMs(new Date(Date.now() + 2000).toUTCString(), Date.now()) !== undefined, true);
    assert.equal(retryAfterMs('soon'), undefined);
  } finally {
    await t.stop();
    await rx.close();
    await bad.close();
  }
});

test('a dead webhook: failed after its retries and logged naming it; storage, the console and later alerts are not held up', async () => {
  const url = await deadUrl();
  const t = await startTestService({
    outputs: [
      { type: 'console', format: 'json' },
      { type: 'webhook', name: 'pager', url, delivery: { max_retries: 2, initial_backoff_ms: 50, max_backoff_ms: 100, drain_timeout_ms: 500 } },
    ],
  });
  try {
    assert.equal((await t.post('/k8s-audit', JSON.stringify(shellEvent()))).status, 200);
    await t.until(() => t.stdout.length === 1 && mem(t.store).alerts.size === 1);
    await t.until(async () => (await metric(t, 'vigil_output_failed_total', 'pager')) === 1);
    assert.equal(await metric(t, 'vigil_output_retried_total', 'pager'), 2);
    assert.equal(await metric(t, 'vigil_output_sent_total', 'pager'), 0);
    assert.equal(await metric(t, 'vigil_output_sent_total', 'console'), 1);
    assert.match(logText(t), /output 'pager': 1 alerts not delivered \(after 3 attempts\): POST http:\/\/127\.0\.0\.1:\d+\/alerts: cannot connect: ECONNREFUSED/);
    const ready = await t.get('/readyz');
    assert.equal(ready.status, 200, 'a dead output does not make the service unready');
    const body = JSON.parse(ready.body) as { outputs: Record<string, { state: string; failed: number; last_error?: string }> };
    assert.equal(body.outputs.pager!.state, 'failing');
    assert.match(body.outputs.pager!.last_error ?? '', /ECONNREFUSED/);
    // Still dead: the next alert reaches storage and the console without waiting for it.
    const t0 = Date.now();
    assert.equal((await t.post('/k8s-audit', JSON.stringify(shellEvent()))).status, 200);
    await t.until(() => t.stdout.length === 2 && mem(t.store).alerts.size === 2);
    assert.ok(Date.now() - t0 < 5000, `the second alert took ${Date.now() - t0} ms`);
  } finally {
    const t0 = Date.now();
    await t.stop();
    assert.ok(Date.now() - t0 < 10_000, `stop took ${Date.now() - t0} ms with a dead output`);
  }
});

test('a webhook that never answers: times out, its queue stays bounded, nothing else waits, and stop is on time', async () => {
  const hanging: ServerResponse[] = [];
  const rx = await receiver((_n, _q, res) => { hanging.push(res); });
  const t = await startTestService({
    outputs: [
      { type: 'console', format: 'json' },
      { type: 'webhook', name: 'tarpit', url: rx.url, timeout_ms: 400, max_concurrent_requests: 1, delivery: { max_retries: 0, queue_max_alerts: 1, batch_max_alerts: 1, drain_timeout_ms: 300 } },
    ],
  });
  try {
    for (let i = 0; i < 4; i++) assert.equal((await t.post('/k8s-audit', JSON.stringify(shellEvent()))).status, 200);
    await t.until(() => t.stdout.length === 4 && mem(t.store).alerts.size === 4);
    // One in flight, one queued, the others refused by the full queue; the first times out.
    await t.until(async () => (await metric(t, 'vigil_output_failed_total', 'tarpit')) >= 3, 15_000);
    await t.until(() => logText(t).includes('no answer within 400 ms (timeout_ms)'), 15_000);
    assert.match(logText(t), /output 'tarpit': \d+ alerts dropped \(counted failed\): its queue is full \(1 alerts waiting\)/);
  } finally {
    const t0 = Date.now();
    await t.stop();
    assert.ok(Date.now() - t0 < 10_000, `stop took ${Date.now() - t0} ms`);
    for (const r of hanging) r.destroy();
    await rx.close();
  }
});

test('file output: a folder that is missing at first; retried, then delivered once it exists', async () => {
  const t = await startTestService({ outputs: [{ type: 'file', name: 'archive', path: 'later/alerts.jsonl', delivery: { max_retries: 50, initial_backoff_ms: 50, max_backoff_ms: 100 } }] });
  const file = path.join(t.dir, 'later', 'alerts.jsonl');
  try {
    assert.equal((await t.post('/k8s-audit', JSON.stringify(shellEvent()))).status, 200);
    await t.until(async () => (await metric(t, 'vigil_output_retried_total', 'archive')) >= 1);
    assert.match(logText(t), /output 'archive': send failed: cannot open .*alerts\.jsonl: ENOENT; retrying/);
    mkdirSync(path.join(t.dir, 'later'));
    await t.until(async () => (await metric(t, 'vigil_output_sent_total', 'archive')) === 1);
    assert.ok(existsSync(file));
    assert.equal(JSON.parse(readFileSync(file, 'utf8').trim()).rule, 'K8s Interactive Shell In Pod');
    assert.equal(await metric(t, 'vigil_output_failed_total', 'archive'), 0);
  } finally {
    await t.stop();
  }
});
