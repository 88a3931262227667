/**
 * Stored syscall events (`syscall_events`): what both SQL backends share.
 *
 * A stored syscall event is the record `vigil sensor --record` writes (the resolved value of
 * every field the loaded rules and outputs read, plus a baseline), with the host, the source's
 * labels and typed columns for what people filter on. Each column is filled by the `syscall`
 * field table's own extractor reading the record (never by a second reading of the JSON), so
 * a check on such a field can go to SQL and still say what the rule engine would. A value that
 * a column cannot hold exactly (not a string, a lone surrogate, a separator of DuckDB's rows
 * file) marks the row `lossy`: search then never trusts its columns and decides on the record.
 *
 * The identity is a hash of host, time, thread id and event number (`syscallEventId`): one
 * sensor never gives two events the same (time, tid, evt.num), and a resent batch carries the
 * same ones, so writes are idempotent.
 */
import { createHash } from 'node:crypto';
import { SyscallEvent, decodeRecordedEvent } from '../events/syscall.ts';
import { syscallFields } from '../fields/syscall/table.ts';
import { isFieldError } from '../fields/types.ts';
import type { PlanColumn } from './sql.ts';
import type { StoredSyscallEvent } from './types.ts';

type Key = 'evtType' | 'procName' | 'procExepath' | 'procExe' | 'procCmdline' | 'userName' | 'containerId' | 'k8sNsName' | 'k8sPodName' | 'fdName';

export interface SyscallColumn {
  column: string;
  /** The field behind it; the label columns have none (the `syscall` fields have no `vigil.*`). */
  field?: string;
  key: Key | 'cluster' | 'region' | 'team';
  kind: 'string';
}

/** Typed columns of `syscall_events` (after time_ns, id, host), in table order. */
export const SYSCALL_COLUMNS: readonly SyscallColumn[] = [
  { column: 'cluster', key: 'cluster', kind: 'string' },
  { column: 'region', key: 'region', kind: 'string' },
  { column: 'team', key: 'team', kind: 'string' },
  { column: 'evt_type', field: 'evt.type', key: 'evtType', kind: 'string' },
  { column: 'proc_name', field: 'proc.name', key: 'procName', kind: 'string' },
  { column: 'proc_exepath', field: 'proc.exepath', key: 'procExepath', kind: 'string' },
  { column: 'proc_exe', field: 'proc.exe', key: 'procExe', kind: 'string' },
  { column: 'proc_cmdline', field: 'proc.cmdline', key: 'procCmdline', kind: 'string' },
  { column: 'user_name', field: 'user.name', key: 'userName', kind: 'string' },
  { column: 'container_id', field: 'container.id', key: 'containerId', kind: 'string' },
  { column: 'k8s_ns_name', field: 'k8s.ns.name', key: 'k8sNsName', kind: 'string' },
  { column: 'k8s_pod_name', field: 'k8s.pod.name', key: 'k8sPodName', kind: 'string' },
  { column: 'fd_name', field: 'fd.name', key: 'fdName', kind: 'string' },
];

/** Field → column, for the condition planner (sql.ts). */
export const SYSCALL_PLAN_COLUMNS: ReadonlyMap<string, PlanColumn> = new Map(SYSCALL_COLUMNS.filter((c) => c.field).map((c) => [c.field!, c]));

/** Every column a query reads, in table order. */
export const SYSCALL_SELECT = ['time_ns', 'id', 'host', ...SYSCALL_COLUMNS.map((c) => c.column), 'labels', 'lossy', 'record'];

/** The field table's extractor of each non-label column. */
const EXTRACT = new Map(SYSCALL_COLUMNS.filter((c) => c.field).map((c) => {
  const r = syscallFields.resolve(c.field!, undefined);
  if (isFieldError(r)) throw new Error(`store: syscall field ${c.field}: ${r.error}`);
  return [c.key, r.extract] as const;
}));

/** Stable identity of a syscall event. */
export function syscallEventId(host: string, timeNs: bigint, fields: Record<string, unknown>): string {
  const tid = fields['thread.tid'] ?? fields['proc.pid'] ?? '';
  const num = fields['evt.num'] ?? '';
  return createHash('sha256').update(`${host}\u0000${timeNs}\u0000${String(tid)}\u0000${String(num)}`).digest('hex').slice(0, 32);
}

/**
 * The event a condition is evaluated on, from a stored record: exactly what `vigil replay
 * --source syscall` builds from the same line.
 */
export function syscallEventOf(e: Pick<StoredSyscallEvent, 'record'>): SyscallEvent {
  const ev = decodeRecordedEvent(e.record);
  if (typeof ev === 'string') throw new Error(`store: stored syscall record: ${ev}`);
  return ev;
}

export interface PreparedSyscallEvent {
  id: string;
  timeNs: bigint;
  timeText: string;
  host: string;
  /** Column values by key (undefined: NULL). */
  cols: Partial<Record<SyscallColumn['key'], string>>;
  labelsJson?: string;
  lossy: boolean;
  record: string;
}

const RESERVED = /[\u0000\n\r\u001d-\u001f]/;

/** Columns, identity and record text of each event; in-batch duplicates dropped (first wins). */
export function prepareSyscallEvents(batch: readonly StoredSyscallEvent[]): PreparedSyscallEvent[] {
  const seen = new Set<string>();
  const out: PreparedSyscallEvent[] = [];
  for (const e of batch) {
    const ev = syscallEventOf(e);
    const fields = ev.fields ?? {};
    const id = e.id ?? syscallEventId(e.host, e.timeNs, fields);
    if (seen.has(id)) continue;
    seen.add(id);
    let lossy = false;
    const cols: PreparedSyscallEvent['cols'] = {};
    const put = (key: SyscallColumn['key'], v: unknown): void => {
      if (v === undefined) return;
      if (typeof v !== 'string' || RESERVED.test(v) || !(v as string & { isWellFormed(): boolean }).isWellFormed()) {
        lossy = true;
        return;
      }
      cols[key] = v;
    };
    for (const [key, extract] of EXTRACT) put(key, extract(ev));
    const labels = e.labels && Object.keys(e.labels).length ? e.labels : undefined;
    if (labels) {
      for (const k of ['cluster', 'region', 'team'] as const) if (Object.prototype.hasOwnProperty.call(labels, k)) put(k, labels[k]);
    }
    const p: PreparedSyscallEvent = {
      id, timeNs: e.timeNs, timeText: e.timeNs.toString(), host: e.host, cols, lossy,
      // JSON.stringify escapes control characters and lone surrogates: the text is one safe line.
      record: JSON.stringify(e.record),
    };
    if (labels) p.labelsJson = JSON.stringify(labels);
    out.push(p);
  }
  return out;
}

/** A stored row back into a StoredSyscallEvent. */
export function syscallEventFromRow(r: Record<string, unknown>): StoredSyscallEvent {
  const e: StoredSyscallEvent = {
    id: String(r.id), timeNs: BigInt(String(r.time_ns)), host: String(r.host),
    record: JSON.parse(String(r.record)) as Record<string, unknown>,
  };
  const labels = r.labels;
  if (labels !== null && labels !== undefined && labels !== '') e.labels = JSON.parse(String(labels)) as Record<string, string>;
  for (const c of SYSCALL_COLUMNS) {
    if (c.key === 'cluster' || c.key === 'region' || c.key === 'team') continue;
    const v = r[c.column];
    if (v !== null && v !== undefined) e[c.key] = String(v);
  }
  return e;
}

/** Builds a StoredSyscallEvent from a live event's record (the sensor side). */
export function storedSyscallEvent(host: string, timeNs: bigint, record: Record<string, unknown>, labels?: Record<string, string>): StoredSyscallEvent {
  const e: StoredSyscallEvent = { timeNs, host, record };
  if (labels && Object.keys(labels).length) e.labels = labels;
  return e;
}
