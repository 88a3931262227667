/**
 * Telemetry of the syscall sensor as Prometheus metrics, read from Sensor.stats() when
 * /metrics is scraped (nothing is counted per event here):
 *
 *   vigil_sensor_records_total{source}            records read from bpftrace
 *   vigil_sensor_events_total{source}             events produced (after state)
 *   vigil_sensor_dropped_total{source,reason}     kernel | queue | parse
 *   vigil_sensor_cpu_seconds_total{source,process} bpftrace | vigil
 *   vigil_sensor_processes{source}, vigil_sensor_containers{source}
 *   vigil_sensor_reordered_total{source,kind}     early_child | deferred | lost_exec | late_before_exec | late_after_exit
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Sensor, SensorStats } from './runtime.ts';

/** Register the sensor's metrics in `registry`, labelled with the source name. */
export function registerSensorMetrics(registry: Registry, source: string, sensor: Pick<Sensor, 'stats'>): void {
  const registers = [registry];
  let last: SensorStats | undefined;
  const snap = (): SensorStats => (last = sensor.stats());
  /** A counter fed with the growth of a cumulative value since the last scrape. */
  const counter = (name: string, help: string, labelNames: string[], read: (s: SensorStats) => Array<[Record<string, string>, number]>): void => {
    const seen = new Map<string, number>();
    new Counter({
      name, help, labelNames, registers,
      collect() {
        for (const [labels, value] of read(last ?? snap())) {
          const key = JSON.stringify(labels);
          const d = value - (seen.get(key) ?? 0);
          if (d > 0) this.inc({ ...labels }, d);
          seen.set(key, value);
        }
      },
    });
  };
  new Gauge({
    name: 'vigil_sensor_processes', help: 'Processes in the sensor\'s table.', labelNames: ['source'], registers,
    collect() { this.set({ source }, snap().processes); },
  });
  new Gauge({
    name: 'vigil_sensor_containers', help: 'Containers the sensor has seen.', labelNames: ['source'], registers,
    collect() { this.set({ source }, (last ?? snap()).containers); },
  });
  counter('vigil_sensor_records_total', 'Records read from bpftrace.', ['source'], (s) => [[{ source }, s.records]]);
  counter('vigil_sensor_events_total', 'Syscall events produced.', ['source'], (s) => [[{ source }, s.events]]);
  counter('vigil_sensor_dropped_total', 'Events lost: kernel (perf buffer full), queue (consumer behind), parse (unreadable line).',
    ['source', 'reason'], (s) => [[{ source, reason: 'kernel' }, s.drops.kernel], [{ source, reason: 'queue' }, s.drops.queue], [{ source, reason: 'parse' }, s.drops.parse]]);
  counter('vigil_sensor_cpu_seconds_total', 'CPU used by bpftrace and by this process since the sensor started.', ['source', 'process'],
    (s) => [[{ source, process: 'bpftrace' }, s.bpftraceCpuSeconds], [{ source, process: 'vigil' }, s.processCpuSeconds]]);
  counter('vigil_sensor_reordered_total', 'Records another CPU delivered late, by how the state handled them.', ['source', 'kind'], (s) => [
    [{ source, kind: 'early_child' }, s.reorder.earlyChildren], [{ source, kind: 'deferred' }, s.reorder.deferred],
    [{ source, kind: 'lost_exec' }, s.reorder.lostExecs], [{ source, kind: 'late_before_exec' }, s.reorder.lateBeforeExec],
    [{ source, kind: 'late_after_exit' }, s.reorder.lateAfterExit],
  ]);
}
