/**
 * An in-memory `Store` (storage `type: memory`): idempotent like the real backends, nothing
 * kept across restarts. Used for tests and for running without a database; queries are
 * minimal (no condition filtering).
 */
import { compileCondition } from '../store/condition.ts';
import { syscallEventId, syscallEventOf } from '../store/syscall.ts';
import type {
  HistogramBucket, Page, SearchQuery, Store, StoredAlert, StoredEvent, StoredSyscallEvent, SyscallSearchQuery, TimeRange,
} from '../store/types.ts';

export class MemoryStore implements Store {
  readonly kind = 'duckdb' as const;
  readonly events = new Map<string, StoredEvent>();
  readonly alerts = new Map<string, StoredAlert>();
  readonly syscallEvents = new Map<string, StoredSyscallEvent>();
  /** Artificial latency per write (tests of back-pressure). */
  writeDelayMs = 0;

  async open(): Promise<void> {}
  async close(): Promise<void> {}

  async writeEvents(batch: StoredEvent[]): Promise<number> {
    if (this.writeDelayMs) await new Promise((r) => setTimeout(r, this.writeDelayMs));
    let n = 0;
    for (const e of batch) {
      const k = `${e.auditId}\u0000${e.stage}`;
      if (!this.events.has(k)) { this.events.set(k, e); n++; }
    }
    return n;
  }

  async writeAlerts(batch: StoredAlert[]): Promise<number> {
    let n = 0;
    for (const a of batch) if (!this.alerts.has(a.id)) { this.alerts.set(a.id, a); n++; }
    return n;
  }

  async writeSyscallEvents(batch: StoredSyscallEvent[]): Promise<number> {
    let n = 0;
    for (const e of batch) {
      const id = e.id ?? syscallEventId(e.host, e.timeNs, (e.record.fields ?? {}) as Record<string, unknown>);
      if (!this.syscallEvents.has(id)) { this.syscallEvents.set(id, { ...e, id }); n++; }
    }
    return n;
  }

  /** Unlike the other queries here, the condition is applied (the compiled one, as the SQL stores do). */
  async searchSyscallEvents(q: SyscallSearchQuery): Promise<Page<StoredSyscallEvent>> {
    const cond = q.condition?.trim() ? compileCondition(q.condition, [], 'syscall') : undefined;
    const xs = [...this.syscallEvents.values()].filter((e) => !cond || cond.test(syscallEventOf(e)));
    return this.page(xs, { ...q, limit: q.limit });
  }

  private page<T extends { timeNs: bigint }>(xs: Iterable<T>, q: SearchQuery): Page<T> {
    const items = [...xs].filter((x) => x.timeNs >= q.range.fromNs && x.timeNs < q.range.toNs)
      .sort((a, b) => (q.order === 'asc' ? Number(a.timeNs - b.timeNs) : Number(b.timeNs - a.timeNs)));
    return { items: items.slice(0, q.limit) };
  }

  async searchEvents(q: SearchQuery): Promise<Page<StoredEvent>> { return this.page(this.events.values(), q); }
  async searchAlerts(q: SearchQuery): Promise<Page<StoredAlert>> { return this.page(this.alerts.values(), q); }
  async histogram(_t: 'events' | 'alerts', _r: TimeRange): Promise<HistogramBucket[]> { return []; }
  async topN(): Promise<{ value: string; count: number }[]> { return []; }
  async countByPriority(range: TimeRange): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const a of this.alerts.values()) if (a.timeNs >= range.fromNs && a.timeNs < range.toNs) out[a.priority] = (out[a.priority] ?? 0) + 1;
    return out;
  }
  async getEvent(auditId: string, stage?: string): Promise<StoredEvent | undefined> {
    if (stage !== undefined) return this.events.get(`${auditId}\u0000${stage}`);
    for (const e of this.events.values()) if (e.auditId === auditId) return e;
    return undefined;
  }
  async getAlert(id: string): Promise<StoredAlert | undefined> { return this.alerts.get(id); }
  async enforceRetention(): Promise<void> {}
  async counts(): Promise<{ events: number; alerts: number }> { return { events: this.events.size, alerts: this.alerts.size }; }
}
