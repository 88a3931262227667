/**
 * The audit webhook over real HTTP: every accepted shape, Fluent Bit's exact requests,
 * clusters from the path and a header, and the refusals (400 with reasons, 401, 413, 415,
 * 429/503 with Retry-After) after which the server keeps serving.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MemoryStore } from '../../src/pipeline/memstore.ts';
import { auditEvent, gzipSync, shellEvent, startTestService } from '../harness.ts';

const mem = (s: unknown): MemoryStore => s as MemoryStore;

test('webhook: Event, EventList, JSON array and JSON lines are all taken', async () => {
  const t = await startTestService();
  try {
    const one = await t.post('/k8s-audit', JSON.stringify(auditEvent()));
    assert.equal(one.status, 200, one.body);
    assert.deepEqual(JSON.parse(one.body), { accepted: 1 });
    const list = await t.post('/k8s-audit', JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: [auditEvent(), auditEvent()] }));
    assert.equal(list.status, 200);
    assert.deepEqual(JSON.parse(list.body), { accepted: 2 });
    const arr = await t.post('/k8s-audit', JSON.stringify([auditEvent(), auditEvent(), auditEvent()]));
    assert.deepEqual(JSON.parse(arr.body), { accepted: 3 });
    const lines = await t.post('/k8s-audit', [auditEvent(), auditEvent()].map((e) => JSON.stringify(e)).join('\n') + '\n', { 'Content-Type': 'application/x-ndjson' });
    assert.deepEqual(JSON.parse(lines.body), { accepted: 2 });
    await t.until(() => mem(t.store).events.size === 8);
  } finally {
    await t.stop();
  }
});

test('webhook: exactly what Fluent Bit http output sends (format json and json_lines, gzip)', async () => {
  const t = await startTestService();
  try {
    // Fluent Bit adds its `date` key (double, seconds) to each record; headers as out_http sets them.
    const recs = [auditEvent(), auditEvent()].map((e) => ({ date: 1767268800.123456, ...e }) as Record<string, unknown>);
    const base = { 'User-Agent': 'Fluent-Bit', Host: '127.0.0.1:8765' };
    let r = await t.post('/k8s-audit', JSON.stringify(recs), { ...base, 'Content-Type': 'application/json' });
    assert.equal(r.status, 200, r.body);
    r = await t.post('/k8s-audit', recs.map((x) => JSON.stringify({ ...x, auditID: (x.auditID as string) + '-l' })).join('\n') + '\n', { ...base, 'Content-Type': 'application/x-ndjson' });
    assert.equal(r.status, 200, r.body);
    // compress gzip
    const gz = gzipSync(Buffer.from(JSON.stringify(recs.map((x) => ({ ...x, auditID: (x.auditID as string) + '-g' })))));
    r = await t.post('/k8s-audit', gz, { ...base, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
    assert.equal(r.status, 200, r.body);
    // a tail input without a JSON parser: the audit line arrives as a string in `log`
    const raw = { date: 1767268800.5, log: JSON.stringify(auditEvent()) };
    r = await t.post('/k8s-audit', JSON.stringify([raw]), { ...base, 'Content-Type': 'application/json' });
    assert.equal(r.status, 200, r.body);
    await t.until(() => mem(t.store).events.size === 7);
    const stored = [...mem(t.store).events.values()].find((e) => e.auditId === recs[0]!.auditID)!;
    assert.equal((stored.raw as { date?: number }).date, 1767268800.123456, 'the record is kept as received');
  } finally {
    await t.stop();
  }
});

test('webhook: cluster from the path or a header becomes vigil.cluster; static labels apply', async () => {
  const t = await startTestService({ sources: [{ type: 'k8s_audit_webhook', labels: { region: 'eu-west-1', team: 'platform' } }] });
  try {
    const a = auditEvent();
    const b = auditEvent();
    const c = shellEvent();
    assert.equal((await t.post('/k8s-audit/prod-eu-1', JSON.stringify(a))).status, 200);
    assert.equal((await t.post('/k8s-audit', JSON.stringify(b), { 'X-Vigil-Cluster': 'staging' })).status, 200);
    assert.equal((await t.post('/k8s-audit/prod-eu-1', JSON.stringify(c))).status, 200);
    await t.until(() => mem(t.store).events.size === 3 && mem(t.store).alerts.size === 1);
    const ev = (id: unknown) => [...mem(t.store).events.values()].find((e) => e.auditId === id)!;
    assert.equal(ev(a.auditID).cluster, 'prod-eu-1');
    assert.equal(ev(a.auditID).region, 'eu-west-1');
    assert.equal(ev(b.auditID).cluster, 'staging');
    const alert = [...mem(t.store).alerts.values()][0]!;
    assert.equal(alert.rule, 'K8s Interactive Shell In Pod');
    assert.deepEqual(alert.labels, { region: 'eu-west-1', team: 'platform', cluster: 'prod-eu-1' });
    assert.equal(alert.eventRef, `${c.auditID as string}/ResponseComplete`);
    assert.equal((await t.post('/k8s-audit/bad%20name', JSON.stringify(auditEvent()))).status, 400);
  } finally {
    await t.stop();
  }
});

test('webhook: a malformed body gets 400 with the reason; good records in it are still taken', async () => {
  const t = await startTestService();
  try {
    let r = await t.post('/k8s-audit', '{"kind": "Event", "auditID": ');
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).error, /invalid JSON/);
    r = await t.post('/k8s-audit', '');
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).error, /empty body/);
    const good1 = auditEvent();
    const good2 = auditEvent();
    r = await t.post('/k8s-audit', JSON.stringify([good1, { hello: 'world' }, good2, { ...auditEvent(), kind: 'Pod' }]));
    assert.equal(r.status, 400);
    const body = JSON.parse(r.body);
    assert.equal(body.accepted, 2);
    assert.equal(body.rejected, 2);
    assert.deepEqual(body.errors, ['item 1: not a k8s audit event', 'item 3: not a k8s audit event (kind is "Pod", not Event)']);
    r = await t.post('/k8s-audit', `${JSON.stringify(auditEvent())}\nnot json\n${JSON.stringify(auditEvent())}\n`, { 'Content-Type': 'application/x-ndjson' });
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.body).accepted, 2);
    assert.match(JSON.parse(r.body).errors[0], /^line 2: invalid JSON/);
    await t.until(() => mem(t.store).events.size === 4);
    assert.ok(t.logs.some((l) => l.includes('webhook: records refused') && l.includes('POST /k8s-audit from 127.0.0.1')));
  } finally {
    await t.stop();
  }
});

test('webhook: wrong content types, encodings and methods', async () => {
  const t = await startTestService();
  try {
    let r = await t.post('/k8s-audit', JSON.stringify(auditEvent()), { 'Content-Type': 'application/x-www-form-urlencoded' });
    assert.equal(r.status, 415);
    r = await t.post('/k8s-audit', JSON.stringify(auditEvent()), { 'Content-Type': 'text/html' });
    assert.equal(r.status, 415);
    r = await t.post('/k8s-audit', JSON.stringify(auditEvent()), { 'Content-Encoding': 'br' });
    assert.equal(r.status, 415);
    r = await t.post('/k8s-audit', 'not gzip at all', { 'Content-Encoding': 'gzip' });
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).error, /not valid gzip/);
    const g = await t.get('/k8s-audit');
    assert.equal(g.status, 405);
    assert.equal((await t.get('/nothing-here')).status, 404);
    assert.equal((await t.get('/healthz')).status, 200);
  } finally {
    await t.stop();
  }
});

test('webhook: oversized bodies get 413 (declared, streamed and decompressed); the server keeps serving', async () => {
  const t = await startTestService({ sources: [{ type: 'k8s_audit_webhook', max_body_bytes: 64 * 1024 }] });
  try {
    const big = JSON.stringify(Array.from({ length: 200 }, () => auditEvent()));
    assert.ok(big.length > 64 * 1024);
    let r = await t.post('/k8s-audit', big);
    assert.equal(r.status, 413);
    assert.match(JSON.parse(r.body).error, /over the limit of 65536 bytes/);
    // Chunked (no Content-Length): refused while streaming.
    const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(big)); c.close(); } });
    const rr = await fetch(t.svc.url + '/k8s-audit', { method: 'POST', body: stream, duplex: 'half', headers: { 'Content-Type': 'application/json' } } as RequestInit);
    assert.equal(rr.status, 413);
    // A gzip bomb: small on the wire, large once decompressed.
    r = await t.post('/k8s-audit', gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20)), { 'Content-Encoding': 'gzip' });
    assert.equal(r.status, 413);
    assert.match(JSON.parse(r.body).error, /after decompression/);
    assert.equal((await t.post('/k8s-audit', JSON.stringify(auditEvent()))).status, 200);
    assert.equal((await t.get('/healthz')).status, 200);
    const m = (await t.get('/metrics')).body;
    assert.match(m, /vigil_source_rejected_total\{source="k8s_audit_webhook",reason="too_large"\} 3/);
  } finally {
    await t.stop();
  }
});

test('webhook: bearer token', async () => {
  const t = await startTestService({ auth_token: 's3cret' });
  try {
    let r = await t.post('/k8s-audit', JSON.stringify(auditEvent()));
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
    r = await t.post('/k8s-audit', JSON.stringify(auditEvent()), { Authorization: 'Bearer nope' });
    assert.equal(r.status, 401);
    r = await t.post('/k8s-audit', JSON.stringify(auditEvent()), { Authorization: 'Bearer s3cret' });
    assert.equal(r.status, 200);
    assert.equal((await t.get('/healthz')).status, 200, 'health needs no token');
  } finally {
    await t.stop();
  }
});

test('webhook: a flood while storage is slow gets 429 with Retry-After; everything accepted is stored once', async () => {
  const store = new MemoryStore();
  // Storage takes 1 s per batch of at most 50 events: the spool passes its high-water mark
  // after a couple of requests, however fast or slow the machine is.
  store.writeDelayMs = 1000;
  const t = await startTestService({ pipeline: { batch_max_events: 50, spool: { high_water_bytes: 20_000 } } }, { store });
  try {
    const sent: string[] = [];
    const results: Array<{ status: number; headers: Headers }> = [];
    // Six waves of ten concurrent requests: once the first waves are spooled, the spool is past
    // its high-water mark (storage is stalled) and what follows is refused.
    for (let wave = 0; wave < 6; wave++) {
      results.push(...await Promise.all(Array.from({ length: 10 }, async () => {
        const batch = Array.from({ length: 20 }, () => auditEvent());
        const r = await t.post('/k8s-audit', JSON.stringify(batch));
        if (r.status === 200) for (const e of batch) sent.push(e.auditID as string);
        return r;
      })));
    }
    const codes = results.map((r) => r.status);
    assert.ok(codes.includes(429), `expected some 429s, got ${[...new Set(codes)].join(',')}`);
    assert.ok(codes.includes(200));
    assert.ok(codes.every((c) => c === 200 || c === 429));
    for (const r of results.filter((x) => x.status === 429)) assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.equal((await t.get('/healthz')).status, 200);
    store.writeDelayMs = 0;
    await t.until(() => store.events.size === sent.length, 30_000);
    assert.deepEqual(new Set(store.events.keys()), new Set(sent.map((id) => `${id}\u0000ResponseComplete`)));
    const m = (await t.get('/metrics')).body;
    assert.match(m, /vigil_source_rejected_total\{source="k8s_audit_webhook",reason="overloaded"\} \d+/);
  } finally {
    await t.stop();
  }
});

test('webhook: a full spool gets 503 with Retry-After', async () => {
  const store = new MemoryStore();
  store.writeDelayMs = 6000; // storage stalls: nothing leaves the spool while the test posts
  const t = await startTestService({ pipeline: { spool: { max_bytes: 1024 * 1024, high_water_bytes: 10 * 1024 * 1024 } } }, { store });
  try {
    const body = () => JSON.stringify(Array.from({ length: 400 }, () => auditEvent()));
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await t.post('/k8s-audit', body());
      codes.push(r.status);
      if (r.status === 503) assert.equal(r.headers.get('retry-after'), '5');
    }
    assert.ok(codes.includes(503), codes.join(','));
    assert.equal(codes[0], 200);
  } finally {
    store.writeDelayMs = 0;
    await t.stop();
  }
});

test('webhook: a duplicate (retry) is stored and alerted once', async () => {
  const t = await startTestService();
  try {
    const ev = shellEvent();
    for (let i = 0; i < 3; i++) assert.equal((await t.post('/k8s-audit', JSON.stringify([ev, auditEvent()]))).status, 200);
    await t.until(() => mem(t.store).events.size === 4);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(mem(t.store).alerts.size, 1);
    const printed = t.stdout.join('').split('\n').filter((l) => l.includes('Interactive shell'));
    assert.equal(printed.length, 1);
    assert.match((await t.get('/metrics')).body, /vigil_dropped_total\{stage="dedup",reason="duplicate"\} 2/);
  } finally {
    await t.stop();
  }
});

test('service: /healthz, /readyz, /metrics, the live feed, and server.json while running', async () => {
  const t = await startTestService();
  const serverFile = path.join(t.dir, 'server.json');
  try {
    const info = JSON.parse(readFileSync(serverFile, 'utf8'));
    assert.equal(info.url, t.svc.url);
    assert.equal(info.pid, process.pid);
    assert.deepEqual(JSON.parse((await t.get('/healthz')).body), { status: 'ok' });
    const ready = await t.get('/readyz');
    assert.equal(ready.status, 200);
    assert.equal(JSON.parse(ready.body).ready, true);
    // live feed: an alert arrives as a server-sent event
    const ctl = new AbortController();
    const res = await fetch(t.svc.url + '/api/live', { signal: ctl.signal });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body!.getReader();
    await t.post('/k8s-audit', JSON.stringify(shellEvent()));
    let text = '';
    while (!text.includes('event: alert')) text += new TextDecoder().decode((await reader.read()).value);
    ctl.abort();
    assert.match(text, /"rule":"K8s Interactive Shell In Pod"/);
    const m = (await t.get('/metrics')).body;
    for (const name of ['vigil_source_received_events_total{source="k8s_audit_webhook"}', 'vigil_source_parsed_events_total', 'vigil_queue_depth{queue="spool_bytes"}',
      'vigil_rule_matches_total{rule="K8s Interactive Shell In Pod"} 1', 'vigil_output_sent_total{output="console"} 1', 'vigil_store_written_total{table="events"}', 'vigil_process_']) {
      assert.ok(m.includes(name), `metrics lack ${name}`);
    }
  } finally {
    await t.stop();
  }
  assert.equal(existsSync(serverFile), false, 'server.json is removed on a clean stop');
});

test('webhook: requests past max_inflight_requests get 429 before their body is read', async () => {
  const { request } = await import('node:http');
  const t = await startTestService({ sources: [{ type: 'k8s_audit_webhook', max_inflight_requests: 2 }] });
  const u = new URL(t.svc.url);
  const slow: Array<import('node:http').ClientRequest> = [];
  try {
    // Two requests whose bodies are still being sent hold both slots.
    const done: Array<Promise<number>> = [];
    for (let i = 0; i < 2; i++) {
      done.push(new Promise((resolve, reject) => {
        const req = request({ host: u.hostname, port: u.port, path: '/k8s-audit', method: 'POST', headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.write('[' + JSON.stringify(auditEvent()));
        slow.push(req);
      }));
    }
    await new Promise((r) => setTimeout(r, 200));
    const r = await t.post('/k8s-audit', JSON.stringify(auditEvent()));
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '1');
    for (const req of slow) req.end(']');
    assert.deepEqual(await Promise.all(done), [200, 200]);
    assert.equal((await t.post('/k8s-audit', JSON.stringify(auditEvent()))).status, 200, 'slots are free again');
  } finally {
    for (const req of slow) req.destroy();
    await t.stop();
  }
});

test('webhook: past pipeline.max_inflight_body_bytes, requests get 503 with Retry-After before their body is read', async () => {
  const { request } = await import('node:http');
  const MiB = 1024 * 1024;
  const t = await startTestService({ pipeline: { max_inflight_body_bytes: MiB } });
  const u = new URL(t.svc.url);
  // A body of ~900 KiB, declared, whose last bytes are held back: it holds most of the budget.
  const evs: string[] = [];
  let size = 2;
  while (size < 900 * 1024) { const s = JSON.stringify(auditEvent()); evs.push(s); size += s.length + 1; }
  const text = Buffer.from('[' + evs.join(',') + ']');
  let slow: import('node:http').ClientRequest | undefined;
  try {
    const done = new Promise<number>((resolve, reject) => {
      slow = request({ host: u.hostname, port: u.port, path: '/k8s-audit', method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': String(text.length) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      slow.on('error', reject);
      slow.write(text.subarray(0, text.length - 10));
    });
    await new Promise((r) => setTimeout(r, 200));
    const big = JSON.stringify(Array.from({ length: 400 }, () => auditEvent()));
    assert.ok(big.length > 200 * 1024);
    const r = await t.post('/k8s-audit', big);
    assert.equal(r.status, 503, r.body);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.match(r.body, /max_inflight_body_bytes/);
    assert.equal((await t.post('/k8s-audit', JSON.stringify(auditEvent()))).status, 200, 'a small body still fits');
    slow!.end(text.subarray(text.length - 10));
    assert.equal(await done, 200);
    assert.equal((await t.post('/k8s-audit', big)).status, 200, 'the budget is free again');
    assert.match((await t.get('/metrics')).body, /vigil_source_rejected_total\{source="k8s_audit_webhook",reason="overloaded"\} 1/);
  } finally {
    slow?.destroy();
    await t.stop();
  }
});

test('service: with auth_token set, the live feed needs it (Bearer header or ?token=)', async () => {
  const t = await startTestService({ auth_token: 's3cret' });
  try {
    assert.equal((await t.get('/api/live')).status, 401);
    assert.equal((await t.get('/api/live?token=wrong')).status, 401);
    for (const init of [{ headers: { Authorization: 'Bearer s3cret' } }, {}]) {
      const ctl = new AbortController();
      const res = await fetch(t.svc.url + (init.headers ? '/api/live' : '/api/live?token=s3cret'), { ...init, signal: ctl.signal });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/event-stream');
      ctl.abort();
    }
  } finally {
    await t.stop();
  }
});
