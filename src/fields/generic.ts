/**
 * Fields every event source offers, whatever it is: the `evt.*` fields Falco gives every
 * plugin-defined source (time in its several forms, number, source, hostname, plugin name),
 * and Vigil's own `vigil.<label>` fields that read the enrichment labels.
 *
 * Time fields: `evt.time`, `evt.time.s`, `evt.time.iso8601`, `evt.datetime` and
 * `evt.datetime.s` all extract the event time as a bigint (ns since the epoch) and differ only
 * in their text form; their JSON form (`output_fields`) is that integer, as in Falco. Local
 * forms use the process time zone.
 */
import { hostname as osHostname } from 'node:os';
import type { FieldInfo } from './types.ts';
import type { VigilEvent } from '../events/event.ts';

/** A field definition before it is bound to an argument. */
export interface FieldDef<E> {
  info: FieldInfo;
  extract(ev: E): unknown;
  toText?(v: unknown): string;
  toJson?(v: unknown): unknown;
}

let currentHostname: string = safeHostname();

function safeHostname(): string {
  try {
    return osHostname();
  } catch {
    return 'localhost';
  }
}

/** Override what `evt.hostname` yields (Falco: FALCO_HOSTNAME). */
export function setHostname(name: string): void {
  currentHostname = name;
}

export function getHostname(): string {
  return currentHostname;
}

// ---------------------------------------------------------------------------------------------
// Time formatting

const NS_PER_S = 1_000_000_000n;

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

function pad9(n: number): string {
  return String(n).padStart(9, '0');
}

/** Split ns since the epoch into (ms for Date, ns within the second). */
function split(ns: bigint): { date: Date; frac: number } {
  let s = ns / NS_PER_S;
  let frac = ns % NS_PER_S;
  if (frac < 0n) {
    frac += NS_PER_S;
    s -= 1n;
  }
  return { date: new Date(Number(s) * 1000), frac: Number(frac) };
}

function asNs(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.trunc(v));
  return undefined;
}

/** `HH:MM:SS.nnnnnnnnn` (local), or without the fraction. */
export function formatTime(ns: bigint, withNs = true): string {
  const { date, frac } = split(ns);
  const t = `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
  return withNs ? `${t}.${pad9(frac)}` : t;
}

/** `YYYY-MM-DD HH:MM:SS.nnnnnnnnn` (local), or without the fraction. */
export function formatDateTime(ns: bigint, withNs = true): string {
  const { date } = split(ns);
  const d = `${String(date.getFullYear()).padStart(4, '0')}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())}`;
  return `${d} ${formatTime(ns, withNs)}`;
}

/** `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (UTC). */
export function formatIso8601(ns: bigint): string {
  const { date, frac } = split(ns);
  const d = `${String(date.getUTCFullYear()).padStart(4, '0')}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}`;
  return `${d}T${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())}.${pad9(frac)}Z`;
}

function timeField<E extends VigilEvent>(name: string, description: string, fmt: (ns: bigint) => string): FieldDef<E> {
  return {
    info: { name, type: 'abstime', description },
    extract: (ev) => ev.timeNs,
    toText: (v) => {
      const ns = asNs(v);
      return ns === undefined ? String(v) : fmt(ns);
    },
    toJson: (v) => v,
  };
}

export interface GenericFieldOptions<E> {
  /** Name of the plugin Falco would use for this source (`evt.pluginname`); missing if unset. */
  pluginName?: string;
  /** Summary of the event as the plugin prints it (`evt.plugininfo`); missing if unset. */
  pluginInfo?: (ev: E) => string | undefined;
}

/** The `evt.*` fields of a plugin-defined source. */
export function genericEventFields<E extends VigilEvent>(source: string, opts: GenericFieldOptions<E> = {}): Array<FieldDef<E>> {
  const { pluginName, pluginInfo } = opts;
  return [
    {
      info: { name: 'evt.num', type: 'uint64', description: 'Sequence number of the event.' },
      extract: (ev) => {
        const n = (ev as { num?: unknown }).num;
        return typeof n === 'number' || typeof n === 'bigint' ? n : undefined;
      },
    },
    timeField('evt.time', 'Event time; printed as local HH:MM:SS with nanoseconds.', (ns) => formatTime(ns, true)),
    timeField('evt.time.s', 'Event time; printed as local HH:MM:SS.', (ns) => formatTime(ns, false)),
    timeField('evt.time.iso8601', 'Event time; printed in ISO 8601 form in UTC, with nanoseconds.', formatIso8601),
    timeField('evt.datetime', 'Event time; printed as local date and time with nanoseconds.', (ns) => formatDateTime(ns, true)),
    timeField('evt.datetime.s', 'Event time; printed as local date and time without nanoseconds.', (ns) => formatDateTime(ns, false)),
    {
      info: { name: 'evt.rawtime', type: 'abstime', description: 'Event time in nanoseconds since the epoch.' },
      extract: (ev) => ev.timeNs,
    },
    {
      info: { name: 'evt.rawtime.s', type: 'abstime', description: 'Whole seconds of the event time since the epoch.' },
      extract: (ev) => Number(ev.timeNs / NS_PER_S),
    },
    {
      info: { name: 'evt.rawtime.ns', type: 'abstime', description: 'Nanoseconds within the second of the event time.' },
      extract: (ev) => Number(ev.timeNs % NS_PER_S),
      toText: (v) => (typeof v === 'number' ? pad9(v) : String(v)),
    },
    {
      info: { name: 'evt.source', type: 'string', description: 'Name of the event source (e.g. k8s_audit).' },
      extract: () => source,
    },
    {
      info: { name: 'evt.hostname', type: 'string', description: 'Host name of the machine running Vigil (can be overridden).' },
      extract: () => currentHostname,
    },
    {
      info: { name: 'evt.pluginname', type: 'string', description: 'Name of the Falco plugin that would produce events of this source.' },
      extract: () => pluginName,
    },
    {
      info: { name: 'evt.plugininfo', type: 'string', description: 'One-line summary of the event as its plugin formats it.' },
      extract: pluginInfo ? (ev) => pluginInfo(ev) : () => undefined,
    },
    {
      info: { name: 'evt.is_async', type: 'bool', description: 'True for asynchronous (meta) events; always false here.' },
      extract: () => false,
    },
    {
      info: { name: 'evt.asynctype', type: 'string', description: 'Type of an asynchronous event; missing for ordinary events.' },
      extract: () => undefined,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// vigil.<label>

/** `vigil.cluster`, `vigil[cluster]`: the enrichment label of that name. */
export const LABEL_FIELD_INFO: FieldInfo = {
  name: 'vigil',
  type: 'string',
  arg: 'required',
  argKind: 'key',
  dotArg: true,
  description: 'Enrichment label of the event, named by the argument: vigil.cluster, vigil.region, vigil.team, ...',
};

export function labelExtractor(label: string): (ev: VigilEvent) => string | undefined {
  return (ev) => {
    const labels = ev.labels;
    if (labels === undefined) return undefined;
    return Object.prototype.hasOwnProperty.call(labels, label) ? labels[label] : undefined;
  };
}

/** If `name` is a dotted label field (`vigil.team`), the label name. */
export function dottedLabel(name: string): string | undefined {
  return name.length > 6 && name.startsWith('vigil.') ? name.slice(6) : undefined;
}
