/**
 * The disk spool alone: records come back in order across segments, a restart resumes after
 * the committed position, a torn record at the end (a crash mid-write) is cut off, and the
 * size cap refuses appends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Spool, SpoolFullError } from '../../src/pipeline/spool.ts';
import { tmpDir } from '../harness.ts';

const opts = (dir: string, extra: Partial<ConstructorParameters<typeof Spool>[0]> = {}) => ({
  dir, maxBytes: 64 * 1024 * 1024, segmentMaxBytes: 4096, fsync: true, memoryMaxItems: 10, ...extra,
});

function drain<T>(s: Spool<T>): Array<{ text: string; attached?: T }> {
  const out: Array<{ text: string; attached?: T }> = [];
  for (let r = s.next(); r; r = s.next()) {
    out.push({ text: r.payload ? r.payload.toString() : `(attached)`, attached: r.attached });
    s.commit(r);
  }
  return out;
}

test('spool: order across segments, spill past the memory budget, resume after restart', async () => {
  const dir = tmpDir();
  let s = new Spool<string>(opts(dir));
  await s.open();
  // 30 records of ~500 bytes: several segments; only 10 keep their decoded form in memory.
  for (let i = 0; i < 30; i++) await s.append(Buffer.from(`rec-${i}-` + 'x'.repeat(500)), `obj-${i}`, 1);
  assert.ok(readdirSync(dir).filter((f) => f.startsWith('seg-')).length > 2);
  const first = [];
  for (let i = 0; i < 12; i++) {
    const r = s.next()!;
    first.push(r.attached ?? r.payload!.toString().slice(0, 7));
    s.commit(r);
  }
  assert.deepEqual(first.slice(0, 10), Array.from({ length: 10 }, (_, i) => `obj-${i}`));
  assert.equal(first[10], 'rec-10-', 'spilled records are read back from disk');
  await s.close();
  // Restart: the 18 uncommitted records come back, in order, from disk.
  s = new Spool<string>(opts(dir));
  await s.open();
  const rest = drain(s).map((r) => r.text.slice(0, 7));
  assert.equal(rest.length, 18);
  assert.deepEqual(rest, Array.from({ length: 18 }, (_, i) => `rec-${i + 12}-`.slice(0, 7)));
  await s.close();
  s = new Spool<string>(opts(dir));
  await s.open();
  assert.equal(drain(s).length, 0, 'nothing is replayed once committed');
  assert.equal(s.unconsumedBytes, 0);
  await s.close();
});

test('spool: a torn record at the end of the last segment is cut off on open', async () => {
  const dir = tmpDir();
  let s = new Spool<string>(opts(dir, { segmentMaxBytes: 1 << 20 }));
  await s.open();
  await s.append(Buffer.from('one'), undefined, 1);
  await s.append(Buffer.from('two'), undefined, 1);
  await s.close();
  const seg = readdirSync(dir).filter((f) => f.startsWith('seg-')).sort().pop()!;
  // a header announcing 100 bytes, followed by 5: the process died mid-write
  const torn = Buffer.alloc(13);
  torn.writeUInt32LE(100, 0);
  appendFileSync(path.join(dir, seg), torn);
  s = new Spool<string>(opts(dir, { segmentMaxBytes: 1 << 20 }));
  await s.open();
  assert.deepEqual(drain(s).map((r) => r.text), ['one', 'two']);
  await s.append(Buffer.from('three'), undefined, 1);
  assert.deepEqual(drain(s).map((r) => r.text), ['three'], 'appends go on after the repair');
  await s.close();
});

test('spool: appends past max_bytes are refused with SpoolFullError', async () => {
  const dir = tmpDir();
  const s = new Spool<string>(opts(dir, { maxBytes: 2000, segmentMaxBytes: 1 << 20 }));
  await s.open();
  await s.append(Buffer.alloc(1500), undefined, 1);
  await assert.rejects(s.append(Buffer.alloc(1500), undefined, 1), SpoolFullError);
  const r = s.next()!;
  s.commit(r);
  await s.append(Buffer.alloc(1500), undefined, 1);
  await s.close();
});
