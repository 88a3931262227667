/**
 * A field table whose events carry their field values directly: `{ fields: { 'proc.name':
 * 'cat' } }`. Used by the conformance cases and by tests of the language itself. Field types
 * come from the event description, then from a fallback table (the syscall catalogue, so
 * `evt.is_wait` is a bool as in Falco), then from the JSON value.
 */
import type { FieldInfo, FieldTable, FieldType, ResolvedField } from './types.ts';
import { isFieldError } from './types.ts';

export interface StaticEvent {
  fields?: Record<string, unknown>;
  types?: Record<string, string>;
  missing?: string[];
}

function fieldKey(name: string, arg: string | undefined): string {
  return arg === undefined ? name : `${name}[${arg}]`;
}

function inferType(v: unknown): { type: FieldType; isList: boolean } {
  if (Array.isArray(v)) return { type: v.length && typeof v[0] === 'number' ? 'int64' : 'string', isList: true };
  if (typeof v === 'number') return { type: 'int64', isList: false };
  if (typeof v === 'boolean') return { type: 'bool', isList: false };
  if (v && typeof v === 'object' && 'hex' in v) return { type: 'bytebuf', isList: false };
  return { type: 'string', isList: false };
}

/** Convert a JSON description of a value to the engine's representation. */
function decode(v: unknown): unknown {
  if (v && typeof v === 'object' && !Array.isArray(v) && 'hex' in v) {
    return Uint8Array.from(Buffer.from(String((v as { hex: string }).hex), 'hex'));
  }
  if (Array.isArray(v)) return v.map(decode);
  return v;
}

export function staticTable(desc: StaticEvent, fallback?: FieldTable<unknown>): FieldTable<StaticEvent> {
  const known = new Map<string, FieldInfo>();
  return {
    source: 'syscall',
    fields: () => [...known.values()],
    resolve(name: string, arg: string | undefined): ResolvedField<StaticEvent> | { error: string } {
      const key = fieldKey(name, arg);
      const declared = desc.types?.[key] ?? desc.types?.[name];
      let type: FieldType;
      let isList = false;
      let info: FieldInfo | undefined;
      let matchAny = false;
      const fb = fallback?.resolve(name, arg);
      if (declared) {
        isList = declared.startsWith('list:');
        type = (isList ? declared.slice(5) : declared) as FieldType;
        if (fb && !isFieldError(fb)) info = fb.info;
      } else if (fb && !isFieldError(fb)) {
        type = fb.type;
        isList = fb.isList;
        matchAny = !!fb.matchAny;
        info = fb.info;
      } else if (desc.fields && (key in desc.fields || name in desc.fields)) {
        ({ type, isList } = inferType(desc.fields[key] ?? desc.fields[name]));
      } else if (fallback && fb && isFieldError(fb)) {
        return fb;
      } else {
        type = 'string';
      }
      info ??= { name, type, isList, description: 'test field' };
      return {
        info, text: key, arg, type, isList, matchAny,
        extract(ev: StaticEvent): unknown {
          if (ev.missing?.includes(key) || ev.missing?.includes(name)) return undefined;
          const f = ev.fields;
          if (!f) return undefined;
          if (key in f) return decode(f[key]);
          if (name in f) return decode(f[name]);
          return undefined;
        },
      };
    },
  };
}
