/**
 * DuckDB's raw events live in compressed blocks in segment files beside the database: appended
 * durably, read back after a reopen, rotated, and pruned with the events that point at them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { AuditEvent } from '../../src/events/k8saudit.ts';
import { DuckDBStore } from '../../src/store/duckdb.ts';
import { toStoredEvent } from '../../src/store/index.ts';
import { SegmentFiles, decodeBlock, encodeBlock } from '../../src/store/rawblocks.ts';
import { ALL_TIME, traceEvents } from './fixtures.ts';

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-rawseg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('raw segments', () => {
  test('blocks are appended, read back, rotated past the size limit and pruned', async (t) => {
    const dir = path.join(tmp(t), 'raw');
    const seg = new SegmentFiles(dir, 200);
    seg.openForAppend();
    const a = await encodeBlock(['{"a":1}', '{"b":"x\\ny"}']);
    const b = await encodeBlock(['{"c":3}']);
    const pa = seg.append(a);
    const pb = seg.append(Buffer.alloc(300, 1)); // larger than the limit: a segment of its own
    const pc = seg.append(b);
    assert.equal(pa.segment, 0);
    assert.equal(pb.segment, 1);
    assert.equal(pc.segment, 2, 'a new segment past 200 bytes');
    assert.deepEqual(await decodeBlock(seg.read(pa)), ['{"a":1}', '{"b":"x\\ny"}']);
    assert.deepEqual(await decodeBlock(seg.read(pc)), ['{"c":3}']);
    seg.close();
    const again = new SegmentFiles(dir, 200);
    again.openForAppend();
    assert.equal(again.append(b).segment, 3, 'appending starts a fresh segment after a reopen');
    assert.deepEqual(await decodeBlock(again.read(pa)), ['{"a":1}', '{"b":"x\\ny"}']);
    assert.equal(again.prune(new Set([1])), 2, 'segments 0 and 2 pruned; 1 kept; 3 is being written');
    assert.deepEqual(again.segments(), [1, 3]);
    assert.throws(() => again.read({ segment: 1, offset: 0, length: 10_000 }), /cut short/);
    again.close();
  });

  test('a DuckDB store reads raw events from its segments after a reopen, and retention prunes them', async (t) => {
    const dir = tmp(t);
    const file = path.join(dir, 'vigil.duckdb');
    const seen = new Set<string>();
    const events = traceEvents().filter((e) => {
      const k = `${String(e.raw.auditID)}/${String(e.raw.stage)}`;
      if (seen.has(k) || typeof e.raw.stage !== 'string') return false;
      seen.add(k);
      return true;
    }).slice(0, 40);
    assert.ok(events.length >= 20, 'trace events available');
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const day = 86_400_000_000_000n;
    // Old half 10 days ago, new half now; two writes, each its own block and (tiny limit) segment.
    const half = Math.floor(events.length / 2);
    const stored = events.map((ev, i) => toStoredEvent(new AuditEvent(ev.raw, (i < half ? nowNs - 10n * day : nowNs) + BigInt(i)), JSON.stringify(ev.raw)));
    let store = new DuckDBStore({ path: file, rawSegmentMaxBytes: 1 });
    await store.open();
    assert.equal(await store.writeEvents(stored.slice(0, half)), half);
    assert.equal(await store.writeEvents(stored.slice(half)), events.length - half);
    await store.close();
    const segs = () => readdirSync(file + '.raw').filter((f) => f.endsWith('.blk'));
    assert.ok(segs().length >= 2, `segments: ${segs().join(' ')}`);

    store = new DuckDBStore({ path: file, rawSegmentMaxBytes: 1 });
    await store.open();
    t.after(() => store.close());
    const all = await store.searchEvents({ range: ALL_TIME, limit: 1000 });
    assert.equal(all.items.length, events.length);
    const byId = new Map(events.map((e) => [String(e.raw.auditID) + '/' + String(e.raw.stage), e.raw]));
    for (const e of all.items) assert.deepEqual(e.raw, byId.get(`${e.auditId}/${e.stage}`), 'raw event as written');
    const before = segs().length;
    await store.enforceRetention({ events: { maxAgeMs: 86_400_000 } });
    const left = await store.searchEvents({ range: ALL_TIME, limit: 1000 });
    assert.equal(left.items.length, events.length - half, 'the old half is gone');
    for (const e of left.items) assert.deepEqual(e.raw, byId.get(`${e.auditId}/${e.stage}`));
    assert.ok(segs().length < before, `the old block's segment is deleted (${before} → ${segs().length})`);
    let texts = 0;
    for await (const _ of store.rawTexts()) texts++;
    assert.equal(texts, events.length - half, 'only the new block is left');
  });
});
