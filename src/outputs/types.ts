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
  /**
   * Deliver the alerts; resolves once they are delivered, rejects (preferably with an
   * OutputSendError, see retry.ts) when they are not. `signal` aborts a send in progress
   * (the service is stopping).
   */
  send(alerts: AlertRecord[], signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
  /**
   * Set when `send` only queues the alerts (RetryingOutput): the output counts its own sent,
   * failed and retried alerts, and the pipeline does not count them again.
   */
  readonly countsOwnTelemetry?: boolean;
}
