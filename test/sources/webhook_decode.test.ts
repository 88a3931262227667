/**
 * The webhook decoder's fast path: compact JSON arrays and EventLists are cut at `},{` and each
 * item parsed alone, keeping its text; any cut that is not an item boundary must fall back to
 * parsing the whole body, with the same events and errors as before.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeWebhookBody } from '../../src/sources/k8s_audit_webhook/decode.ts';

const T = '2026-01-01T12:00:00.123456Z';
const ev = (id: string, extra = ''): string =>
  `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"${id}","stage":"ResponseComplete","verb":"get"${extra},"stageTimestamp":"${T}"}`;

const cases: Array<{ name: string; body: string; ids: string[]; texts: boolean; errors?: number }> = [
  { name: 'compact array', body: `[${ev('a')},${ev('b')},${ev('c')}]`, ids: ['a', 'b', 'c'], texts: true },
  { name: 'one item', body: `[${ev('a')}]`, ids: ['a'], texts: true },
  { name: 'EventList', body: `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[${ev('a')},${ev('b')}]}`, ids: ['a', 'b'], texts: true },
  { name: '},{ inside a string', body: `[${ev('a', ',"x":"p},{q"')},${ev('b')}]`, ids: ['a', 'b'], texts: false },
  { name: '},{ in a nested array', body: `[${ev('a', ',"requestObject":{"items":[{"n":1},{"n":2}]}')},${ev('b')}]`, ids: ['a', 'b'], texts: false },
  { name: 'spaces between items', body: `[${ev('a')}, ${ev('b')}]`, ids: ['a', 'b'], texts: false },
  { name: 'pretty-printed', body: `[\n  ${ev('a')},\n  ${ev('b')}\n]\n`, ids: ['a', 'b'], texts: false },
  { name: 'a bad item', body: `[${ev('a')},{"kind":"Event"},${ev('c')}]`, ids: ['a', 'c'], texts: true, errors: 1 },
  { name: 'broken JSON', body: `[${ev('a')},{"kind":]`, ids: [], texts: false, errors: 1 },
  { name: 'nested arrays', body: `[[${ev('a')}],[${ev('b')}]]`, ids: ['a', 'b'], texts: false },
  { name: 'Fluent Bit log records', body: `[{"date":1.5,"log":${JSON.stringify(ev('a'))}},{"date":1.6,"log":${JSON.stringify(ev('b'))}}]`, ids: ['a', 'b'], texts: false },
];

for (const c of cases) {
  test(`webhook decode: ${c.name}`, () => {
    const d = decodeWebhookBody(c.body, 'test');
    assert.deepEqual(d.events.map((e) => e.raw.auditID), c.ids);
    assert.equal(d.errors.length, c.errors ?? 0, d.errors.join('; '));
    for (const e of d.events) {
      if (c.texts) {
        assert.ok(e.rawText, 'each event keeps its text');
        assert.deepEqual(JSON.parse(e.rawText!), e.raw);
      } else assert.equal(e.rawText, undefined);
    }
  });
}
