/**
 * The `syscall` field table: names and types from the catalogue, values from one of two places:
 *
 * - live events (the sensor's, `ev.live`): extracted from the state snapshots (live.ts), with
 *   Falco's semantics;
 * - recorded events (`ev.fields`, as `vigil sensor --record` writes them, or given by tests and
 *   benchmarks): the value recorded under the field's text (`proc.aname[2]`, `evt.arg.flags`
 *   or its canonical `evt.arg[flags]`). Fields that do not depend on the event's content (time
 *   forms, number, source, hostname) are computed when not recorded.
 *
 * `vigil rules fields` lists a field as supported when live events can give it.
 * `setSyscallExtractor` lets a caller override extraction for chosen fields (tests).
 */
import type { LiveData } from '../../events/syscall.ts';
import type { FieldInfo, FieldTable, ResolvedField } from '../types.ts';
import { SYSCALL_FIELDS } from './catalog.ts';
import { LIVE_FIELDS, liveExtractor } from './live.ts';
import { lookupSyscallField } from './lookup.ts';

export interface SyscallEventLike {
  source: 'syscall';
  timeNs: bigint;
  num?: number;
  /** Pre-extracted values by field text (`proc.name`, `proc.aname[2]`, `fd.name`). */
  fields?: Record<string, unknown>;
  /** State snapshots of a live event. */
  live?: LiveData;
}

type Extractor = (field: { name: string; arg?: string; text: string }) => ((ev: SyscallEventLike) => unknown) | undefined;
let custom: Extractor | undefined;

/** Install extractors that take precedence (for chosen fields); undefined removes them. */
export function setSyscallExtractor(x: Extractor | undefined): void {
  custom = x;
}

/** Fields whose value does not depend on what the event recorded. */
const EVENT_INDEPENDENT = new Set([
  'evt.time', 'evt.time.s', 'evt.time.iso8601', 'evt.datetime', 'evt.datetime.s', 'evt.outputtime', 'evt.rawtime',
  'evt.rawtime.s', 'evt.rawtime.ns', 'evt.num', 'evt.source', 'evt.hostname',
]);

/** Field texts resolved so far (what the loaded rules and outputs read), for the recorder. */
const resolvedTexts = new Set<string>();

/** Every field text a rule condition or output compiled against this table has used. */
export function usedSyscallFields(): string[] {
  return [...resolvedTexts];
}

const INFOS: readonly FieldInfo[] = SYSCALL_FIELDS.map((f) => (LIVE_FIELDS.has(f.name) ? f : { ...f, unsupported: true }));

export const syscallFields: FieldTable<SyscallEventLike> = {
  source: 'syscall',
  fields: () => INFOS,
  resolve(name, arg): ResolvedField<SyscallEventLike> | { error: string } {
    const r = lookupSyscallField(name, arg);
    if ('error' in r) return r;
    const text = r.arg === undefined ? r.info.name : `${r.info.name}[${r.arg}]`;
    const written = arg === undefined ? name : `${name}[${arg}]`;
    resolvedTexts.add(text);
    const fromState = custom?.({ name: r.info.name, arg: r.arg, text });
    const live = liveExtractor(r.info.name, r.arg) as ((ev: SyscallEventLike) => unknown) | undefined;
    const computed = EVENT_INDEPENDENT.has(r.info.name) ? live : undefined;
    const extract = fromState ?? ((ev: SyscallEventLike): unknown => {
      const f = ev.fields;
      if (f !== undefined) {
        const v = f[written] ?? f[text];
        return v === undefined && computed ? computed(ev) : v;
      }
      return ev.live !== undefined && live ? live(ev) : undefined;
    });
    const info = INFOS.find((x) => x.name === r.info.name) ?? r.info;
    return {
      info, text: written, arg: r.arg, type: r.info.type,
      isList: !!r.info.isList,
      matchAny: (!!r.info.anyWithoutArg && r.arg === undefined) || EITHER_END.has(r.info.name),
      extract,
    };
  },
};

/** Filter-only fields that hold when either end of the connection does (lists of client and server). */
const EITHER_END = new Set(['fd.ip', 'fd.port', 'fd.net']);
