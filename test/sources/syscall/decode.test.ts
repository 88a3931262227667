/**
 * bpftrace output to records: the line layout of every record code, strings that contain the
 * separators, bpftrace's escapes, lost events, and lines that are not records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LAYOUT, decodeBuf, hexBig, parseLine, parseRecord, splitNul } from '../../../src/sources/syscall/decode.ts';

const json = (data: string): string => JSON.stringify({ type: 'printf', data: data + '\n' });

test('decode: common fields and a trailing string with tabs kept whole', () => {
  const p = parseLine(json('o\t1000\t42\t43\t1\t7\t8\t3\t-100\t524288\t0\t/tmp/a\tb c'), 5);
  assert.equal(p.kind, 'rec');
  if (p.kind !== 'rec') return;
  const r = p.rec;
  assert.deepEqual([r.code, r.tsText, r.ts, r.pid, r.tid, r.ppid, r.xid, r.seq], ['o', '1000', 1000, 42, 43, 1, 7, 5]);
  assert.deepEqual(r.f, ['8', '3', '-100', '524288', '0']);
  assert.equal(r.s, '/tmp/a\tb c');
});

test('decode: a newline or a quote in a file name cannot forge a record', () => {
  const evil = '/tmp/x\nE\t1\t2\t3\t4\t5"';
  const p = parseLine(json(`o\t1000\t42\t42\t1\t7\t8\t3\t-100\t0\t0\t${evil}`), 0);
  assert.equal(p.kind, 'rec');
  if (p.kind === 'rec') assert.equal(p.rec.s, evil);
});

test('decode: every layout parses a line with the right number of fields, and rejects a short one', () => {
  for (const [code, [fixed, str]] of Object.entries(LAYOUT)) {
    const fields = ['1', '2', '3', '4', '5', ...Array.from({ length: fixed }, (_, i) => String(10 + i))];
    const line = [code, ...fields, ...(str ? ['s'] : [])].join('\t');
    const p = parseRecord(line, 0);
    assert.equal(p.kind, 'rec', code);
    if (p.kind === 'rec') {
      assert.equal(p.rec.f.length, fixed, code);
      assert.equal(p.rec.s, str ? 's' : undefined, code);
    }
    if (fixed > 0) assert.equal(parseRecord([code, '1', '2', '3', '4', '5'].join('\t'), 0).kind, 'bad', code);
  }
});

test('decode: bytes above 0x7f that bpftrace 0.17 escapes as \\uffffffXX come back as UTF-8', () => {
  // "é" is c3 a9 in UTF-8; bpftrace prints each byte sign-extended.
  const line = '{"type": "printf", "data": "W\\t1\\t2\\t2\\t1\\t1\\t/tmp/caf\\uffffffc3\\uffffffa9\\n"}';
  const p = parseLine(line, 0);
  assert.equal(p.kind, 'rec');
  if (p.kind === 'rec') assert.equal(p.rec.s, '/tmp/café');
});

test('decode: control lines', () => {
  assert.deepEqual(parseLine('{"type": "lost_events", "data": {"events": 12}}', 0), { kind: 'lost', events: 12 });
  assert.deepEqual(parseLine('{"type": "attached_probes", "data": {"probes": 112}}', 0), { kind: 'attached', probes: 112 });
  assert.deepEqual(parseLine(json('I\t4242'), 0), { kind: 'self', pid: 4242 });
  assert.equal(parseLine('{"type": "map", "data": {}}', 0).kind, 'other');
  assert.equal(parseLine('not json', 0).kind, 'bad');
  assert.equal(parseLine(json('Z\t1\t2\t3\t4\t5'), 0).kind, 'bad');
});

test('decode: %r buffers (argv) and NUL splitting', () => {
  const b = decodeBuf('/bin/echo\\x00a b\\x00tab\\x09here\\x00\\xc3\\xa9\\x00');
  assert.deepEqual(splitNul(b), ['/bin/echo', 'a b', 'tab\there', 'é']);
  assert.deepEqual(splitNul(decodeBuf('one\\x00two')), ['one', 'two']);
  assert.deepEqual(splitNul(decodeBuf('')), []);
  assert.equal(hexBig('1fffeffffff'), 0x1fffeffffffn);
  assert.equal(hexBig(''), 0n);
});
