/**
 * Telemetry of the Falco alert intake: `vigil_source_*{source="<name>"}` — received alerts and
 * bytes, parsed, rejected with reason (`invalid_alert`, `too_large`, `unauthorized`,
 * `overloaded`, `spool_full`, `method`), requests by status code.
 */
import type { SourceTelemetry, TelemetryHub as Telemetry } from '../sink.ts';

export function falcoTelemetry(t: Telemetry, name: string): SourceTelemetry {
  return t.source(name);
}
