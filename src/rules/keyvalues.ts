/**
 * Static analysis of a condition for rule indexing: which values of a key field (`evt.type`
 * for syscalls; `ka.verb` and `ka.target.resource` for audit events) can an event have for
 * the condition to hold? Rules are bucketed by those sets at load time, so an event only
 * meets the rules that may fire on it. The answer over-approximates: it may include values
 * for which the rule cannot match, never the reverse.
 *
 * A set is `{ neg: false, vals }` (exactly these) or `{ neg: true, vals }` (all but these).
 * A missing field is the value MISSING, so `not ka.verb = get` keeps events with no verb.
 */
import type { Node } from './ast.ts';

export const MISSING = '\u0000missing';

export interface ValueSet { neg: boolean; vals: Set<string> }

export const ALL: ValueSet = { neg: true, vals: new Set() };
export const NONE: ValueSet = { neg: false, vals: new Set() };

export function contains(s: ValueSet, v: string): boolean {
  return s.neg ? !s.vals.has(v) : s.vals.has(v);
}

function complement(s: ValueSet): ValueSet {
  return { neg: !s.neg, vals: s.vals };
}

function intersect(a: ValueSet, b: ValueSet): ValueSet {
  if (!a.neg && !b.neg) return { neg: false, vals: new Set([...a.vals].filter((v) => b.vals.has(v))) };
  if (a.neg && b.neg) return { neg: true, vals: new Set([...a.vals, ...b.vals]) };
  const [pos, neg] = a.neg ? [b, a] : [a, b];
  return { neg: false, vals: new Set([...pos.vals].filter((v) => !neg.vals.has(v))) };
}

function union(a: ValueSet, b: ValueSet): ValueSet {
  if (!a.neg && !b.neg) return { neg: false, vals: new Set([...a.vals, ...b.vals]) };
  if (a.neg && b.neg) return { neg: true, vals: new Set([...a.vals].filter((v) => b.vals.has(v))) };
  const [pos, neg] = a.neg ? [b, a] : [a, b];
  return { neg: true, vals: new Set([...neg.vals].filter((v) => !pos.vals.has(v))) };
}

export interface KeyAnalysis {
  /** Field names that are the key (`evt.type`, `syscall.type`). */
  fields: Set<string>;
  /** Treat `evt.num` invariants (`evt.num = 0` is never true) as Falco does. */
  evtNumInvariants?: boolean;
}

/** The set of key values for which `n` may hold. */
export function keyValues(n: Node, k: KeyAnalysis, negated = false): ValueSet {
  switch (n.kind) {
    case 'and': {
      const parts = n.children.map((c) => keyValues(c, k, negated));
      return parts.reduce(negated ? union : intersect);
    }
    case 'or': {
      const parts = n.children.map((c) => keyValues(c, k, negated));
      return parts.reduce(negated ? intersect : union);
    }
    case 'not':
      return keyValues(n.child, k, !negated);
    case 'ident':
      return ALL;
    case 'check': {
      const leaf = leafValues(n, k);
      if (leaf === undefined) return ALL;
      return negated ? complement(leaf) : leaf;
    }
  }
}

function leafValues(n: Extract<Node, { kind: 'check' }>, k: KeyAnalysis): ValueSet | undefined {
  if (n.lhs.kind !== 'field' || n.lhs.arg !== undefined || n.modifier) return undefined;
  const name = n.lhs.name;
  const rhs = n.rhs;
  if (k.evtNumInvariants && name === 'evt.num' && rhs && (rhs.kind === 'value' || rhs.kind === 'list')) {
    const vals = rhs.kind === 'value' ? [rhs.value] : rhs.values.map((v) => v.value);
    const isZero = (v: string) => /^[+-]?0+$/.test(v);
    if ((n.op === '=' || n.op === '==') && vals.length === 1 && isZero(vals[0]!)) return NONE;
    if (n.op === '<' && vals[0] === '1') return NONE;
    if (n.op === '<=' && vals.length === 1 && isZero(vals[0]!)) return NONE;
    if (n.op === 'in' && (vals.length === 0 || (vals.length === 1 && isZero(vals[0]!)))) return NONE;
    if (n.op === '!=' && vals.length === 1 && isZero(vals[0]!)) return ALL;
    return undefined;
  }
  if (!k.fields.has(name)) return undefined;
  if (n.op === 'exists') return complement({ neg: false, vals: new Set([MISSING]) });
  if (!rhs) return undefined;
  if ((n.op === '=' || n.op === '==') && rhs.kind === 'value') return { neg: false, vals: new Set([rhs.value]) };
  if ((n.op === 'in' || n.op === 'intersects') && rhs.kind === 'list') return { neg: false, vals: new Set(rhs.values.map((v) => v.value)) };
  if (n.op === '!=' && rhs.kind === 'value') return { neg: true, vals: new Set([rhs.value, MISSING]) };
  return undefined;
}
