/** `console` output: Falco's text line (coloured on a terminal) or JSON alert on stdout. */
import { textLine } from '../cli/replay.ts';
import type { AlertRecord, Output } from './types.ts';

export class ConsoleOutput implements Output {
  constructor(
    readonly name: string,
    readonly minPriority: number,
    private readonly format: 'text' | 'json',
    private readonly write: (s: string) => void = (s) => void process.stdout.write(s),
    private readonly color = !!process.stdout.isTTY,
  ) {}

  async send(alerts: AlertRecord[]): Promise<void> {
    let s = '';
    for (const a of alerts) {
      if (this.format === 'json') s += a.json + '\n';
      else if (a.engine) s += textLine(a.engine, this.color) + labelSuffix(a) + '\n';
      else s += `${a.stored.output}${labelSuffix(a)}\n`;
    }
    if (s) this.write(s);
  }

  async close(): Promise<void> {}
}

function labelSuffix(a: AlertRecord): string {
  const l = a.stored.labels;
  if (!l) return '';
  const parts = Object.entries(l).map(([k, v]) => `${k}=${v}`);
  return parts.length ? ` [${parts.join(' ')}]` : '';
}
