/**
 * Field tables: what a condition, an exception or an output template may read from an
 * event of one source. Each source (`syscall`, `k8s_audit`, ...) has one table; the rules
 * compiler asks the table to resolve every field name it meets and gets back an extractor.
 *
 * Value representation returned by extractors (undefined always means "could not be
 * extracted", which makes every check on the field false and prints as `<NA>`):
 * - string, fspath, fsrelpath ............ JS string
 * - integer types, abstime, reltime, port,
 *   l4proto, mode, flags*, errno, fd, pid,
 *   uid, gid, sigtype, syscallid .......... number (or bigint when it does not fit 2^53)
 * - double ............................... number
 * - bool ................................. boolean
 * - ipaddr/ipv4addr/ipv6addr ............. string in any textual IP form (the compiler parses it)
 * - ipnet/ipv4net/ipv6net ................ string, address or CIDR text
 * - bytebuf .............................. Uint8Array
 * - list fields (isList) ................. array of the element representation
 */

export type FieldType =
  | 'string' | 'fspath' | 'fsrelpath' | 'bytebuf'
  | 'int8' | 'int16' | 'int32' | 'int64'
  | 'uint8' | 'uint16' | 'uint32' | 'uint64'
  | 'double' | 'bool' | 'abstime' | 'reltime'
  | 'ipaddr' | 'ipnet' | 'ipv4addr' | 'ipv4net' | 'ipv6addr' | 'ipv6net'
  | 'port' | 'l4proto' | 'sockfamily' | 'mode' | 'flags8' | 'flags16' | 'flags32'
  | 'errno' | 'fd' | 'pid' | 'uid' | 'gid' | 'sigtype' | 'syscallid' | 'sigset';

/** How a field takes an argument: `proc.aname[2]`, `ka.uri.param[command]`, `evt.arg.flags`. */
export type FieldArgMode = 'none' | 'optional' | 'required';

export interface FieldInfo {
  /** Full name, e.g. `proc.aname`, `ka.req.pod.containers.image`. */
  name: string;
  type: FieldType;
  /** The field yields a list of values (only `in`, `intersects`, `exists`, `len()` apply). */
  isList?: boolean;
  /** Default 'none'. */
  arg?: FieldArgMode;
  /** What the argument is: a 0-based index, a free key (`proc.env[HOME]`), or either. */
  argKind?: 'index' | 'key' | 'any';
  /** The argument may also be written after a dot: `evt.arg.flags` = `evt.arg[flags]`. */
  dotArg?: boolean;
  description: string;
  /** Cannot take part in a field-to-field comparison (`val()`), on either side. */
  noRhs?: boolean;
  /** Falco warns when a rule uses it (`evt.dir`, `evt.latency`, ...). */
  deprecated?: boolean;
  /**
   * Without an argument the field is a set of values where a check is true when it holds for
   * ANY of them, for every operator (`proc.aname`, `proc.apid`, ...).
   */
  anyWithoutArg?: boolean;
  /** Listed for completeness but not extracted yet by this build (always missing). */
  unsupported?: boolean;
}

export interface ResolvedField<E = unknown> {
  info: FieldInfo;
  /** As written in a rule, argument included: `proc.aname[2]`, `ka.uri.param[command]`. */
  text: string;
  arg?: string;
  type: FieldType;
  isList: boolean;
  /** Checks hold when any element satisfies them (see FieldInfo.anyWithoutArg). */
  matchAny?: boolean;
  /** Extract the value; undefined when the field cannot be extracted from this event. */
  extract(ev: E): unknown;
  /** Text form for outputs, when it differs from the generic one (e.g. `evt.time`). */
  toText?(v: unknown): string;
  /** JSON form for `output_fields`, when it differs from the generic one. */
  toJson?(v: unknown): unknown;
}

export interface FieldError { error: string }

export interface FieldTable<E = unknown> {
  /** Source name as rules spell it: `syscall`, `k8s_audit`. */
  readonly source: string;
  /** Every field this table knows, for `vigil rules fields`. */
  fields(): readonly FieldInfo[];
  /**
   * Resolve a field as lexed in a condition or output: `name` is the dotted name as written
   * (possibly with a dotted argument, `evt.arg.flags`) and `arg` the bracket argument if any
   * (`''` for `[""]`, undefined for none). Errors read like Falco's
   * (`filter_check called with nonexistent field <name>`).
   */
  resolve(name: string, arg: string | undefined): ResolvedField<E> | FieldError;
}

export function isFieldError(x: unknown): x is FieldError {
  return typeof x === 'object' && x !== null && 'error' in x;
}
