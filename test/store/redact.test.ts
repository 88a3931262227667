/**
 * Secret payloads never reach storage: the redactor on its own (a table of bodies), then the
 * proof on disk: RequestResponse-level events carrying Secret values are written to each
 * backend and the bytes of its files are searched for every value. A ConfigMap value written
 * the same way must be found, so the search is known to see what is stored.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { AuditEvent } from '../../src/events/k8saudit.ts';
import { toStoredEvent } from '../../src/store/index.ts';
import { REDACTED, makeRedactor, redactEvent } from '../../src/store/redact.ts';
import { BACKENDS, openTestStore } from './backends.ts';
import { clickhouseBinContents, lz4Block } from './chfiles.ts';
import { ALL_TIME } from './fixtures.ts';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

function secretValue(): string {
  return 'S3CR3T' + randomBytes(12).toString('hex');
}

let n = 0;
function event(resource: string, verb: string, body: { requestObject?: unknown; responseObject?: unknown }): Record<string, unknown> {
  return {
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'RequestResponse', auditID: `red-${++n}`, stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/default/${resource}`, verb, user: { username: 'alice', groups: ['system:authenticated'] },
    objectRef: { resource, namespace: 'default', name: 'x', apiVersion: 'v1' }, responseStatus: { code: 200 },
    requestReceivedTimestamp: '2024-05-01T10:00:00.000000Z', stageTimestamp: `2024-05-01T10:00:00.${String(n).padStart(6, '0')}Z`,
    ...body,
  };
}

/** Events that carry Secret payloads in every way the API server writes them; and their values. */
function secretEvents(): { events: Record<string, unknown>[]; values: string[] } {
  const values: string[] = [];
  const v = () => { const x = secretValue(); values.push(x); return x; };
  const b64 = () => Buffer.from(v()).toString('base64');
  const secret = () => ({
    kind: 'Secret', apiVersion: 'v1', type: 'Opaque',
    metadata: { name: 'db', namespace: 'default', annotations: { [LAST_APPLIED]: JSON.stringify({ kind: 'Secret', stringData: { password: v() } }) } },
    data: { password: b64(), token: v() }, stringData: { extra: v() },
  });
  const events = [
    event('secrets', 'create', { requestObject: secret(), responseObject: secret() }),
    event('secrets', 'update', { requestObject: secret(), responseObject: secret() }),
    event('secrets', 'list', { responseObject: { kind: 'SecretList', apiVersion: 'v1', items: [secret(), secret()] } }),
    event('secrets', 'get', { responseObject: secret() }),
    // Merge/strategic patch: no kind in the body.
    event('secrets', 'patch', { requestObject: { data: { password: b64() }, stringData: { more: v() } }, responseObject: secret() }),
    // JSON patch.
    event('secrets', 'patch', {
      requestObject: [
        { op: 'add', path: '/data/api-key', value: b64() },
        { op: 'replace', path: '/stringData', value: { k: v() } },
        { op: 'add', path: '/metadata/annotations/' + LAST_APPLIED.replace('/', '~1'), value: v() },
        { op: 'replace', path: '/metadata/labels/app', value: 'web' },
      ],
      responseObject: secret(),
    }),
    // A Secret inside a List sent to another resource, and a Secret returned from a watch.
    event('configmaps', 'create', { requestObject: { kind: 'List', items: [{ kind: 'ConfigMap', data: { a: 'b' } }, secret()] } }),
    event('secrets', 'watch', { responseObject: { type: 'ADDED', object: secret() } }),
  ];
  return { events, values };
}

describe('redaction of Secret payloads', () => {
  test('Secret data, stringData and last-applied annotation are replaced, keys kept', () => {
    const { events, values } = secretEvents();
    for (const ev of events) {
      const red = redactEvent(ev);
      const text = JSON.stringify(red);
      for (const x of values) assert.ok(!text.includes(x) && !text.includes(Buffer.from(x).toString('base64')), `${String(ev.verb)}: ${x} left`);
      assert.ok(text.includes(REDACTED));
    }
    const created = redactEvent(events[0]!) as { requestObject: { data: Record<string, string>; metadata: { name: string; annotations: Record<string, string> } } };
    assert.deepEqual(created.requestObject.data, { password: REDACTED, token: REDACTED });
    assert.equal(created.requestObject.metadata.name, 'db');
    assert.equal(created.requestObject.metadata.annotations[LAST_APPLIED], REDACTED);
    const patched = redactEvent(events[5]!) as { requestObject: Array<{ path: string; value: unknown }> };
    assert.equal(patched.requestObject[3]!.value, 'web', 'operations that touch no payload are kept');
  });

  test('the event is not changed in place; a clean event is returned as is', () => {
    const { events } = secretEvents();
    const before = JSON.stringify(events[0]);
    redactEvent(events[0]!);
    assert.equal(JSON.stringify(events[0]), before);
    const clean = event('pods', 'create', { requestObject: { kind: 'Pod', spec: { containers: [] } } });
    assert.equal(redactEvent(clean), clean);
    const cm = event('configmaps', 'create', { requestObject: { kind: 'ConfigMap', data: { password: 'visible' } } });
    assert.equal(redactEvent(cm), cm, 'ConfigMaps are not Secrets');
  });

  test('configured JSON pointers are redacted too, with * for any key or element', () => {
    const red = makeRedactor({ extraPointers: ['/requestObject/spec/token', '/responseObject/items/*/spec/password', '/nothing/here'] });
    const ev = event('widgets', 'create', {
      requestObject: { spec: { token: 'abc', keep: 1 } },
      responseObject: { items: [{ spec: { password: 'p1' } }, { spec: { other: 'o' } }] },
    });
    const out = red(ev) as { requestObject: { spec: Record<string, unknown> }; responseObject: { items: Array<{ spec: Record<string, unknown> }> } };
    assert.deepEqual(out.requestObject.spec, { token: REDACTED, keep: 1 });
    assert.deepEqual(out.responseObject.items.map((i) => i.spec), [{ password: REDACTED }, { other: 'o' }]);
  });

  test('toStoredEvent redacts, and keeps the text as received only when nothing was redacted', () => {
    const { events } = secretEvents();
    const ev = new AuditEvent(events[0]!, 1n);
    const s = toStoredEvent(ev, JSON.stringify(events[0]));
    assert.equal(s.rawText, undefined);
    assert.notDeepEqual(s.raw, events[0]);
    const clean = event('pods', 'get', {});
    const s2 = toStoredEvent(new AuditEvent(clean, 1n), '{"as":"received"}');
    assert.equal(s2.rawText, '{"as":"received"}');
  });

  test('with the event text at hand, only texts that could hold a Secret are walked, and every such one is redacted', () => {
    const { events, values } = secretEvents();
    // The text as a client could send it: every Secret still found, with the text given.
    for (const ev of events) {
      const text = JSON.stringify(ev);
      const out = JSON.stringify(redactEvent(ev, text));
      for (const v of values) assert.ok(!out.includes(v), `${v} left in ${ev.auditID as string}`);
    }
    // `kind` spelled with a JSON escape in a body of another resource: the text has no "Secret".
    const escapedKind = event('configmaps', 'create', { requestObject: { kind: 'List', items: [{ kind: 'Secret', data: { k: 'SECRETVALUE' } }] } });
    const escapedText = JSON.stringify(escapedKind).replace('"kind":"Secret"', '"kind":"Secr\\u0065t"');
    assert.ok(!escapedText.includes('Secret"'));
    assert.deepEqual(JSON.parse(escapedText), escapedKind);
    assert.ok(!JSON.stringify(redactEvent(escapedKind, escapedText)).includes('SECRETVALUE'));
    // A text that cannot hold one: the same object back, untouched.
    const clean = event('configmaps', 'create', { requestObject: { kind: 'ConfigMap', data: { a: 'b' } } });
    assert.equal(redactEvent(clean, JSON.stringify(clean)), clean);
  });

  test('the LZ4 reader used on ClickHouse files: literals, a back-reference, an overlapping run, long lengths', () => {
    const block = Buffer.from([
      0x44, ...Buffer.from('abcd'), 4, 0, // four literals, then 8 bytes from 4 back
      0x4f, ...Buffer.from('xyza'), 1, 0, 10, // four literals, then 4 + 15 + 10 bytes from 1 back (overlapping)
      0xf0, 2, ...Buffer.from('the-last-17-bytes'), // 15 + 2 literals, no match: the end
    ]);
    const want = 'abcdabcdabcd' + 'xyza' + 'a'.repeat(29) + 'the-last-17-bytes';
    const out = Buffer.alloc(want.length);
    lz4Block(block, out);
    assert.equal(out.toString(), want);
    assert.throws(() => lz4Block(Buffer.from([0x04, 0x61, 9, 0]), Buffer.alloc(8)), /bad offset/);
  });

  for (const kind of BACKENDS) {
    test(`no Secret value from a RequestResponse-level event is in the ${kind} files`, async (t) => {
      const s = await openTestStore(t, kind, { redactPointers: ['/requestObject/spec/token'] });
      if (!s) return;
      const { events, values } = secretEvents();
      const control = secretValue();
      const cm = event('configmaps', 'create', { requestObject: { kind: 'ConfigMap', data: { note: control } } });
      const pointer = secretValue();
      values.push(pointer);
      const custom = event('widgets', 'create', { requestObject: { spec: { token: pointer } } });
      // Written without toStoredEvent (raw as the pipeline might hand it): the store redacts.
      const stored = [...events, cm, custom].map((raw, i) => ({ timeNs: 1_714_557_600_000_000_000n + BigInt(i), auditId: String(raw.auditID), stage: 'ResponseComplete', raw, rawText: JSON.stringify(raw) }));
      assert.equal(await s.store.writeEvents(stored), stored.length);
      const back = await s.store.searchEvents({ range: ALL_TIME, limit: 100, condition: 'ka.target.resource = secrets' });
      assert.equal(back.items.length, events.length - 1);
      // DuckDB keeps raw events in compressed blocks: their decompressed texts are searched too.
      let texts = '';
      if (s.rawTexts) for await (const x of s.rawTexts()) texts += x + '\n';
      // Every file's bytes, read once per look; ClickHouse's column files (LZ4 blocks) also
      // decompressed. A file removed meanwhile (a merge) is skipped.
      const snapshot = () => s.dataPaths.flatMap(listFiles).flatMap((f) => {
        let bytes: Buffer;
        try { bytes = readFileSync(f); } catch { return []; }
        const bin = f.endsWith('.bin') ? clickhouseBinContents(f) : undefined;
        return [{ f, bytes, bin }];
      });
      let onDisk = snapshot();
      const found = (needle: string) => {
        const n = Buffer.from(needle);
        return texts.includes(needle) || onDisk.some((x) => x.bytes.includes(n) || (x.bin?.includes(n) ?? false));
      };
      // A server may write its parts a little after the insert returned (seen with ClickHouse on
      // a busy machine): wait for the control value before trusting the search.
      for (let i = 0; i < 60 && !found(control); i++) {
        await new Promise((r) => setTimeout(r, 500));
        onDisk = snapshot();
      }
      assert.ok(found(control), 'the control value (a ConfigMap) is found in the files: the search sees stored bytes');
      if (kind === 'clickhouse') {
        const bins = onDisk.filter((x) => x.f.endsWith('.bin'));
        assert.ok(bins.length > 0);
        for (const x of bins) assert.ok(x.bin !== undefined, `${x.f} decompresses`);
      }
      for (const v of values) {
        assert.ok(!found(v), `secret value ${v} is in the ${kind} files`);
        assert.ok(!found(Buffer.from(v).toString('base64')), `base64 of ${v} is in the ${kind} files`);
      }
    });
  }
});

function listFiles(p: string): string[] {
  const st = statSync(p);
  if (!st.isDirectory()) return [p];
  return readdirSync(p).flatMap((x) => listFiles(path.join(p, x)));
}
