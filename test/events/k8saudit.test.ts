import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough, Readable } from 'node:stream';
import {
  AuditEvent, decodeAuditText, readAuditStream, parseRfc3339Ns, isDecodeError, NOT_AN_AUDIT_EVENT,
  type DecodeError,
} from '../../src/events/k8saudit.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TRACES = join(ROOT, '..', 'shared', 'falco', 'k8s_audit_traces');
const HAVE_TRACES = existsSync(TRACES);
if (!HAVE_TRACES) console.warn(`!!! SKIPPING trace-based tests: ${TRACES} is missing`);

type Item = AuditEvent | DecodeError;

function ev(auditID: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID,
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/default/pods',
    verb: 'create',
    user: { username: 'alice', groups: ['system:authenticated'] },
    requestReceivedTimestamp: '2024-05-06T07:08:09.100000Z',
    stageTimestamp: '2024-05-06T07:08:09.123456Z',
    ...extra,
  };
}

/** Chunks of `size` bytes of the UTF-8 encoding of `text` (to cut multi-byte chars too). */
function byteChunks(text: string, size: number): Buffer[] {
  const b = Buffer.from(text, 'utf8');
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

async function fromStream(chunks: Array<string | Buffer>, origin = 'stdin'): Promise<Item[]> {
  const res: Item[] = [];
  for await (const x of readAuditStream(Readable.from(chunks, { objectMode: true }), origin)) res.push(x);
  return res;
}

/** Decode `text` with the text decoder and with the stream reader in a few chunkings; all must agree. */
async function decodeAll(text: string, origin = 'f.json', sizes = [1, 7, 64, 4096, 1 << 20]): Promise<Item[]> {
  const viaText = [...decodeAuditText(text, origin)];
  for (const size of sizes) {
    const viaStream = await fromStream(byteChunks(text, size), origin);
    assert.deepEqual(summary(viaStream), summary(viaText), `stream with ${size}-byte chunks`);
  }
  return viaText;
}

function summary(items: Item[]): unknown[] {
  return items.map((x) => (x instanceof AuditEvent ? { id: x.raw.auditID, t: x.timeNs } : { ...x, error: x.error.replace(/:.*/, '') }));
}

function ids(items: Item[]): unknown[] {
  return items.map((x) => (x instanceof AuditEvent ? x.raw.auditID : `ERR@${(x as DecodeError).line}`));
}

// ---------------------------------------------------------------------------------------------

test('AuditEvent basics', () => {
  const raw = ev('a');
  const e = new AuditEvent(raw, 5n, { cluster: 'c1' });
  assert.equal(e.source, 'k8s_audit');
  assert.equal(e.raw, raw);
  assert.equal(e.timeNs, 5n);
  assert.deepEqual(e.labels, { cluster: 'c1' });
  assert.equal(isDecodeError(e), false);
  assert.equal(isDecodeError({ error: 'x', origin: 'o' }), true);
});

test('RFC 3339 timestamps parse exactly to the nanosecond', () => {
  assert.equal(parseRfc3339Ns('2018-10-25T13:58:49.736141Z'), 1540475929736141000n);
  assert.equal(parseRfc3339Ns('1970-01-01T00:00:00Z'), 0n);
  assert.equal(parseRfc3339Ns('1970-01-01T00:00:00.000000001Z'), 1n);
  // 2^53 ns and beyond: no float rounding
  assert.equal(parseRfc3339Ns('2262-04-11T23:47:16.854775807Z'), 9223372036854775807n);
  assert.equal(parseRfc3339Ns('2024-02-29T12:00:00.999999999Z'), BigInt(Date.UTC(2024, 1, 29, 12)) * 1_000_000n + 999_999_999n);
  // fractions of any length: padded, or truncated after 9 digits
  assert.equal(parseRfc3339Ns('2024-01-01T00:00:00.5Z'), BigInt(Date.UTC(2024, 0, 1)) * 1_000_000n + 500_000_000n);
  assert.equal(parseRfc3339Ns('2024-01-01T00:00:00.1234567891234Z'), BigInt(Date.UTC(2024, 0, 1)) * 1_000_000n + 123_456_789n);
  // offsets
  assert.equal(parseRfc3339Ns('2024-01-01T02:30:00+02:30'), BigInt(Date.UTC(2024, 0, 1)) * 1_000_000n);
  assert.equal(parseRfc3339Ns('2023-12-31T21:00:00.000000042-03:00'), BigInt(Date.UTC(2024, 0, 1)) * 1_000_000n + 42n);
  assert.equal(parseRfc3339Ns('2024-01-01t00:00:00z'), BigInt(Date.UTC(2024, 0, 1)) * 1_000_000n);
  // before the epoch
  assert.equal(parseRfc3339Ns('1969-12-31T23:59:59.5Z'), -500_000_000n);
  // rejects
  for (const bad of ['2024-02-30T00:00:00Z', '2023-02-29T00:00:00Z', '2024-13-01T00:00:00Z', '2024-01-01T24:00:00Z',
    '2024-01-01T00:60:00Z', '2024-01-01 00:00:00Z', '2024-01-01T00:00:00', '2024-01-01T00:00:00.Z', 'yesterday', '',
    '2024-01-01T00:00:00+24:00']) {
    assert.equal(parseRfc3339Ns(bad), undefined, bad);
  }
  assert.equal(parseRfc3339Ns(12345), undefined);
  assert.equal(parseRfc3339Ns(null), undefined);
});

test('event time: stageTimestamp, else requestReceivedTimestamp, else timestamp', async () => {
  const lines = [
    ev('s'),
    ev('r', { stageTimestamp: undefined }),
    ev('r2', { stageTimestamp: 'garbage' }),
    { auditID: 't', timestamp: '2017-01-02T03:04:05.000000006Z', verb: 'get' },
    ev('none', { stageTimestamp: undefined, requestReceivedTimestamp: undefined }),
  ];
  const out = await decodeAll(lines.map((l) => JSON.stringify(l)).join('\n'));
  assert.equal(out.length, 5);
  assert.equal((out[0] as AuditEvent).timeNs, parseRfc3339Ns('2024-05-06T07:08:09.123456Z'));
  assert.equal((out[1] as AuditEvent).timeNs, parseRfc3339Ns('2024-05-06T07:08:09.1Z'));
  assert.equal((out[2] as AuditEvent).timeNs, parseRfc3339Ns('2024-05-06T07:08:09.1Z'));
  assert.equal((out[3] as AuditEvent).timeNs, 1483326245000000006n);
  assert.deepEqual(out[4], { error: NOT_AN_AUDIT_EVENT, origin: 'f.json', line: 5, detail: 'no valid stageTimestamp' });
});

test('JSON lines: one event per line, blank lines and CRLF tolerated, raw kept as parsed', async () => {
  const a = ev('a'), b = ev('b', { apiVersion: 'audit.k8s.io/v1beta1' });
  const text = `${JSON.stringify(a)}\r\n\r\n   \n${JSON.stringify(b)}\r\n`;
  const out = await decodeAll(text);
  assert.deepEqual(ids(out), ['a', 'b']);
  assert.deepEqual((out[0] as AuditEvent).raw, a);
  assert.deepEqual((out[1] as AuditEvent).raw, b);
  // no trailing newline, BOM at the start
  assert.deepEqual(ids(await decodeAll('\ufeff' + JSON.stringify(a))), ['a']);
});

test('v1beta1 and events without apiVersion/kind are accepted', async () => {
  const old = { auditID: 'old', stage: 'ResponseComplete', verb: 'get', stageTimestamp: '2018-01-01T00:00:00Z' };
  const beta = ev('beta', { apiVersion: 'audit.k8s.io/v1beta1', timestamp: '2018-01-01T00:00:00Z' });
  const out = await decodeAll([old, beta].map((x) => JSON.stringify(x)).join('\n'));
  assert.deepEqual(ids(out), ['old', 'beta']);
});

test('bad records are reported with origin and line, and decoding goes on (fal_01_003 style)', async () => {
  const lines = [
    JSON.stringify(ev('a')),
    '{"kind": 0}',
    '42',
    '"just a string"',
    'null',
    'this is not json',
    JSON.stringify({ auditID: 7, stageTimestamp: '2018-01-01T00:00:00Z' }),
    JSON.stringify(ev('pod', { kind: 'Pod' })),
    JSON.stringify({ stage: 'ResponseComplete', stageTimestamp: '2018-01-01T00:00:00Z' }),
    '{"auditID": "x", "stageTimestamp": ',
    JSON.stringify(ev('b')),
  ];
  const out = await decodeAll(lines.join('\n'), 'trace.json');
  assert.deepEqual(ids(out), ['a', 'ERR@2', 'ERR@3', 'ERR@4', 'ERR@5', 'ERR@6', 'ERR@7', 'ERR@8', 'ERR@9', 'ERR@10', 'b']);
  const errs = out.filter(isDecodeError);
  for (const e of errs) assert.equal(e.origin, 'trace.json');
  assert.equal(errs[0]!.error, NOT_AN_AUDIT_EVENT);
  assert.equal(errs[1]!.error, NOT_AN_AUDIT_EVENT);
  assert.match(errs[4]!.error, /^invalid JSON: /);
  assert.equal(errs[6]!.error, NOT_AN_AUDIT_EVENT);
  assert.match(errs[6]!.detail ?? '', /kind is "Pod"/);
  assert.match(errs[8]!.error, /^invalid JSON: /);
});

test('EventList: each item becomes an event; bad items are reported', async () => {
  const list = {
    kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {},
    items: [ev('i1'), { auditID: 'i2', stageTimestamp: '2020-01-01T00:00:00.000000001Z' }, { nope: true }, ev('i4')],
  };
  const out = await decodeAll(JSON.stringify(list) + '\n' + JSON.stringify(ev('after')));
  assert.deepEqual(ids(out), ['i1', 'i2', 'ERR@1', 'i4', 'after']);
  assert.equal((out[1] as AuditEvent).timeNs, 1577836800000000001n);
  // EventList without items
  const bad = await decodeAll(JSON.stringify({ kind: 'EventList', items: 3 }));
  assert.equal((bad[0] as DecodeError).error, NOT_AN_AUDIT_EVENT);
  // empty EventList: nothing
  assert.deepEqual(await decodeAll(JSON.stringify({ kind: 'EventList', items: [] })), []);
});

test('JSON array of Events and EventLists, on one line or pretty-printed', async () => {
  const arr = [ev('x1'), { kind: 'EventList', items: [ev('x2'), ev('x3')] }, 5, ev('x4')];
  const oneLine = await decodeAll(JSON.stringify(arr));
  assert.deepEqual(ids(oneLine), ['x1', 'x2', 'x3', 'ERR@1', 'x4']);
  const pretty = await decodeAll('\n\n' + JSON.stringify(arr, null, 2) + '\n');
  assert.deepEqual(ids(pretty), ['x1', 'x2', 'x3', 'ERR@3', 'x4']);
  // tab indentation, and no indentation at all with one-line elements
  assert.deepEqual(ids(await decodeAll(JSON.stringify(arr, null, '\t'))), ['x1', 'x2', 'x3', 'ERR@1', 'x4']);
  const flat = '[\n' + [ev('f1'), ev('f2'), ev('f3')].map((x) => JSON.stringify(x)).join(',\n') + '\n]\n';
  assert.deepEqual(ids(await decodeAll(flat)), ['f1', 'f2', 'f3']);
  const flat1 = '[\n' + JSON.stringify(ev('g1')) + '\n]';
  assert.deepEqual(ids(await decodeAll(flat1)), ['g1']);
});

test('pretty-printed single Event and EventList documents, several in a row', async () => {
  const text = [
    JSON.stringify(ev('p1'), null, 2),
    JSON.stringify({ kind: 'EventList', items: [ev('p2')] }, null, 4),
    JSON.stringify(ev('p3')),
    JSON.stringify(ev('p4'), null, 2),
  ].join('\n');
  const out = await decodeAll(text);
  assert.deepEqual(ids(out), ['p1', 'p2', 'p3', 'p4']);
});

test('a broken pretty-printed document is one error at its first line; the next ones still decode', async () => {
  const good = JSON.stringify(ev('ok'), null, 2);
  const broken = good.replace('"verb": "create",', '"verb": "create" "oops",');
  const text = broken + '\n' + good + '\n' + JSON.stringify(ev('line')) + '\n';
  const out = await decodeAll(text);
  const n = broken.split('\n').length;
  assert.deepEqual(ids(out), ['ERR@1', 'ok', 'line']);
  assert.match((out[0] as DecodeError).error, /^invalid JSON: /);
  assert.equal(n > 5, true);
  // broken at the end of input too
  const tail = await decodeAll(JSON.stringify(ev('first')) + '\n' + broken);
  assert.deepEqual(ids(tail), ['first', 'ERR@2']);
});

test('a truncated JSON line followed by good lines: one error, the rest decode', async () => {
  const lines = ['{"auditID": "t", "stageTimestamp": "2018-', JSON.stringify(ev('a')), JSON.stringify(ev('b'))];
  assert.deepEqual(ids(await decodeAll(lines.join('\n'))), ['ERR@1', 'a', 'b']);
  // truncated right after a comma
  const lines2 = ['{"auditID": "t",', JSON.stringify(ev('a')), '', JSON.stringify(ev('b')), JSON.stringify(ev('c'))];
  assert.deepEqual(ids(await decodeAll(lines2.join('\n'))), ['ERR@1', 'a', 'b', 'c']);
  // truncated last line
  assert.deepEqual(ids(await decodeAll(JSON.stringify(ev('a')) + '\n{"auditID": "t"')), ['a', 'ERR@2']);
});

test('stream reader yields records as soon as their line is complete', async () => {
  const input = new PassThrough();
  const it = readAuditStream(input, 'live')[Symbol.asyncIterator]();
  input.write(JSON.stringify(ev('l1')).slice(0, 50));
  input.write(JSON.stringify(ev('l1')).slice(50) + '\n');
  const r1 = await it.next();
  assert.equal((r1.value as AuditEvent).raw.auditID, 'l1');
  input.write('{"kind": 0}\n');
  const r2 = await it.next();
  assert.deepEqual(r2.value, { error: NOT_AN_AUDIT_EVENT, origin: 'live', line: 2 });
  // a broken line is reported once the next good line shows it was not the start of a document
  input.write('{"auditID": "x" 12\n' + JSON.stringify(ev('l4')) + '\n');
  const r3 = await it.next();
  assert.equal((r3.value as DecodeError).line, 3);
  const r4 = await it.next();
  assert.equal((r4.value as AuditEvent).raw.auditID, 'l4');
  input.end();
  assert.equal((await it.next()).done, true);
});

test('very long lines (several MB), with multi-byte characters cut across chunks', async () => {
  const big = 'é€😀x'.repeat(600_000); // ~6 MB of UTF-8
  const e1 = ev('big', { annotations: { note: big } });
  const text = JSON.stringify(ev('small')) + '\n' + JSON.stringify(e1) + '\n' + JSON.stringify(ev('tail')) + '\n';
  for (const size of [65536, 65537, 1 << 20]) {
    const out = await fromStream(byteChunks(text, size), 'big.json');
    assert.deepEqual(ids(out), ['small', 'big', 'tail']);
    assert.equal(((out[1] as AuditEvent).raw.annotations as Record<string, string>).note, big);
  }
  const viaText = [...decodeAuditText(text, 'big.json')];
  assert.deepEqual(ids(viaText), ['small', 'big', 'tail']);
  // string chunks work too
  const out2 = await fromStream([text.slice(0, 1000), text.slice(1000)]);
  assert.deepEqual(ids(out2), ['small', 'big', 'tail']);
});

test('a whole large pretty-printed EventList decodes', async () => {
  const items = Array.from({ length: 2000 }, (_, i) => ev(`e${i}`, { stageTimestamp: `2024-05-06T07:08:09.${String(i).padStart(9, '0')}Z` }));
  const text = JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items }, null, 2);
  const out = await decodeAll(text, 'list.json', [100, 65536]);
  assert.equal(out.length, 2000);
  assert.equal((out[1999] as AuditEvent).timeNs, parseRfc3339Ns('2024-05-06T07:08:09Z')! + 1999n);
});

test('empty and blank inputs yield nothing', async () => {
  assert.deepEqual(await decodeAll(''), []);
  assert.deepEqual(await decodeAll('\n\n  \r\n'), []);
});

test('real Falco traces: 51 events in 46 files, and the malformed fal_01_003', { skip: !HAVE_TRACES && 'shared traces missing' }, async () => {
  const files = readdirSync(TRACES).filter((f) => f.endsWith('.json')).sort();
  assert.equal(files.length, 47);
  let events = 0;
  for (const f of files) {
    const text = readFileSync(join(TRACES, f), 'utf8');
    const out = await decodeAll(text, f, [64, 65536]);
    if (f === 'fal_01_003.json') {
      assert.deepEqual(out, [{ error: NOT_AN_AUDIT_EVENT, origin: 'fal_01_003.json', line: 1 }]);
      continue;
    }
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    assert.equal(out.length, lines.length, f);
    out.forEach((x, i) => {
      assert.ok(x instanceof AuditEvent, `${f}:${i + 1}`);
      assert.deepEqual(x.raw, JSON.parse(lines[i]!));
      assert.equal(x.timeNs, parseRfc3339Ns(x.raw.stageTimestamp));
    });
    events += out.length;
  }
  assert.equal(events, 51);
});
