/** Telemetry of the demo: the common `vigil_source_*{source="demo"}` counters. */
import type { SourceTelemetry, TelemetryHub as Telemetry } from '../sink.ts';

export function demoTelemetry(t: Telemetry, name: string): SourceTelemetry {
  return t.source(name);
}
