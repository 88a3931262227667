/** Health of a push source: when it last took a batch and the last refusal it gave. */
export class PushHealth {
  lastAcceptedMs?: number;
  lastError?: { atMs: number; status: number; message: string };

  accepted(): void {
    this.lastAcceptedMs = Date.now();
  }

  refused(status: number, message: string): void {
    this.lastError = { atMs: Date.now(), status, message };
  }

  snapshot(): Record<string, unknown> {
    return {
      last_accepted: this.lastAcceptedMs ? new Date(this.lastAcceptedMs).toISOString() : null,
      last_error: this.lastError ? { ...this.lastError, at: new Date(this.lastError.atMs).toISOString(), atMs: undefined } : null,
    };
  }
}
