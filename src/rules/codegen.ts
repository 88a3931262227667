/**
 * The other way to compile a condition: generate one JavaScript function per rule with the
 * and/or/not tree written out as `&&`, `||`, `!`, and the commonest checks (string `=`, `!=`,
 * `in`, `startswith`, `endswith`, `contains`, `exists` on a plain field) inlined; every other
 * check calls its closure from compile.ts. Same semantics, same memo slots.
 *
 * Kept to measure against the closure compiler (`npm run bench` reports both); the engine
 * uses closures unless `codegen: true` is asked for. See docs/engine.md for the figures.
 */
import type { CheckNode, Node } from './ast.ts';
import { type CompileOptions, type Getter, type Pred, compileNode, compileOperand } from './compile.ts';
import { categoryOf } from './values.ts';

interface Gen {
  consts: unknown[];
  ref(v: unknown): string;
}

export function compileNodeCodegen(n: Node, opts: CompileOptions): Pred {
  // Validate and type-check exactly as the closure compiler does (throws the same errors).
  compileNode(n, opts);
  const consts: unknown[] = [];
  const g: Gen = { consts, ref: (v) => { consts.push(v); return `K[${consts.length - 1}]`; } };
  const body = gen(n, opts, g);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function('K', `"use strict"; return function rule(ev, ctx) { let v; return ${body}; };`) as (k: unknown[]) => Pred;
  return make(consts);
}

function gen(n: Node, opts: CompileOptions, g: Gen): string {
  switch (n.kind) {
    case 'and': return '(' + n.children.map((c) => gen(c, opts, g)).join(' && ') + ')';
    case 'or': return '(' + n.children.map((c) => gen(c, opts, g)).join(' || ') + ')';
    case 'not': return '!' + gen(n.child, opts, g);
    case 'ident': return g.ref(compileNode(n, opts)) + '(ev, ctx)';
    case 'check': return genCheck(n, opts, g);
  }
}

function genCheck(n: CheckNode, opts: CompileOptions, g: Gen): string {
  const inline = n.lhs.kind === 'field' && !n.modifier && (!n.rhs || n.rhs.kind === 'value' || n.rhs.kind === 'list');
  if (inline) {
    const op = compileOperand(n.lhs, opts);
    if (!op.isList && !op.matchAny && categoryOf(op.type) === 'string') {
      const get = g.ref(op.get as Getter) + '(ev, ctx)';
      const rhs = n.rhs;
      const str = rhs?.kind === 'value' && !rhs.value.includes('\0') ? JSON.stringify(rhs.value) : undefined;
      switch (n.op) {
        case 'exists': return `(${get} !== undefined)`;
        case '=': case '==': if (str) return `(${get} === ${str})`; break;
        case '!=': if (str) return `((v = ${get}) !== undefined && v !== ${str})`; break;
        case 'startswith': if (str) return `((v = ${get}) !== undefined && v.startsWith(${str}))`; break;
        case 'endswith': if (str) return `((v = ${get}) !== undefined && v.endsWith(${str}))`; break;
        case 'contains': if (str) return `((v = ${get}) !== undefined && v.includes(${str}))`; break;
        case 'in': case 'intersects':
          if (rhs?.kind === 'list') {
            const set = g.ref(new Set(rhs.values.map((x) => x.value)));
            return `((v = ${get}) !== undefined && ${set}.has(v))`;
          }
          break;
      }
    }
  }
  return g.ref(compileNode(n, opts)) + '(ev, ctx)';
}
