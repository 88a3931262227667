/** Health of the syscall sensor: running or not (and why), and whether it drops events. */
import type { SensorStats } from './runtime.ts';

export interface SensorHealth {
  ok: boolean;
  /** `restarting`: bpftrace died and the sensor starts again after a backoff (`vigil run`). */
  state: 'starting' | 'running' | 'restarting' | 'stopped' | 'unavailable';
  why?: string;
  /** Times the sensor was started again after bpftrace died (`vigil run`). */
  restarts?: number;
  /** `store_events: all`: events written to storage, dropped (storage behind or failing), waiting. */
  stored?: { events: number; dropped: number; queued: number };
  events: number;
  drops: number;
  processes: number;
  containers: number;
}

export function sensorHealth(state: SensorHealth['state'], stats?: SensorStats, why?: string): SensorHealth {
  return {
    ok: state === 'running' || state === 'starting',
    state, ...(why ? { why } : {}),
    events: stats?.events ?? 0, drops: stats?.drops.total ?? 0,
    processes: stats?.processes ?? 0, containers: stats?.containers ?? 0,
  };
}
