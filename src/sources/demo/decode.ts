/** The demo's events are built as objects; decoding is the same check any audit event gets. */
import { AuditEvent, type DecodeError, collectAuditValue } from '../../events/k8saudit.ts';

export function decodeScenarioEvents(objs: Array<Record<string, unknown>>): AuditEvent[] {
  const out: Array<AuditEvent | DecodeError> = [];
  for (const o of objs) collectAuditValue(o, 'demo', undefined, out);
  return out.filter((x): x is AuditEvent => x instanceof AuditEvent);
}
