/**
 * Condition → SQL: the parts of a rules-language condition that read a typed column become a
 * WHERE clause; whatever is left is evaluated on the raw event by the compiled condition, so
 * that a search answers exactly what the rule engine would.
 *
 * For every node the planner builds two SQL predicates over rows whose columns are exact
 * (not `lossy`, see columns.ts):
 * - `upper`: true for every row where the condition holds (it may hold for more);
 * - `lower`: true only for rows where the condition holds (it may miss some).
 * A check on a column gives the same predicate for both; a check that cannot be translated
 * (`icontains`, `glob`, a field without a column, a transformer...) gives upper TRUE and lower
 * FALSE. `and`/`or` combine children's bounds; `not` swaps them (NOT lower is an upper bound).
 * When every check translates, upper = lower and the SQL is the whole answer.
 *
 * Missing values follow the rules language: a check on a missing field is false, `!=`
 * included, so `x != v` is `x IS NOT NULL AND x <> v`, while `not x = v` keeps rows where x is
 * missing. Every emitted predicate is two-valued (never SQL NULL), so NOT is safe.
 *
 * The planner knows no dialect: backends pass a `Dialect` that spells the few functions that
 * differ between DuckDB and ClickHouse (from 18.16 on).
 */
import type { CheckNode, Node } from '../rules/ast.ts';
import { COLUMN_BY_FIELD, type EventColumn } from './columns.ts';

/** A SQL boolean expression, or a constant. */
export type Sql = string | boolean;

export interface Dialect {
  readonly name: 'duckdb' | 'clickhouse';
  /** A string literal. */
  str(s: string): string;
  /** Two-valued predicates on a (qualified) column. */
  notNull(col: string, kind: EventColumn['kind']): string;
  strEq(col: string, v: string): string;
  strNe(col: string, v: string): string;
  strIn(col: string, vs: string[]): string;
  startsWith(col: string, v: string): string;
  endsWith(col: string, v: string): string;
  contains(col: string, v: string): string;
  intEq(col: string, v: number): string;
  intNe(col: string, v: number): string;
  intIn(col: string, vs: number[]): string;
  /** A stored list column as a list (DuckDB keeps lists as text joined with U+001E). */
  listExpr(col: string): string;
  /** Every element of the list is one of `vs` (list not missing). */
  listAllIn(col: string, vs: string[]): string;
  /** Some element of the list is one of `vs`. */
  listAnyIn(col: string, vs: string[]): string;
  /** Boolean column true. */
  isTrue(col: string): string;
  /** Integer division for time buckets. */
  intDiv(a: string, b: string): string;
}

export interface Plan {
  upper: Sql;
  lower: Sql;
  /** upper and lower coincide: SQL alone decides, for rows that are not lossy. */
  exact: boolean;
}

export function and(parts: Sql[]): Sql {
  const xs: string[] = [];
  for (const p of parts) {
    if (p === false) return false;
    if (p !== true) xs.push(p);
  }
  if (xs.length === 0) return true;
  return xs.length === 1 ? xs[0]! : '(' + xs.join(' AND ') + ')';
}

export function or(parts: Sql[]): Sql {
  const xs: string[] = [];
  for (const p of parts) {
    if (p === true) return true;
    if (p !== false) xs.push(p);
  }
  if (xs.length === 0) return false;
  return xs.length === 1 ? xs[0]! : '(' + xs.join(' OR ') + ')';
}

export function not(p: Sql): Sql {
  return typeof p === 'boolean' ? !p : `(NOT ${p})`;
}

/** SQL text of a plan part, constants spelled for the dialect. */
export function sqlText(p: Sql, d: Dialect): string {
  if (p === true) return d.name === 'duckdb' ? 'true' : '1';
  if (p === false) return d.name === 'duckdb' ? 'false' : '0';
  return p;
}

const UNKNOWN: Plan = { upper: true, lower: false, exact: false };

function exactPlan(sql: Sql): Plan {
  return { upper: sql, lower: sql, exact: true };
}

/**
 * Plan a condition (an expanded AST: no macro references left) for the events table.
 * `qualify` turns a column name into its SQL reference (`e.verb`).
 */
export function planCondition(
  n: Node, d: Dialect, qualify: (column: string) => string = (c) => c, columns: ReadonlyMap<string, PlanColumn> = COLUMN_BY_FIELD,
): Plan {
  switch (n.kind) {
    case 'and':
    case 'or': {
      const kids = n.children.map((c) => planCondition(c, d, qualify, columns));
      const comb = n.kind === 'and' ? and : or;
      return {
        upper: comb(kids.map((k) => k.upper)),
        lower: comb(kids.map((k) => k.lower)),
        exact: kids.every((k) => k.exact),
      };
    }
    case 'not': {
      const k = planCondition(n.child, d, qualify, columns);
      return { upper: not(k.lower), lower: not(k.upper), exact: k.exact };
    }
    case 'ident':
      return UNKNOWN;
    case 'check':
      return planCheck(n, d, qualify, columns);
  }
}

/** A typed column a check on a field can become (events: columns.ts; syscall events: syscall.ts). */
export type PlanColumn = Pick<EventColumn, 'column' | 'kind'>;

function columnOf(n: CheckNode, columns: ReadonlyMap<string, PlanColumn>): PlanColumn | undefined {
  const f = n.lhs;
  if (f.kind !== 'field') return undefined;
  if (f.arg === undefined) return columns.get(f.name);
  if (f.name === 'vigil') return columns.get('vigil.' + f.arg);
  return undefined;
}

/** Constant values on the right: a single value or a list. */
function values(n: CheckNode): string[] | undefined {
  const r = n.rhs;
  if (r === undefined) return undefined;
  if (r.kind === 'value') return [r.value];
  if (r.kind === 'list') return r.values.map((v) => v.value);
  if (r.kind === 'listref') return [r.name];
  return undefined;
}

const INT_TEXT = /^(0|-?[1-9]\d{0,9})$/;

function intOf(s: string): number | undefined {
  if (!INT_TEXT.test(s)) return undefined;
  const n = Number(s);
  return n >= -2147483648 && n <= 2147483647 ? n : undefined;
}

function planCheck(n: CheckNode, d: Dialect, qualify: (c: string) => string, columns: ReadonlyMap<string, PlanColumn>): Plan {
  const c = columnOf(n, columns);
  if (c === undefined) return UNKNOWN;
  const col = qualify(c.column);
  const exists = d.notNull(col, c.kind);
  const op = n.op;
  if (op === 'exists') return exactPlan(exists);
  const vs = values(n);
  if (vs === undefined) return UNKNOWN; // val(), transformers on the right
  if (vs.some((v) => v.includes('\0'))) return UNKNOWN; // the compiler refuses these anyway

  if (c.kind === 'list') {
    if (n.modifier) return UNKNOWN;
    const list = d.listExpr(col);
    if (op === 'in') return exactPlan(vs.length === 0 ? false : and([exists, d.listAllIn(list, vs)]));
    if (op === 'intersects') return exactPlan(vs.length === 0 ? false : and([exists, d.listAnyIn(list, vs)]));
    return UNKNOWN;
  }

  // `= anyof (a, b)` is `in`; `startswith anyof` an OR of prefixes. oneof/allof stay in JS.
  if (n.modifier !== undefined && n.modifier !== 'anyof') return UNKNOWN;
  const one = (f: (v: string) => Sql): Plan => exactPlan(or(vs.map(f)));

  if (c.kind === 'int') {
    const ints = vs.map(intOf);
    switch (op) {
      case '=': case '==': case 'in': case 'intersects': {
        const ok = ints.filter((x): x is number => x !== undefined);
        // Non-canonical text ('0403') never equals the text of an exact row.
        return exactPlan(ok.length === 0 ? false : ok.length === 1 ? d.intEq(col, ok[0]!) : d.intIn(col, ok));
      }
      case '!=': {
        if (n.modifier) return UNKNOWN;
        const v = ints[0];
        return exactPlan(v === undefined ? exists : and([exists, d.intNe(col, v)]));
      }
      default:
        return UNKNOWN;
    }
  }

  switch (op) {
    case '=': case '==':
      return one((v) => d.strEq(col, v));
    case 'in': case 'intersects':
      return exactPlan(vs.length === 0 ? false : vs.length === 1 ? d.strEq(col, vs[0]!) : d.strIn(col, vs));
    case '!=':
      if (n.modifier) return UNKNOWN;
      return exactPlan(d.strNe(col, vs[0]!));
    case 'startswith':
      return one((v) => (v === '' ? exists : d.startsWith(col, v)));
    case 'endswith':
      return one((v) => (v === '' ? exists : d.endsWith(col, v)));
    case 'contains':
      return one((v) => (v === '' ? exists : d.contains(col, v)));
    default:
      // icontains/glob/regex/pmatch/ordering: JavaScript's semantics, evaluated on the event.
      return UNKNOWN;
  }
}

// ---------------------------------------------------------------------------------------------
// Dialects

/** DuckDB: standard SQL strings ('' doubles a quote; backslash is literal). */
export const duckdbDialect: Dialect = {
  name: 'duckdb',
  str: (s) => "'" + s.replace(/'/g, "''") + "'",
  notNull: (col) => `(${col} IS NOT NULL)`,
  strEq: (col, v) => `coalesce(${col} = ${duckdbDialect.str(v)}, false)`,
  strNe: (col, v) => `coalesce(${col} <> ${duckdbDialect.str(v)}, false)`,
  strIn: (col, vs) => `coalesce(${col} IN (${vs.map(duckdbDialect.str).join(', ')}), false)`,
  startsWith: (col, v) => `coalesce(starts_with(${col}, ${duckdbDialect.str(v)}), false)`,
  endsWith: (col, v) => `coalesce(ends_with(${col}, ${duckdbDialect.str(v)}), false)`,
  contains: (col, v) => `coalesce(contains(${col}, ${duckdbDialect.str(v)}), false)`,
  intEq: (col, v) => `coalesce(${col} = ${v}, false)`,
  intNe: (col, v) => `coalesce(${col} <> ${v}, false)`,
  intIn: (col, vs) => `coalesce(${col} IN (${vs.join(', ')}), false)`,
  listExpr: (col) => `string_split(${col}, chr(30))`,
  listAllIn: (col, vs) => `coalesce(list_has_all([${vs.map(duckdbDialect.str).join(', ')}], ${col}), false)`,
  listAnyIn: (col, vs) => `coalesce(list_has_any(${col}, [${vs.map(duckdbDialect.str).join(', ')}]), false)`,
  isTrue: (col) => `coalesce(${col}, false)`,
  intDiv: (a, b) => `(${a} // ${b})`,
};

/**
 * ClickHouse: backslash escapes in strings; strings are byte strings, so prefix and
 * substring tests on UTF-8 bytes agree with JavaScript's on well-formed text. Written for
 * 18.16 (no startsWith/endsWith there): prefixes compare substrings, NULLs go through ifNull.
 */
export const clickhouseDialect: Dialect = {
  name: 'clickhouse',
  str: (s) => "'" + s.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'",
  notNull: (col, kind) => (kind === 'list' ? `notEmpty(${col})` : `isNotNull(${col})`),
  strEq: (col, v) => `(isNotNull(${col}) AND ifNull(${col}, '') = ${clickhouseDialect.str(v)})`,
  strNe: (col, v) => `(isNotNull(${col}) AND ifNull(${col}, '') != ${clickhouseDialect.str(v)})`,
  strIn: (col, vs) => `(isNotNull(${col}) AND ifNull(${col}, '') IN (${vs.map(clickhouseDialect.str).join(', ')}))`,
  startsWith: (col, v) => `(isNotNull(${col}) AND substring(ifNull(${col}, ''), 1, ${Buffer.byteLength(v)}) = ${clickhouseDialect.str(v)})`,
  endsWith: (col, v) => {
    const n = Buffer.byteLength(v);
    return `(isNotNull(${col}) AND length(ifNull(${col}, '')) >= ${n} AND substring(ifNull(${col}, ''), length(ifNull(${col}, '')) - ${n - 1}, ${n}) = ${clickhouseDialect.str(v)})`;
  },
  contains: (col, v) => `(isNotNull(${col}) AND position(ifNull(${col}, ''), ${clickhouseDialect.str(v)}) > 0)`,
  intEq: (col, v) => `(isNotNull(${col}) AND ifNull(${col}, 0) = ${v})`,
  intNe: (col, v) => `(isNotNull(${col}) AND ifNull(${col}, 0) != ${v})`,
  intIn: (col, vs) => `(isNotNull(${col}) AND ifNull(${col}, 0) IN (${vs.join(', ')}))`,
  listExpr: (col) => col,
  listAllIn: (col, vs) => `hasAll([${vs.map(clickhouseDialect.str).join(', ')}], ${col})`,
  listAnyIn: (col, vs) => `hasAny(${col}, [${vs.map(clickhouseDialect.str).join(', ')}])`,
  isTrue: (col) => `(${col} = 1)`,
  intDiv: (a, b) => `intDiv(${a}, ${b})`,
};
