/** Health of the demo: how far the playback is. */
export interface DemoHealth {
  played: number;
  total: number;
  rounds: number;
}

export function demoHealth(h: DemoHealth): Record<string, unknown> {
  return { ...h, done: h.played >= h.total };
}
