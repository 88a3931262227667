/**
 * The `syscall` field table: names and types from the catalogue. Extraction reads values a
 * syscall event carries (`ev.fields`, as recorded by the sensor or given by tests); the live
 * sensor's state-backed extractors plug in through `setSyscallExtractor`.
 */
import type { FieldTable, ResolvedField } from '../types.ts';
import { SYSCALL_FIELDS } from './catalog.ts';
import { lookupSyscallField } from './lookup.ts';

export interface SyscallEventLike {
  source: 'syscall';
  timeNs: bigint;
  /** Pre-extracted values by field text (`proc.name`, `proc.aname[2]`, `fd.name`). */
  fields?: Record<string, unknown>;
}

type Extractor = (field: { name: string; arg?: string; text: string }) => ((ev: SyscallEventLike) => unknown) | undefined;
let custom: Extractor | undefined;

/** Install state-backed extractors (the sensor does this); unknown fields fall back to `ev.fields`. */
export function setSyscallExtractor(x: Extractor | undefined): void {
  custom = x;
}

export const syscallFields: FieldTable<SyscallEventLike> = {
  source: 'syscall',
  fields: () => SYSCALL_FIELDS,
  resolve(name, arg): ResolvedField<SyscallEventLike> | { error: string } {
    const r = lookupSyscallField(name, arg);
    if ('error' in r) return r;
    const text = r.arg === undefined ? r.info.name : `${r.info.name}[${r.arg}]`;
    const written = arg === undefined ? name : `${name}[${arg}]`;
    const fromState = custom?.({ name: r.info.name, arg: r.arg, text });
    return {
      info: r.info, text: written, arg: r.arg, type: r.info.type,
      isList: !!r.info.isList,
      matchAny: !!r.info.anyWithoutArg && r.arg === undefined,
      extract: fromState ?? ((ev) => ev.fields?.[written] ?? ev.fields?.[text]),
    };
  },
};
