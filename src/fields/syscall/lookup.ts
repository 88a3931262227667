/**
 * Name resolution for syscall fields, following the way Falco matches a field as written in a
 * rule against its field table:
 *
 * 1. an exact catalogue name (`proc.name`, `evt.abspath.src`);
 * 2. otherwise the longest catalogue name N such that the text is `N.<rest>` and N takes a dotted
 *    argument (`evt.arg.flags` -> evt.arg with argument `flags`);
 * 3. otherwise the field does not exist.
 *
 * The argument is then checked against the field: required/allowed/forbidden, index or key, and
 * the bracket/dot form each field accepts.
 */

import type { FieldInfo } from '../types.ts';
import { BRACKET_ARG_MUST_BE_INDEX, DOT_ONLY_ARG_FIELDS, SYSCALL_FIELDS } from './catalog.ts';

const BY_NAME: ReadonlyMap<string, FieldInfo> = new Map(SYSCALL_FIELDS.map((x) => [x.name, x]));

/** Dotted-argument fields, longest name first so the first prefix hit is the longest. */
const DOT_ARG_FIELDS: readonly FieldInfo[] = SYSCALL_FIELDS.filter((x) => x.dotArg).sort(
  (a, b) => b.name.length - a.name.length,
);

const INDEX_RE = /^\d+$/;

export type SyscallLookupResult = { info: FieldInfo; arg?: string } | { error: string };

export function nonexistentField(name: string): string {
  return `filter_check called with nonexistent field ${name}`;
}

/**
 * Resolve a field as written in a rule. `name` is the dotted name (it may carry a dotted argument,
 * `evt.arg.flags`), `arg` the bracket argument if any (`''` for `[]`/`[""]`, undefined for none).
 */
export function lookupSyscallField(name: string, arg: string | undefined): SyscallLookupResult {
  let info = BY_NAME.get(name);
  let dotted: string | undefined;

  if (!info) {
    for (const cand of DOT_ARG_FIELDS) {
      if (name.length > cand.name.length + 1 && name.startsWith(cand.name + '.')) {
        info = cand;
        dotted = name.slice(cand.name.length + 1);
        break;
      }
    }
  }
  if (!info) return { error: nonexistentField(arg === undefined ? name : `${name}[${arg}]`) };

  if (dotted !== undefined && arg !== undefined) {
    return { error: `field '${info.name}' takes one argument, but both '.${dotted}' and '[${arg}]' were given` };
  }

  const mode = info.arg ?? 'none';
  const given = dotted ?? arg;

  if (given === undefined) {
    if (mode === 'required') {
      return { error: `filter_check called without argument for field ${info.name}: it requires one` };
    }
    return { info };
  }

  if (mode === 'none') {
    return { error: `field '${info.name}' does not take an argument, but '${given}' was given` };
  }
  if (arg !== undefined && DOT_ONLY_ARG_FIELDS.has(info.name)) {
    return { error: `field '${info.name}' takes its argument after a dot (${info.name}.X), not in brackets` };
  }

  const kind = info.argKind ?? 'any';
  const mustBeIndex = kind === 'index' || (arg !== undefined && BRACKET_ARG_MUST_BE_INDEX.has(info.name));
  if (mustBeIndex && !INDEX_RE.test(given)) {
    return { error: `field '${info.name}' needs a numeric index argument, got '${given}'` };
  }
  if (given === '' && kind !== 'key') {
    return { error: `field '${info.name}' was given an empty argument` };
  }
  return { info, arg: given };
}
