/**
 * The condition → SQL planner on its own: what is pushed down, how missing values are
 * handled, and when SQL alone decides. (That the answers are the engine's is proved against
 * real databases in store.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCondition } from '../../src/rules/parser.ts';
import { chooseBucketNs } from '../../src/store/sqlstore.ts';
import { clickhouseDialect, duckdbDialect, planCondition } from '../../src/store/sql.ts';

const plan = (c: string) => planCondition(parseCondition(c), duckdbDialect);

describe('condition → SQL', () => {
  const cases: Array<{ cond: string; upper: string | boolean; lower?: string | boolean; exact: boolean }> = [
    { cond: 'ka.verb = get', upper: "coalesce(verb = 'get', false)", exact: true },
    { cond: 'ka.verb != get', upper: "coalesce(verb <> 'get', false)", exact: true },
    { cond: 'not ka.verb = get', upper: "(NOT coalesce(verb = 'get', false))", exact: true },
    { cond: 'ka.target.subresource exists', upper: '(subresource IS NOT NULL)', exact: true },
    { cond: 'ka.verb in (get, list)', upper: "coalesce(verb IN ('get', 'list'), false)", exact: true },
    { cond: "ka.target.namespace = \"o'neil\"", upper: "coalesce(namespace = 'o''neil', false)", exact: true },
    { cond: 'ka.user.name startswith system:', upper: "coalesce(starts_with(user_name, 'system:'), false)", exact: true },
    { cond: 'ka.response.code = 403', upper: 'coalesce(response_code = 403, false)', exact: true },
    { cond: 'ka.response.code = 0403', upper: false, exact: true },
    { cond: 'ka.response.code != 200', upper: '((response_code IS NOT NULL) AND coalesce(response_code <> 200, false))', exact: true },
    { cond: 'ka.user.groups intersects (system:masters)', upper: "((groups IS NOT NULL) AND coalesce(list_has_any(string_split(groups, chr(30)), ['system:masters']), false))", exact: true },
    { cond: 'vigil.cluster = prod', upper: "coalesce(cluster = 'prod', false)", exact: true },
    { cond: 'ka.useragent icontains curl', upper: true, lower: false, exact: false },
    { cond: 'ka.verb = get and ka.uri contains watch', upper: "coalesce(verb = 'get', false)", lower: false, exact: false },
    { cond: 'ka.verb = get or ka.uri contains watch', upper: true, lower: "coalesce(verb = 'get', false)", exact: false },
    { cond: 'not (ka.verb = get and ka.uri contains watch)', upper: true, lower: "(NOT coalesce(verb = 'get', false))", exact: false },
    { cond: 'ka.verb = tolower(ka.verb)', upper: true, lower: false, exact: false },
  ];
  for (const c of cases) {
    test(c.cond, () => {
      const p = plan(c.cond);
      assert.equal(p.upper, c.upper);
      assert.equal(p.lower, c.lower ?? c.upper);
      assert.equal(p.exact, c.exact);
    });
  }

  test('ClickHouse spells strings with backslash escapes and works without startsWith (18.16)', () => {
    const p = planCondition(parseCondition('ka.target.name startswith "a\\\\b\'c"'), clickhouseDialect);
    assert.equal(p.upper, "(isNotNull(name) AND substring(ifNull(name, ''), 1, 5) = 'a\\\\b\\'c')");
  });

  test('histogram buckets are round durations', () => {
    const h = 3_600_000_000_000n;
    assert.equal(chooseBucketNs({ fromNs: 0n, toNs: 24n * h }, 60), 30n * 60_000_000_000n);
    assert.equal(chooseBucketNs({ fromNs: 0n, toNs: 24n * h }, 24), h);
    assert.equal(chooseBucketNs({ fromNs: 0n, toNs: 60_000_000_000n }, 60), 1_000_000_000n);
    assert.equal(chooseBucketNs({ fromNs: 0n, toNs: 30n * 24n * h }, 60), 12n * h);
  });
});
