/**
 * Load diagnostics: gathered, never thrown one at a time. Each names the file, the item
 * (rule, macro, list), the part (condition, output, exceptions...), the line and column, and
 * carries Falco's code, so a person sees exactly where and why, and tools can match codes.
 */

export const ERROR_CODES = [
  'LOAD_ERR_FILE_READ', 'LOAD_ERR_YAML_PARSE', 'LOAD_ERR_YAML_VALIDATE', 'LOAD_ERR_COMPILE_CONDITION',
  'LOAD_ERR_COMPILE_OUTPUT', 'LOAD_ERR_VALIDATE', 'LOAD_ERR_EXTENSION',
] as const;

export const WARNING_CODES = [
  'LOAD_UNKNOWN_SOURCE', 'LOAD_UNSAFE_NA_CHECK', 'LOAD_NO_EVTTYPE', 'LOAD_UNKNOWN_FILTER', 'LOAD_UNUSED_MACRO',
  'LOAD_UNUSED_LIST', 'LOAD_UNKNOWN_ITEM', 'LOAD_DEPRECATED_ITEM', 'LOAD_WARNING_EXTENSION', 'LOAD_APPEND_NO_VALUES',
  'LOAD_EXCEPTION_NAME_NOT_UNIQUE', 'LOAD_INVALID_MACRO_NAME', 'LOAD_INVALID_LIST_NAME', 'LOAD_COMPILE_CONDITION',
  'LOAD_UNKNOWN_KEY',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];
export type WarningCode = (typeof WARNING_CODES)[number];

export interface Location {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
  /** The whole source line, for the caret snippet. */
  lineText?: string;
}

export interface Diagnostic {
  severity: 'error' | 'warning';
  code: ErrorCode | WarningCode;
  message: string;
  /** The item the diagnostic is about. */
  item?: { kind: string; name: string };
  /** Which part of the item: `condition`, `output`, `exceptions`, `priority`, ... */
  part?: string;
  loc?: Location;
}

/** `file:line:col: error CODE: message`, the item, and a caret under the column. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.loc ? `${d.loc.file}:${d.loc.line}:${d.loc.col}: ` : '';
  const what = d.item ? ` (${d.item.kind} '${d.item.name}'${d.part ? `, ${d.part}` : ''})` : d.part ? ` (${d.part})` : '';
  let out = `${where}${d.severity} ${d.code}: ${d.message}${what}`;
  if (d.loc?.lineText !== undefined) {
    const text = d.loc.lineText.replace(/\t/g, ' ');
    out += '\n  ' + text + '\n  ' + ' '.repeat(Math.max(0, d.loc.col - 1)) + '^';
  }
  return out;
}

export class Diagnostics {
  readonly list: Diagnostic[] = [];

  error(code: ErrorCode, message: string, extra: Omit<Diagnostic, 'severity' | 'code' | 'message'> = {}): void {
    this.list.push({ severity: 'error', code, message, ...extra });
  }

  warn(code: WarningCode, message: string, extra: Omit<Diagnostic, 'severity' | 'code' | 'message'> = {}): void {
    this.list.push({ severity: 'warning', code, message, ...extra });
  }

  get hasErrors(): boolean {
    return this.list.some((d) => d.severity === 'error');
  }

  get errors(): Diagnostic[] { return this.list.filter((d) => d.severity === 'error'); }
  get warnings(): Diagnostic[] { return this.list.filter((d) => d.severity === 'warning'); }
}
