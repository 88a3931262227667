/** Health of the syscall sensor: running or not (and why), and whether it drops events. */
import type { SensorStats } from './runtime.ts';

export interface SensorHealth {
  ok: boolean;
  state: 'starting' | 'running' | 'stopped' | 'unavailable';
  why?: string;
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
