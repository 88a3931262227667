/**
 * Telemetry of the file tail: `vigil_source_*{source="<name>"}` — received (lines, bytes),
 * parsed, rejected with reason (`invalid_record`, `line_too_long`); per file lag (bytes not yet
 * acknowledged) as `vigil_tail_lag_bytes{source,file}`, read at scrape time.
 */
import type { SourceTelemetry, TelemetryHub as Telemetry } from '../sink.ts';

export function tailTelemetry(t: Telemetry, name: string, lag: () => Array<[string, number]>): SourceTelemetry {
  t.gauge(`vigil_tail_lag_bytes_${name.replace(/[^A-Za-z0-9_]/g, '_')}`, `Bytes of each tailed file not yet acknowledged (source ${name}).`, ['file'], () =>
    lag().map(([file, n]) => [{ file }, n]));
  return t.source(name);
}
