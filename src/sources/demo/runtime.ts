/**
 * `demo`: plays the scenario of scenario.ts in real time (times stamped from the start), as a
 * pull source: each due slice of events is handed to the pipeline like a tail's batch.
 * Quirks: none of a real protocol; `loop: true` replays it with fresh IDs and times.
 */
import type { Logger } from 'pino';
import type { Sink as Pipeline } from '../sink.ts';
import type { DemoConfig } from './config.ts';
import { decodeScenarioEvents } from './decode.ts';
import { type DemoHealth, demoHealth } from './health.ts';
import { SCENARIO_MS, type ScenarioEvent, buildScenario } from './scenario.ts';

export interface DemoDeps {
  name: string;
  cfg: DemoConfig;
  pipeline: Pipeline;
  log: Logger;
}

export class DemoSource {
  private timer?: NodeJS.Timeout;
  private h: DemoHealth = { played: 0, total: 0, rounds: 0 };

  constructor(private readonly d: DemoDeps) {}

  start(): void {
    this.round();
  }

  private round(): void {
    const speed = this.d.cfg.speed;
    const start = Date.now();
    const events: ScenarioEvent[] = buildScenario(start);
    // At speed s playback is s times faster; event times keep the scenario's own spacing.
    if (speed !== 1) for (const e of events) e.atMs = e.atMs / speed;
    this.h = { played: 0, total: events.length, rounds: this.h.rounds + 1 };
    this.d.log.info({ source: this.d.name, events: events.length, seconds: SCENARIO_MS / 1000 / speed }, 'demo: playing a cluster day with an attack woven through');
    let i = 0;
    const tick = (): void => {
      const elapsed = Date.now() - start;
      const due: Array<Record<string, unknown>> = [];
      while (i < events.length && events[i]!.atMs <= elapsed) due.push(events[i++]!.event);
      if (due.length && this.d.pipeline.hasCapacity()) {
        this.d.pipeline.submitDirect(this.d.name, decodeScenarioEvents(due), () => undefined);
        this.h.played += due.length;
      } else if (due.length) i -= due.length; // queue full: try again next tick
      if (i < events.length) this.timer = setTimeout(tick, 100);
      else if (this.d.cfg.loop) this.timer = setTimeout(() => this.round(), 2000);
      else this.d.log.info({ source: this.d.name, events: events.length }, 'demo: scenario finished; Vigil keeps running');
    };
    tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  healthSnapshot(): Record<string, unknown> {
    return demoHealth(this.h);
  }
}
