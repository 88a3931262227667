/**
 * What `vigil sensor --record` keeps of a live event: the resolved value of every field the
 * loaded rules and outputs read (the table remembers each field text it resolved), plus a
 * baseline that describes the event for search and for people. Replayed through the same
 * rules (`vigil replay --source syscall`), such a record raises the same alerts as the live
 * event did: every check and every output placeholder finds the value it saw live.
 *
 * The choice (values, not raw syscalls plus a state snapshot) keeps replay free of any state
 * machine and makes records readable; the price is that a record answers only the questions
 * of the rules loaded when it was made, plus the baseline.
 */
import type { SyscallEvent } from '../../events/syscall.ts';
import type { FieldTable, ResolvedField } from '../types.ts';
import { isFieldError } from '../types.ts';

/** Always recorded, whatever the rules read. */
export const RECORD_BASELINE: readonly string[] = [
  'evt.num', 'evt.type', 'evt.dir', 'evt.res', 'evt.rawres', 'evt.args', 'evt.category', 'thread.tid',
  'proc.pid', 'proc.ppid', 'proc.vpid', 'proc.sid', 'proc.name', 'proc.exe', 'proc.exepath', 'proc.args',
  'proc.cmdline', 'proc.cwd', 'proc.tty', 'proc.pname', 'proc.pcmdline', 'proc.aname', 'proc.is_exe_from_memfd',
  'user.name', 'user.uid', 'user.loginuid', 'group.name', 'group.gid',
  'fd.num', 'fd.type', 'fd.typechar', 'fd.name', 'fd.directory', 'fd.filename', 'fd.l4proto', 'fd.cip', 'fd.sip',
  'fd.cport', 'fd.sport', 'container.id', 'container.name', 'container.image.repository', 'k8s.ns.name', 'k8s.pod.name',
];

export interface FieldRecorder {
  readonly texts: readonly string[];
  /** The values of the recorded fields for one event (missing ones left out). */
  record(ev: SyscallEvent): Record<string, unknown>;
}

/** Split `proc.aname[2]` into name and argument. */
function parseText(text: string): [string, string | undefined] {
  const m = /^([^[]+)(?:\[(.*)\])?$/.exec(text);
  return m ? [m[1]!, m[2]] : [text, undefined];
}

export function fieldRecorder(table: FieldTable<unknown>, texts: Iterable<string>): FieldRecorder {
  const fields: Array<[string, ResolvedField<unknown>]> = [];
  const seen = new Set<string>();
  for (const t of [...RECORD_BASELINE, ...texts]) {
    const [name, arg] = parseText(t);
    let r = table.resolve(name, arg);
    // Arguments some fields only take after a dot (`evt.arg.flags`, not `evt.arg[flags]`).
    if (isFieldError(r) && arg !== undefined) r = table.resolve(`${name}.${arg}`, undefined);
    if (isFieldError(r)) continue;
    // Record under the canonical text (`evt.arg[flags]`), which the table also reads for
    // the dotted form.
    const key = r.arg === undefined ? r.info.name : `${r.info.name}[${r.arg}]`;
    if (seen.has(key) || /^evt\.(time|datetime|rawtime|outputtime)/.test(key) || key === 'evt.hostname' || key === 'evt.source') continue;
    seen.add(key);
    fields.push([key, r]);
  }
  return {
    texts: fields.map(([k]) => k),
    record(ev) {
      const out: Record<string, unknown> = {};
      for (const [k, r] of fields) {
        const v = r.extract(ev);
        if (v !== undefined) out[k] = v;
      }
      return out;
    },
  };
}
