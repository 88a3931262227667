/**
 * Telemetry of the audit webhook: `vigil_source_*{source="<name>"}` — received (records,
 * bytes), parsed, rejected with reason (`invalid_record`, `too_large`, `unauthorized`,
 * `unsupported_media_type`, `overloaded`, `spool_full`, `bad_body`), requests by status code.
 */
import type { SourceTelemetry, TelemetryHub as Telemetry } from '../sink.ts';

export type WebhookRejectReason = 'invalid_record' | 'too_large' | 'unauthorized' | 'unsupported_media_type' | 'overloaded' | 'spool_full' | 'bad_body' | 'method';

export function webhookTelemetry(t: Telemetry, name: string): SourceTelemetry {
  return t.source(name);
}
