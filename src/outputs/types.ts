/** What outputs receive: an alert as stored, plus what each output format needs. */
import type { Alert } from '../engine/engine.ts';
import type { StoredAlert } from '../store/types.ts';

export interface AlertRecord {
  stored: StoredAlert;
  /** 0 (Emergency) .. 7 (Debug). */
  priorityNum: number;
  /** Name of the Vigil source the alert (or its event) came through. */
  sourceName: string;
  /** Falco's JSON alert. */
  json: string;
  /** Set for alerts raised by Vigil's engine. */
  engine?: Alert;
}

export interface Output {
  readonly name: string;
  readonly minPriority: number;
  send(alerts: AlertRecord[]): Promise<void>;
  close(): Promise<void>;
}
