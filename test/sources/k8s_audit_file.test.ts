/**
 * The audit log tail with real files, while a writer appends: rotation by rename and by
 * copytruncate, a 5 MiB line, an over-long line, a partial last line, start at the end, and a
 * restart from the checkpoint. "Exactly once" is checked on what the tail hands over (parsed
 * count and duplicates dropped), not only on what the idempotent store keeps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, existsSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MemoryStore } from '../../src/pipeline/memstore.ts';
import { type TestService, auditEvent, startTestService, tmpDir } from '../harness.ts';

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{') && l.includes('} ') && l.slice(0, l.lastIndexOf(' ')) === name);
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

async function counters(t: TestService): Promise<{ parsed: number; dups: number; tooLong: number; invalid: number }> {
  const m = (await t.get('/metrics')).body;
  return {
    parsed: metric(m, 'vigil_source_parsed_events_total{source="k8s_audit_file"}'),
    dups: metric(m, 'vigil_dropped_total{stage="dedup",reason="duplicate"}'),
    tooLong: metric(m, 'vigil_source_rejected_total{source="k8s_audit_file",reason="line_too_long"}'),
    invalid: metric(m, 'vigil_source_rejected_total{source="k8s_audit_file",reason="invalid_record"}'),
  };
}

function tailCfg(include: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { sources: [{ type: 'k8s_audit_file', include, poll_interval_ms: 20, checkpoint_interval_ms: 50, ...extra }], outputs: [] };
}

const line = (e: Record<string, unknown>): string => JSON.stringify(e) + '\n';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Append `n` events in small bursts, calling `at(i)` before event i (for rotations). */
async function write(file: () => string, n: number, at: (i: number) => void | Promise<void>, ids: string[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    await at(i);
    const e = auditEvent();
    ids.push(e.auditID as string);
    appendFileSync(file(), line(e));
    if (i % 50 === 0) await sleep(5);
  }
}

test('tail: rotation by rename while writing; the rotated file matches the glob and is not read twice', async () => {
  const dir = tmpDir();
  const log = path.join(dir, 'audit.log');
  writeFileSync(log, '');
  const t = await startTestService(tailCfg([path.join(dir, 'audit*.log')]));
  try {
    const ids: string[] = [];
    await write(() => log, 3000, (i) => {
      if (i === 1000 || i === 2000) {
        renameSync(log, path.join(dir, `audit-${i}.log`));
        writeFileSync(log, '');
      }
    }, ids);
    const store = t.store as MemoryStore;
    await t.until(() => store.events.size === 3000, 20_000);
    await sleep(300);
    const c = await counters(t);
    assert.equal(c.parsed, 3000, 'each line read once');
    assert.equal(c.dups, 0);
    assert.deepEqual(new Set([...store.events.values()].map((e) => e.auditId)), new Set(ids));
  } finally {
    await t.stop();
  }
});

test('tail: rotation by rename to a name outside the glob: the old file is read to its end', async () => {
  const dir = tmpDir();
  const log = path.join(dir, 'audit.log');
  writeFileSync(log, '');
  const t = await startTestService(tailCfg([log]));
  try {
    const ids: string[] = [];
    await write(() => log, 2000, (i) => {
      if (i === 700) {
        renameSync(log, path.join(dir, 'audit.log.1'));
        writeFileSync(log, '');
      }
    }, ids);
    await t.until(() => (t.store as MemoryStore).events.size === 2000, 20_000);
    assert.equal((await counters(t)).parsed, 2000);
  } finally {
    await t.stop();
  }
});

test('tail: copytruncate while writing; reading continues in the copy, nothing lost or read twice', async () => {
  const dir = tmpDir();
  const log = path.join(dir, 'audit.log');
  writeFileSync(log, '');
  const t = await startTestService(tailCfg([path.join(dir, 'audit.log*')]));
  try {
    const ids: string[] = [];
    await write(() => log, 3000, (i) => {
      // copy then truncate, as logrotate's copytruncate does (the writer keeps its fd, O_APPEND)
      if (i === 1200 || i === 2400) {
        copyFileSync(log, path.join(dir, `audit.log.${i}`));
        truncateSync(log, 0);
      }
    }, ids);
    const store = t.store as MemoryStore;
    await t.until(() => store.events.size === 3000, 20_000);
    await sleep(300);
    const c = await counters(t);
    assert.equal(c.parsed, 3000, 'each line read once');
    assert.equal(c.dups, 0);
    assert.ok(t.logs.some((l) => l.includes('file truncated')));
  } finally {
    await t.stop();
  }
});

test('tail: truncated and rewritten past the read offset between two scans: the new content is read from its start', async () => {
  const dir = tmpDir();
  const log = path.join(dir, 'audit.log');
  writeFileSync(log, Array.from({ length: 100 }, () => line(auditEvent())).join(''));
  const t = await startTestService(tailCfg([log], { poll_interval_ms: 1000 }));
  try {
    const store = t.store as MemoryStore;
    await t.until(() => store.events.size === 100);
    // Within one poll interval: truncate, then write more than was there before.
    writeFileSync(log, Array.from({ length: 200 }, () => line(auditEvent())).join(''));
    await t.until(() => store.events.size === 300, 15_000);
    const c = await counters(t);
    assert.equal(c.invalid, 0, 'never read from the middle of a line');
    assert.equal(c.parsed, 300);
  } finally {
    await t.stop();
  }
});

test('tail: a 5 MiB line is read; a line over max_line_bytes is skipped, counted and logged', async () => {
  const dir = tmpDir();
  const log = path.join(dir, 'audit.log');
  const big = auditEvent({ level: 'RequestResponse', requestObject: { kind: 'ConfigMap', data: { blob: 'x'.repeat(5 * 1024 * 1024) } } });
  const huge = auditEvent({ requestObject: { data: 'y'.repeat(7 * 1024 * 1024) } });
  const after = auditEvent();
  writeFileSync(log, line(auditEvent()) + line(big) + line(huge) + line(after));
  const t = await startTestService(tailCfg([log], { max_line_bytes: 6 * 1024 * 1024, read_chunk_bytes: 256 * 1024 }));
  try {
    const store = t.store as MemoryStore;
    await t.until(() => store.events.size === 3, 20_000);
    const got = [...store.events.values()].find((e) => e.auditId === big.auditID)!;
    assert.equal(((got.raw.requestObject as { data: { blob: string } }).data.blob).length, 5 * 1024 * 1024);
    assert.ok(store.events.has(`${after.auditID as string}\u0000ResponseComplete`));
    assert.ok(!store.events.has(`${huge.auditID as string}\u0000ResponseComplete`));
    assert.equal((await counters(t)).tooLong, 1);
    assert.ok(t.logs.some((l) => l.includes('line longer than max_line_bytes') && l.includes('"line":3')));
  } finally {
    await t.stop();
  }
});

test('tail: a partial last line is waited for, never parsed half-written', async () => {
  const dir = tmpDir();
  const log = path.join(dir, 'audit.log');
  const e = line(auditEvent());
  writeFileSync(log, line(auditEvent()) + e.slice(0, 100));
  const t = await startTestService(tailCfg([log]));
  try {
    const store = t.store as MemoryStore;
    await t.until(() => store.events.size === 1);
    await sleep(300);
    assert.equal(store.events.size, 1);
    assert.equal((await counters(t)).invalid, 0, 'the half line was not parsed');
    appendFileSync(log, e.slice(100, 300));
    await sleep(100);
    appendFileSync(log, e.slice(300));
    await t.until(() => store.events.size === 2);
    assert.equal((await counters(t)).invalid, 0);
  } finally {
    await t.stop();
  }
});

test('tail: checkpoints — a restart goes on where the last run stopped; start_at end skips old lines', async () => {
  const dir = tmpDir();
  const data = tmpDir();
  const log = path.join(dir, 'audit.log');
  const first = Array.from({ length: 500 }, () => auditEvent());
  writeFileSync(log, first.map(line).join(''));
  let t = await startTestService(tailCfg([log]), { dir: data });
  await t.until(() => (t.store as MemoryStore).events.size === 500);
  await t.stop();
  const cp = JSON.parse(readFileSync(path.join(data, 'checkpoints', 'k8s_audit_file.json'), 'utf8'));
  assert.equal(cp.version, 1);
  const entry = Object.values(cp.files)[0] as { path: string; offset: number; line: number };
  assert.equal(entry.path, log);
  assert.equal(entry.offset, readFileSync(log).length);
  assert.equal(entry.line, 500);
  appendFileSync(log, Array.from({ length: 300 }, () => line(auditEvent())).join(''));
  t = await startTestService(tailCfg([log]), { dir: data });
  try {
    await t.until(() => (t.store as MemoryStore).events.size === 300);
    await sleep(200);
    assert.equal((await counters(t)).parsed, 300, 'only the new lines are read after a restart');
  } finally {
    await t.stop();
  }
  // start_at: end — a new data dir, an existing file: only lines appended later are read
  const data2 = tmpDir();
  t = await startTestService(tailCfg([log], { start_at: 'end' }), { dir: data2 });
  try {
    await sleep(200);
    appendFileSync(log, line(auditEvent()) + line(auditEvent()));
    await t.until(() => (t.store as MemoryStore).events.size === 2);
    await sleep(200);
    assert.equal((t.store as MemoryStore).events.size, 2);
  } finally {
    await t.stop();
  }
  assert.ok(existsSync(path.join(data2, 'checkpoints', 'k8s_audit_file.json')));
});

test('tail: back-pressure — with slow storage the tail pauses (bounded memory queue) and catches up', async () => {
  const dir = tmpDir();
  const log = path.join(dir, 'audit.log');
  writeFileSync(log, Array.from({ length: 5000 }, () => line(auditEvent())).join(''));
  const store = new MemoryStore();
  store.writeDelayMs = 50;
  const t = await startTestService({ ...tailCfg([log], { batch_max_events: 100, max_inflight_batches: 2 }), pipeline: { queue_max_events: 200, batch_max_events: 100 } }, { store });
  try {
    let maxDepth = 0;
    while (store.events.size < 5000) {
      const m = (await t.get('/metrics')).body;
      maxDepth = Math.max(maxDepth, metric(m, 'vigil_queue_depth{queue="memory"}'));
      await sleep(20);
    }
    assert.ok(maxDepth <= 300, `memory queue stayed bounded (max ${maxDepth})`);
  } finally {
    await t.stop();
  }
});
