/**
 * A Store that talks to a running Vigil's store API (api.ts): what the CLI uses while
 * `vigil run` holds the database. Queries and alert writes only; events are written by the
 * server's own pipeline.
 */
import { toJson } from './api.ts';
import { ConditionError } from './condition.ts';
import { StoreQueryError, decodeFields, encodeFields } from './sqlstore.ts';
import type {
  HistogramBucket, Page, SearchQuery, Store, StoredAlert, StoredEvent, StoredSyscallEvent, SyscallSearchQuery, TimeRange,
} from './types.ts';

/** An error answered by the server (the message is the server's). */
export class RemoteStoreError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'RemoteStoreError';
  }
}

type J = Record<string, unknown>;

function big(v: unknown): bigint {
  return BigInt(String(v));
}

function event(j: J): StoredEvent {
  const { time: _t, ...rest } = j;
  return { ...(rest as unknown as StoredEvent), timeNs: big(j.timeNs) };
}

function syscallEvent(j: J): StoredSyscallEvent {
  const { time: _t, ...rest } = j;
  return { ...(rest as unknown as StoredSyscallEvent), timeNs: big(j.timeNs) };
}

function alert(j: J): StoredAlert {
  const { time: _t, ...rest } = j;
  return { ...(rest as unknown as StoredAlert), timeNs: big(j.timeNs), outputFields: decodeFields(JSON.stringify(j.outputFields ?? {})) };
}

export class RemoteStore implements Store {
  /** The server's backend, known once open. */
  kind: 'duckdb' | 'clickhouse' = 'duckdb';

  /**
   * `base` is the API's URL, e.g. `http://127.0.0.1:8765/api/store`; `token` the bearer token
   * the server requires (its `auth_token`), if any.
   */
  constructor(readonly base: string, private readonly token?: string) {}

  async open(): Promise<void> {
    try {
      await this.counts();
    } catch (e) {
      if (e instanceof RemoteStoreError && e.status === 401) {
        throw new RemoteStoreError(`the Vigil server at ${this.base.replace(/\/api\/store$/, '')} requires its auth_token for the store API: ${this.token ? 'VIGIL_AUTH_TOKEN is not it' : 'set VIGIL_AUTH_TOKEN'}`, 401);
      }
      if (e instanceof RemoteStoreError && e.status === 404) {
        throw new RemoteStoreError(`the Vigil server at ${this.base.replace(/\/api\/store$/, '')} does not serve the store API (${this.base}); stop it to use the store directly`, 404);
      }
      throw e;
    }
  }

  async close(): Promise<void> {}

  private async call(path: string, body?: unknown): Promise<J> {
    let res: Response;
    try {
      const auth: Record<string, string> = this.token ? { Authorization: `Bearer ${this.token}` } : {};
      res = await fetch(`${this.base}/${path}`, body === undefined ? { headers: auth } : {
        method: 'POST', headers: { 'Content-Type': 'application/json', ...auth }, body: toJson(body),
      });
    } catch (e) {
      throw new RemoteStoreError(`cannot reach the Vigil server at ${this.base}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
    }
    const text = await res.text();
    let j: J;
    try {
      j = JSON.parse(text) as J;
    } catch {
      throw new RemoteStoreError(`the Vigil server at ${this.base} answered ${res.status} without JSON${res.status === 404 ? ' (does it serve the store API?)' : ''}`, res.status);
    }
    if (!res.ok) {
      const msg = String(j.error ?? `HTTP ${res.status}`);
      if (j.kind === 'condition') throw new ConditionError(msg);
      if (j.kind === 'query') throw new StoreQueryError(msg);
      throw new RemoteStoreError(msg, res.status);
    }
    return j;
  }

  private rangeBody(r: TimeRange): J {
    return { from: r.fromNs.toString(), to: r.toNs.toString() };
  }

  private searchBody(q: SearchQuery | SyscallSearchQuery): J {
    const b: J = { ...this.rangeBody(q.range), limit: q.limit, order: q.order ?? 'desc', bigint: 'tagged' };
    if (q.condition !== undefined) b.condition = q.condition;
    if (q.cursor !== undefined) b.cursor = q.cursor;
    if ('alerts' in q && q.alerts) {
      if (q.alerts.rules) b.rule = q.alerts.rules;
      if (q.alerts.minPriority !== undefined) b.min_priority = String(q.alerts.minPriority);
      if (q.alerts.source !== undefined) b.source = q.alerts.source;
      if (q.alerts.hunt !== undefined) b.hunt = String(q.alerts.hunt);
    }
    return b;
  }

  writeEvents(_batch: StoredEvent[]): Promise<number> {
    return Promise.reject(new RemoteStoreError('events are written by the server\'s pipeline, not through the store API'));
  }

  async writeAlerts(batch: StoredAlert[]): Promise<number> {
    if (batch.length === 0) return 0;
    const body = batch.map((a) => ({ ...a, timeNs: a.timeNs.toString(), outputFields: JSON.parse(encodeFields(a.outputFields)) as unknown }));
    return Number((await this.call('alerts', body)).written);
  }

  writeSyscallEvents(_batch: StoredSyscallEvent[]): Promise<number> {
    return Promise.reject(new RemoteStoreError('syscall events are written by the server\'s sensor, not through the store API'));
  }

  async searchSyscallEvents(q: SyscallSearchQuery): Promise<Page<StoredSyscallEvent>> {
    const j = await this.call('syscall_events', this.searchBody(q));
    const page: Page<StoredSyscallEvent> = { items: (j.items as J[]).map(syscallEvent) };
    if (typeof j.cursor === 'string') page.cursor = j.cursor;
    return page;
  }

  async searchEvents(q: SearchQuery): Promise<Page<StoredEvent>> {
    const j = await this.call('events', this.searchBody(q));
    const page: Page<StoredEvent> = { items: (j.items as J[]).map(event) };
    if (typeof j.cursor === 'string') page.cursor = j.cursor;
    return page;
  }

  async searchAlerts(q: SearchQuery): Promise<Page<StoredAlert>> {
    const j = await this.call('alerts', this.searchBody(q));
    const page: Page<StoredAlert> = { items: (j.items as J[]).map(alert) };
    if (typeof j.cursor === 'string') page.cursor = j.cursor;
    return page;
  }

  async histogram(table: 'events' | 'alerts', range: TimeRange, condition?: string, buckets?: number): Promise<HistogramBucket[]> {
    const j = await this.call('histogram', { table, ...this.rangeBody(range), condition, buckets });
    return (j.buckets as J[]).map((b) => ({ startNs: big(b.startNs), count: Number(b.count) }));
  }

  async topN(table: 'events' | 'alerts', column: string, range: TimeRange, n: number, condition?: string): Promise<{ value: string; count: number }[]> {
    const j = await this.call('top', { table, column, n, ...this.rangeBody(range), condition });
    return j.values as { value: string; count: number }[];
  }

  async countByPriority(range: TimeRange, condition?: string): Promise<Record<string, number>> {
    return (await this.call('priorities', { ...this.rangeBody(range), condition })).counts as Record<string, number>;
  }

  async getEvent(auditId: string, stage?: string): Promise<StoredEvent | undefined> {
    try {
      return event(await this.call(`events/${encodeURIComponent(auditId)}${stage !== undefined ? `?stage=${encodeURIComponent(stage)}` : ''}`));
    } catch (e) {
      if (e instanceof RemoteStoreError && e.status === 404) return undefined;
      throw e;
    }
  }

  async getAlert(id: string): Promise<StoredAlert | undefined> {
    try {
      return alert(await this.call(`alerts/${encodeURIComponent(id)}?bigint=tagged`));
    } catch (e) {
      if (e instanceof RemoteStoreError && e.status === 404) return undefined;
      throw e;
    }
  }

  enforceRetention(_policy: Parameters<Store['enforceRetention']>[0]): Promise<void> {
    return Promise.reject(new RemoteStoreError('retention is enforced by the server'));
  }

  async counts(): Promise<{ events: number; alerts: number }> {
    const j = await this.call('counts');
    if (j.kind === 'duckdb' || j.kind === 'clickhouse') this.kind = j.kind;
    return { events: Number(j.events), alerts: Number(j.alerts) };
  }
}
