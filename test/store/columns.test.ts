/**
 * The typed columns read their fields' paths directly (columns.ts); they must give exactly
 * what the rules' extractors give, on real traces and on events with odd values at every path.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { AuditEvent } from '../../src/events/k8saudit.ts';
import { COLUMN_READERS } from '../../src/store/columns.ts';
import { generateEvents, traceEvents } from './fixtures.ts';

function same(raw: Record<string, unknown>): void {
  const ev = new AuditEvent(raw, 1n);
  for (const r of COLUMN_READERS) {
    assert.deepEqual(r.direct(raw), r.extractor(ev), `${r.field} on ${JSON.stringify(raw).slice(0, 300)}`);
  }
}

const odd = fc.oneof(
  fc.constant(undefined), fc.constant(null), fc.string(), fc.constant(''), fc.integer(), fc.double(), fc.boolean(),
  fc.constant([]), fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.object())), fc.object(),
  fc.constant('constructor'), fc.constant({ constructor: 1, toString: 'x' }),
);

describe('store columns', () => {
  test('direct path readers equal the field extractors on traces and generated events', () => {
    for (const ev of traceEvents()) same(ev.raw);
    for (const ev of generateEvents(2000, 7)) same(ev.raw);
  });

  test('direct path readers equal the field extractors on odd values', () => {
    const holder = fc.oneof(odd, fc.record({
      username: odd, groups: odd, resource: odd, subresource: odd, namespace: odd, name: odd, code: odd,
      'authorization.k8s.io/decision': odd,
    }, { requiredKeys: [] }));
    fc.assert(fc.property(
      fc.record({ auditID: fc.oneof(fc.string(), fc.constant(undefined)), verb: odd, userAgent: odd, user: holder, objectRef: holder, responseStatus: holder, annotations: holder }, { requiredKeys: [] }),
      (raw) => same(raw as Record<string, unknown>),
    ), { numRuns: 3000 });
  });
});
