/**
 * Recorded syscall events (JSON lines written by `vigil sensor --record`): each line an
 * object `{ "time": <ns>, "fields": { "<field>": value, ... } }`.
 */
import { createInterface } from 'node:readline';
import type { VigilEvent } from './event.ts';

export class SyscallEvent implements VigilEvent {
  readonly source = 'syscall' as const;
  num?: number;
  labels?: Record<string, string>;
  constructor(readonly timeNs: bigint, readonly fields: Record<string, unknown>) {}
}

export interface SyscallDecodeError { error: string; origin: string; line?: number }

export async function* readSyscallStream(input: NodeJS.ReadableStream, origin: string): AsyncGenerator<SyscallEvent | SyscallDecodeError> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    if (!text.trim()) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      yield { error: `invalid JSON: ${(e as Error).message}`, origin, line };
      continue;
    }
    const o = obj as { time?: unknown; fields?: unknown };
    if (!o || typeof o !== 'object' || typeof o.fields !== 'object' || o.fields === null) {
      yield { error: 'not a syscall event', origin, line };
      continue;
    }
    const t = typeof o.time === 'string' || typeof o.time === 'number' ? BigInt(o.time) : 0n;
    yield new SyscallEvent(t, o.fields as Record<string, unknown>);
  }
}
