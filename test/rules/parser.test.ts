// Table tests of the condition parser, in the typescript-eslint style: `valid` inputs with the
// AST they print as (libs' as_string form, see src/rules/ast.ts), `invalid` inputs with the
// error message and the offset it points at (shown as a caret under the input on failure).
// The shared conformance cases cover acceptance; these pin down structure and error positions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from '../../src/rules/ast.ts';
import { printNode } from '../../src/rules/ast.ts';
import { ParseError, parseCondition } from '../../src/rules/parser.ts';

interface Valid { code: string; ast: string }
interface Invalid { code: string; error: string; pos: number }

const cases: Record<string, { valid: Valid[]; invalid: Invalid[] }> = {
  'precedence: not > and > or': {
    valid: [
      { code: 'a or b and c', ast: '(a or (b and c))' },
      { code: 'a and b or c', ast: '((a and b) or c)' },
      { code: 'a and b or c and d', ast: '((a and b) or (c and d))' },
      { code: 'not a and b', ast: '(not a and b)' },
      { code: 'not a or b', ast: '(not a or b)' },
      { code: 'a or not b and c', ast: '(a or (not b and c))' },
      { code: 'not (a and b)', ast: 'not (a and b)' },
      { code: '(a or b) and c', ast: '((a or b) and c)' },
      { code: 'x.y = a or not b and c', ast: '(x.y = a or (not b and c))' },
    ],
    invalid: [],
  },
  'n-ary and/or chains; parentheses keep their own node': {
    valid: [
      { code: 'a and b and c', ast: '(a and b and c)' },
      { code: 'a or b or c or d', ast: '(a or b or c or d)' },
      { code: 'a and (b and c)', ast: '(a and (b and c))' },
      { code: '(a and b) and c', ast: '((a and b) and c)' },
      { code: 'a or (b or c)', ast: '(a or (b or c))' },
      { code: '((a))', ast: 'a' },
      { code: '( a )', ast: 'a' },
      { code: 'a and(b)', ast: '(a and b)' },
      { code: '(a)and(b)', ast: '(a and b)' },
      { code: '(a)or(b)', ast: '(a or b)' },
      { code: 'a\tand\nb\r\nor\bc', ast: '((a and b) or c)' },
    ],
    invalid: [
      { code: 'a and', error: "unexpected token after 'a', expecting 'or', 'and'", pos: 2 },
      { code: 'a or', error: "unexpected token after 'a', expecting 'or', 'and'", pos: 2 },
      { code: 'and a', error: "unexpected token after 'and', expecting 'or', 'and'", pos: 4 },
      { code: 'a andb', error: "unexpected token after 'a', expecting 'or', 'and'", pos: 2 },
      { code: 'a andnot b', error: "unexpected token after 'a', expecting 'or', 'and'", pos: 2 },
      { code: 'aand b', error: "unexpected token after 'aand', expecting 'or', 'and'", pos: 5 },
      { code: 'a AND b', error: "unexpected token after 'a', expecting 'or', 'and'", pos: 2 },
      { code: 'a not b', error: "unexpected token after 'a', expecting 'or', 'and'", pos: 2 },
      { code: 'a or b not', error: "unexpected token after 'b', expecting 'or', 'and'", pos: 7 },
      { code: '(a', error: "expected a ')' token", pos: 2 },
      { code: 'a)', error: "unexpected token after 'a', expecting 'or', 'and'", pos: 1 },
      { code: 'a and b)', error: "unexpected token after 'b', expecting 'or', 'and'", pos: 7 },
      { code: '()', error: "expected a field, a macro name or '(' but found ')'", pos: 1 },
      { code: '', error: 'filter input string is empty', pos: 0 },
      { code: '   ', error: 'unexpected end of input, expecting a condition', pos: 3 },
      { code: '#comment', error: "expected a field, a macro name or '(' but found '#comment'", pos: 0 },
    ],
  },
  'not: consecutive nots cancel in pairs': {
    valid: [
      { code: 'not a', ast: 'not a' },
      { code: 'not not a', ast: 'a' },
      { code: 'not not not a', ast: 'not a' },
      { code: 'not not (a or b)', ast: '(a or b)' },
      { code: 'not(a)', ast: 'not a' },
      { code: 'not  \n not(a)', ast: 'a' },
      // Only adjacent nots pair up: a parenthesised not is a node of its own.
      { code: 'not (not a)', ast: 'not not a' },
      { code: 'a and not b and not not c', ast: '(a and not b and c)' },
      { code: 'not x.y exists', ast: 'not x.y exists' },
      // Keywords only count before a blank or `(`: these are identifiers.
      { code: 'not_macro and notb', ast: '(not_macro and notb)' },
      { code: 'andy or order', ast: '(andy or order)' },
    ],
    invalid: [
      { code: 'not ', error: "expected an expression after 'not'", pos: 4 },
      { code: 'not (a', error: "expected a ')' token", pos: 6 },
    ],
  },
  'checks, operators and values': {
    valid: [
      { code: 'proc.name=cat', ast: 'proc.name = cat' },
      { code: 'proc.name == cat', ast: 'proc.name == cat' },
      { code: 'proc.name != "a b"', ast: 'proc.name != "a b"' },
      { code: 'x.y exists', ast: 'x.y exists' },
      { code: 'x.y existsand macro', ast: '(x.y exists and macro)' },
      { code: 'x.y <1', ast: 'x.y < 1' },
      { code: 'x.y > 0x1F', ast: 'x.y > 0x1F' },
      { code: 'x.y >= -5', ast: 'x.y >= -5' },
      { code: 'x.y < 1.5', ast: 'x.y < 1.5' },
      { code: 'x.y <= 1e+3', ast: 'x.y <= 1e+3' },
      { code: 'fd.name glob "/etc/*"', ast: 'fd.name glob /etc/*' },
      { code: 'proc.cmdline icontains "-C"', ast: 'proc.cmdline icontains -C' },
      { code: 'evt.buffer bcontains 0a0b', ast: 'evt.buffer bcontains 0a0b' },
      { code: 'fd.name regex "^/etc/[a-z]+$"', ast: 'fd.name regex ^/etc/[a-z]+$' },
      { code: 'x.y = a.b', ast: 'x.y = a.b' },
      { code: 'x.y = *.log', ast: 'x.y = *.log' },
      { code: 'x.y != <NA>', ast: 'x.y != <NA>' },
      { code: 'x.y = 0a!@#456:/\\.;!$%^&*[]{}|', ast: 'x.y = "0a!@#456:/\\\\.;!$%^&*[]{}|"' },
      { code: 'x.y = "a\\"b"', ast: 'x.y = "a\\"b"' },
      { code: "x.y = 'a\"b'", ast: 'x.y = "a\\"b"' },
      { code: 'x.y = "\\x41\\t"', ast: 'x.y = "A\\t"' },
      { code: 'x.y = "a\\/b"', ast: 'x.y = a/b' },
      { code: 'x.y contains "ab" or (x.z = 1 and not m)', ast: '(x.y contains ab or (x.z = 1 and not m))' },
    ],
    invalid: [
      { code: 'x.y', error: "expected an operator after 'x.y'", pos: 3 },
      { code: '(x.y) exists', error: "expected an operator after 'x.y'", pos: 4 },
      { code: 'x.y containsvalue', error: "expected an operator after 'x.y'", pos: 4 },
      { code: 'x.y ExIsTs', error: "expected an operator after 'x.y'", pos: 4 },
      { code: 'x.y =', error: "expected a value after '='", pos: 5 },
      { code: 'x.y < abc', error: "expected a number after '<'", pos: 6 },
      { code: 'x.y <= a', error: "expected a number after '<='", pos: 7 },
      { code: 'x.y > 0xAAA.1', error: "unexpected token after '0xAAA', expecting 'or', 'and'", pos: 11 },
      { code: 'a.b = b = 1', error: "unexpected token after 'b', expecting 'or', 'and'", pos: 8 },
      { code: 'x.y = a b', error: "unexpected token after 'a', expecting 'or', 'and'", pos: 8 },
      { code: 'x.y = "a" "b"', error: `unexpected token after '"a"', expecting 'or', 'and'`, pos: 10 },
      { code: 'm > 12', error: "unexpected token after 'm', expecting 'or', 'and'", pos: 2 },
      { code: '1.x = a', error: "expected a field, a macro name or '(' but found '1.x = a'", pos: 0 },
      { code: 'x.y = "abc', error: 'unterminated quoted string', pos: 6 },
      { code: "x.y = 'abc", error: 'unterminated quoted string', pos: 6 },
      { code: 'x.y = "\\q"', error: 'unsupported string escape sequence: \\q', pos: 7 },
      { code: "x.y = 'a\\\"b'", error: "invalid \\\" escape in '-quoted string", pos: 8 },
      { code: 'x.y = "a\\\'b"', error: 'invalid \\\' escape in "-quoted string', pos: 8 },
      { code: 'x.y = "\\x4"', error: 'invalid \\x escape: expected two hex digits', pos: 7 },
      { code: 'x.y = "\\xZZ"', error: 'invalid \\x escape: expected two hex digits', pos: 7 },
    ],
  },
  'lists': {
    valid: [
      { code: 'x.y in (a, b, c)', ast: 'x.y in (a, b, c)' },
      { code: `x.y in ( a , "b c" , 'd' )`, ast: 'x.y in (a, "b c", d)' },
      { code: 'x.y in ()', ast: 'x.y in ()' },
      { code: 'x.y in(a)', ast: 'x.y in (a)' },
      { code: 'x.y intersects (a, b)', ast: 'x.y intersects (a, b)' },
      { code: 'x.y pmatch (/etc, /usr)', ast: 'x.y pmatch (/etc, /usr)' },
      // A list name that no list substitution replaced stays a reference.
      { code: 'x.y in my_list', ast: 'x.y in my_list' },
      { code: 'x.y in (a, b) and not x.z in (c)', ast: '(x.y in (a, b) and not x.z in (c))' },
    ],
    invalid: [
      { code: 'x.y in', error: "expected a list after 'in'", pos: 6 },
      { code: 'x.y in (a,,b)', error: "expected a value after 'a'", pos: 10 },
      { code: 'x.y in (a,)', error: "expected a value after 'a'", pos: 10 },
      { code: 'x.y in (,a)', error: "expected a value after 'in'", pos: 8 },
      { code: 'x.y in (a', error: "expected a ')' token to close the list", pos: 9 },
      { code: 'x.y in (a b)', error: "expected a ')' token to close the list", pos: 10 },
      { code: 'x.y in ((a))', error: "expected a value after 'in'", pos: 8 },
      { code: 'x.y in (tolower(a.b))', error: "expected a ')' token to close the list", pos: 15 },
    ],
  },
  'operator modifiers oneof / anyof / allof': {
    valid: [
      { code: 'proc.name startswith oneof (a, b)', ast: 'proc.name startswith oneof (a, b)' },
      { code: 'proc.name = anyof (a, b)', ast: 'proc.name = anyof (a, b)' },
      { code: 'proc.name == oneof (a)', ast: 'proc.name == oneof (a)' },
      { code: 'proc.name contains allof (x, y)', ast: 'proc.name contains allof (x, y)' },
      { code: 'proc.name glob anyof lst', ast: 'proc.name glob anyof lst' },
      // Not followed by a list: the word is the value.
      { code: 'proc.name = oneof', ast: 'proc.name = oneof' },
      { code: 'proc.name = oneof and a', ast: '(proc.name = oneof and a)' },
      { code: '(proc.name = oneof)', ast: 'proc.name = oneof' },
    ],
    invalid: [
      { code: 'proc.name ==oneof (cat, nginx)', error: "unexpected token after 'oneof', expecting 'or', 'and'", pos: 18 },
      { code: 'proc.name == oneof(cat, nginx)', error: "unexpected token after 'oneof', expecting 'or', 'and'", pos: 18 },
      { code: 'proc.name = ONEOF (a)', error: "unexpected token after 'ONEOF', expecting 'or', 'and'", pos: 18 },
      { code: 'proc.num > oneof (1, 2)', error: "expected a number after '>'", pos: 11 },
      { code: 'proc.name == oneof (cat,)', error: "expected a value after 'cat'", pos: 24 },
    ],
  },
  'field arguments, quoted and bare': {
    valid: [
      { code: 'proc.aname[2] = sshd', ast: 'proc.aname[2] = sshd' },
      { code: 'proc.env[HOME] exists', ast: 'proc.env[HOME] exists' },
      { code: 'evt.arg["a b"] = x', ast: 'evt.arg["a b"] = x' },
      { code: "evt.arg['x'] = y", ast: 'evt.arg[x] = y' },
      { code: 'evt.arg[""] = x', ast: 'evt.arg[""] = x' },
      { code: 'jevt.value[/user/name] = a', ast: 'jevt.value[/user/name] = a' },
      { code: 'ka.req.binding.subject.has_name[system:anonymous] = true', ast: 'ka.req.binding.subject.has_name[system:anonymous] = true' },
      { code: 'x.y[1]exists', ast: 'x.y[1] exists' },
    ],
    invalid: [
      { code: 'x.y[] = a', error: 'expected a valid field argument: a quoted string or a bare string', pos: 4 },
      { code: 'x.y[a b] = c', error: "expected a ']' token", pos: 5 },
      { code: 'x.y["a" b] = c', error: "expected a ']' token", pos: 7 },
      { code: 'x.y[a = b', error: "expected a ']' token", pos: 5 },
      { code: 'x.1y = a', error: "unexpected token after 'x', expecting 'or', 'and'", pos: 1 },
    ],
  },
  'transformers and val()': {
    valid: [
      { code: 'tolower(proc.name) = bash', ast: 'tolower(proc.name) = bash' },
      { code: 'proc.name = toupper(proc.pname)', ast: 'proc.name = toupper(proc.pname)' },
      { code: 'len(proc.args) > 2', ast: 'len(proc.args) > 2' },
      { code: 'basename(b64(fd.name)) = x', ast: 'basename(b64(fd.name)) = x' },
      { code: 'tolower( tolower(tolower(x.y) ) ) = a', ast: 'tolower(tolower(tolower(x.y))) = a' },
      { code: 'concat(proc.name, "-", proc.pid) = x', ast: 'concat(proc.name,-,proc.pid) = x' },
      { code: 'join(" ", (proc.name, proc.pname)) = a', ast: 'join(" ",(proc.name, proc.pname)) = a' },
      { code: 'getopt(proc.args, "t:")[t] = 1', ast: 'getopt(proc.args,t:)[t] = 1' },
      { code: 'proc.name in tolower(proc.pname)', ast: 'proc.name in tolower(proc.pname)' },
      { code: 'proc.name = val(proc.pname)', ast: 'proc.name = val(proc.pname)' },
      { code: 'proc.pid > val(proc.ppid)', ast: 'proc.pid > val(proc.ppid)' },
      { code: 'proc.aname[1] = val(proc.aname[2])', ast: 'proc.aname[1] = val(proc.aname[2])' },
      // A field name on the right without val() is a plain string.
      { code: 'proc.name = proc.pname', ast: 'proc.name = proc.pname' },
    ],
    invalid: [
      { code: 'val(x.y) = 1', error: "'val' can only be used on the right-hand side of a comparison", pos: 0 },
      { code: 'foo(x.y) = 1', error: "unknown transformer 'foo'", pos: 0 },
      { code: 'tolower (x.y) = 1', error: "unexpected token after 'tolower', expecting 'or', 'and'", pos: 8 },
      { code: 'tolower(x.y = 1', error: "expected a ')' token", pos: 12 },
      { code: 'tolower() = 1', error: 'expected a field, a transformer, a quoted string or a number as transformer argument', pos: 8 },
      { code: 'x.y = val(a)', error: "'val' takes exactly one field", pos: 10 },
      { code: 'x.y = val(x.z', error: "expected a ')' token", pos: 13 },
    ],
  },
};

/** The input with a caret under `pos` and the message, so that a failing case reads at a glance. */
function caret(code: string, pos: number, message: string): string {
  return `${code}\n${' '.repeat(pos)}^ ${message}`;
}

for (const [topic, { valid, invalid }] of Object.entries(cases)) {
  for (const c of valid) {
    test(`${topic} — valid: ${JSON.stringify(c.code)}`, () => {
      let printed: string;
      try {
        printed = printNode(parseCondition(c.code));
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
        assert.fail(`expected ${c.ast}, got a parse error:\n${caret(c.code, e.pos, e.message)}`);
      }
      assert.equal(printed, c.ast);
    });
  }
  for (const c of invalid) {
    test(`${topic} — invalid: ${JSON.stringify(c.code)}`, () => {
      let ast: Node | undefined;
      try {
        ast = parseCondition(c.code);
      } catch (e) {
        assert.ok(e instanceof ParseError, `not a ParseError: ${String(e)}`);
        assert.equal(caret(c.code, e.pos, e.message), caret(c.code, c.pos, c.error));
        return;
      }
      assert.fail(`expected a parse error, got ${printNode(ast)}`);
    });
  }
}

// ---- nesting limit ------------------------------------------------------------------------

test('nesting: the default limit is 100 levels, the loader asks for 1000', () => {
  const nest = (n: number) => '('.repeat(n) + 'a' + ')'.repeat(n);
  assert.equal(printNode(parseCondition(nest(99))), 'a');
  assert.throws(() => parseCondition(nest(100)), (e: unknown) => e instanceof ParseError && e.message === 'exceeded max depth limit of 100' && e.pos === 100);
  assert.equal(printNode(parseCondition(nest(999), { maxDepth: 1000 })), 'a');
  assert.throws(() => parseCondition(nest(1000), { maxDepth: 1000 }), /exceeded max depth limit of 1000/);
  // Transformers nest too.
  assert.throws(() => parseCondition('tolower('.repeat(100) + 'x.y' + ')'.repeat(100) + ' = a'), /exceeded max depth limit of 100/);
  // `not` runs are counted, not nested: any number of them is fine.
  assert.equal(printNode(parseCondition('not '.repeat(10_001) + 'a')), 'not a');
});

// ---- structure beyond the printed form --------------------------------------------------------

/** The AST without positions and origins. */
function shape(n: unknown): unknown {
  return JSON.parse(JSON.stringify(n, (k, v: unknown) => (k === 'pos' || k === 'origin' ? undefined : v)));
}

test('structure: node positions point at the first character of each node', () => {
  const text = 'not proc.name in (a, "b") and (x.y exists or m)';
  const ast = parseCondition(text);
  assert.equal(ast.kind, 'and');
  if (ast.kind !== 'and') return;
  const [first, second] = ast.children as [Node, Node];
  assert.equal(first.kind, 'not');
  assert.equal(first.pos, 0);
  if (first.kind !== 'not' || first.child.kind !== 'check') return assert.fail('not a check under not');
  assert.equal(first.child.pos, text.indexOf('proc.name'));
  assert.equal(first.child.lhs.pos, text.indexOf('proc.name'));
  assert.equal(first.child.rhs?.pos, text.indexOf('('));
  if (first.child.rhs?.kind !== 'list') return assert.fail('not a list');
  assert.deepEqual(first.child.rhs.values.map((v) => v.pos), [text.indexOf('a,'), text.indexOf('"b"')]);
  assert.equal(second.kind, 'or');
  assert.equal(second.pos, text.indexOf('x.y'));
});

test('structure: quoted values, field arguments, modifiers, list references', () => {
  assert.deepEqual(shape(parseCondition(`evt.arg['a b'] startswith oneof ("x", y)`)), {
    kind: 'check', op: 'startswith', modifier: 'oneof',
    lhs: { kind: 'field', name: 'evt.arg', arg: 'a b', argQuoted: true },
    rhs: { kind: 'list', values: [{ value: 'x', quoted: true }, { value: 'y', quoted: false }] },
  });
  assert.deepEqual(shape(parseCondition('proc.aname[2] in shell_binaries')), {
    kind: 'check', op: 'in', lhs: { kind: 'field', name: 'proc.aname', arg: '2' },
    rhs: { kind: 'listref', name: 'shell_binaries' },
  });
  assert.deepEqual(shape(parseCondition('getopt(proc.args, "t:")[t] = val(proc.name)')), {
    kind: 'check', op: '=',
    lhs: { kind: 'transformer', name: 'getopt', arg: 't', args: [{ kind: 'field', name: 'proc.args' }, { kind: 'string', value: 't:', quoted: true }] },
    rhs: { kind: 'val', field: { kind: 'field', name: 'proc.name' } },
  });
  assert.deepEqual(shape(parseCondition('join(",", (proc.name, "x", 1, ())) = y')), {
    kind: 'check', op: '=',
    lhs: { kind: 'transformer', name: 'join', args: [
      { kind: 'string', value: ',', quoted: true },
      { kind: 'tlist', items: [{ kind: 'field', name: 'proc.name' }, { kind: 'string', value: 'x', quoted: true }, { kind: 'string', value: '1', quoted: false }, { kind: 'tlist', items: [] }] },
    ] },
    rhs: { kind: 'value', value: 'y', quoted: false },
  });
  assert.deepEqual(shape(parseCondition('x.y = ""')), { kind: 'check', op: '=', lhs: { kind: 'field', name: 'x.y' }, rhs: { kind: 'value', value: '', quoted: true } });
});

test('structure: a parse error is a ParseError carrying its offset, never another error', () => {
  for (const bad of ['x.y in (', 'x.y = "\\', 'tolower(', 'x.y[', 'x.y = val(', 'not (', '(((', 'x.y =']) {
    assert.throws(() => parseCondition(bad), (e: unknown) => e instanceof ParseError && e.pos >= 0 && e.pos <= bad.length, bad);
  }
});
