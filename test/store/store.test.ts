/**
 * The Store contract, written once and run on every backend: idempotent writes, search that
 * answers exactly what the rule engine (and `vigil replay`) says, cursor pagination, the
 * aggregations, fetch by id, alerts with their filters, retention.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { replayFiles } from '../../src/cli/replay.ts';
import type { AuditEvent } from '../../src/events/k8saudit.ts';
import { fieldExtractor } from '../../src/store/columns.ts';
import { toStoredEvent } from '../../src/store/index.ts';
import type { Store, StoredAlert, StoredEvent } from '../../src/store/types.ts';
import { BACKENDS, openTestStore } from './backends.ts';
import {
  ALL_TIME, Rng, engineMatches, generateEvents, keyOf, randomCondition, ruleYaml, traceEvents, traceFiles, uniqueEvents,
} from './fixtures.ts';

async function all(store: Store, condition: string | undefined, order: 'asc' | 'desc' = 'desc', limit = 1000): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let cursor: string | undefined;
  for (;;) {
    const p = await store.searchEvents({ range: ALL_TIME, condition, limit, order, ...(cursor ? { cursor } : {}) });
    out.push(...p.items);
    if (!p.cursor) return out;
    cursor = p.cursor;
  }
}

const keys = (xs: StoredEvent[]) => xs.map((e) => `${e.auditId}/${e.stage}`).sort();

/** Conditions people write, over columns and beyond them. */
const CONDITIONS = [
  'ka.verb = create',
  'ka.verb = delete and ka.target.resource in (secrets, configmaps)',
  'ka.verb != get',
  'not ka.verb = get',
  'ka.target.subresource exists',
  'not ka.target.subresource exists',
  'ka.target.subresource in (exec, attach)',
  'ka.user.name startswith system: and not ka.user.name startswith system:serviceaccount',
  'ka.response.code = 403',
  'ka.response.code != 200',
  'ka.response.code in (403, 404, 0403)',
  'ka.user.groups intersects (system:masters)',
  'ka.user.groups in (system:masters, system:authenticated)',
  'ka.target.namespace = kube-system or ka.target.name contains etcd',
  'ka.useragent icontains KUBECTL',
  'ka.req.pod.containers.privileged intersects (true)',
  'ka.target.resource = pods and ka.req.pod.host_network = true',
  'ka.auth.decision = allow and ka.verb in (create, update, patch) and ka.target.resource endswith bindings',
  'vigil.cluster = prod-eu-1 and ka.verb = get',
  'not vigil.cluster exists',
  'vigil.owner = x',
  'ka.stage = ResponseComplete and not ka.target.namespace in (default, kube-system)',
  'ka.target.name glob "web-*"',
  'jevt.value[/sourceIPs/0] startswith 10.0.0.1',
  'ka.uri contains "watch=1" and ka.verb exists',
];

for (const kind of BACKENDS) {
  describe(`store (${kind})`, () => {
    test('writes are idempotent: a batch written twice, and duplicates inside a batch, are stored once', async (t) => {
      const s = await openTestStore(t, kind);
      if (!s) return;
      const evs = traceEvents().concat(generateEvents(300, 7));
      const unique = uniqueEvents(evs).length;
      const first = await s.store.writeEvents(evs.map((e) => toStoredEvent(e)));
      assert.equal(first, unique);
      assert.equal(await s.store.writeEvents(evs.map((e) => toStoredEvent(e))), 0);
      // A retry of part of a batch, mixed with new events.
      const more = generateEvents(20, 8);
      assert.equal(await s.store.writeEvents([...evs.slice(0, 50), ...more].map((e) => toStoredEvent(e))), 20);
      assert.deepEqual(await s.store.counts(), { events: unique + 20, alerts: 0 });

      const alert = sampleAlert('a1', evs[0]!);
      assert.equal(await s.store.writeAlerts([alert, alert]), 1);
      assert.equal(await s.store.writeAlerts([alert, sampleAlert('a2', evs[1]!)]), 1);
      assert.deepEqual(await s.store.counts(), { events: unique + 20, alerts: 2 });
    });

    test('alerts in any number, with any text, are stored once; events and alerts handed over together', async (t) => {
      const s = await openTestStore(t, kind);
      if (!s) return;
      const evs = generateEvents(700, 41);
      // Over the size DuckDB takes as SQL values, and text SQL literals cannot carry.
      const many = evs.map((e, i) => sampleAlert(`many-${i}`, e, 'Notice', i % 2 ? "Rule 'quoted'" : 'Rule\u0000NUL'));
      assert.equal(await s.store.writeAlerts(many), 700);
      assert.equal(await s.store.writeAlerts(many.slice(0, 10)), 0);
      const nul = await s.store.getAlert('many-0');
      assert.equal(nul?.rule, 'Rule\u0000NUL');
      assert.equal((await s.store.getAlert('many-1'))?.rule, "Rule 'quoted'");
      const more = generateEvents(30, 42);
      const alerts = [sampleAlert('with-events-1', more[0]!), { ...sampleAlert('with-events-2', more[1]!), tags: [] }];
      const write = s.store.writeBatch
        ? s.store.writeBatch(more.map((e) => toStoredEvent(e)), alerts)
        : Promise.all([s.store.writeEvents(more.map((e) => toStoredEvent(e))), s.store.writeAlerts(alerts)]);
      assert.deepEqual(await write, [30, 2]);
      assert.deepEqual(await s.store.counts(), { events: 30, alerts: 702 });
      assert.deepEqual((await s.store.getAlert('with-events-2'))?.tags, []);
    });

    test('writes handed over while others are in flight, overlapping, store each event once', async (t) => {
      const s = await openTestStore(t, kind);
      if (!s) return;
      const evs = generateEvents(3000, 51);
      const parts = [evs.slice(0, 1200), evs.slice(800, 2000), evs.slice(1500), evs.slice(0, 100)];
      const ns = await Promise.all(parts.map((p) => s.store.writeEvents(p.map((e) => toStoredEvent(e)))));
      assert.equal(ns.reduce((a, b) => a + b, 0), 3000);
      assert.equal((await s.store.counts()).events, 3000);
    });

    test('a large batch (written in chunks) is stored once, duplicates across chunks included', async (t) => {
      const s = await openTestStore(t, kind);
      if (!s) return;
      const evs = generateEvents(6000, 31);
      const batch = [...evs, ...evs.slice(0, 1500), ...evs.slice(4000, 4100)].map((e) => toStoredEvent(e));
      assert.equal(await s.store.writeEvents(batch), 6000);
      assert.equal(await s.store.writeEvents(batch.slice(2000)), 0);
      assert.equal((await s.store.counts()).events, 6000);
    });

    test('search answers what `vigil replay` says for the same condition as a rule (Falco traces)', async (t) => {
      const files = traceFiles();
      if (files.length === 0) return t.skip('no ../shared/falco/k8s_audit_traces');
      const s = await openTestStore(t, kind);
      if (!s) return;
      await s.store.writeEvents(traceEvents().map((e) => toStoredEvent(e)));
      const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-search-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      for (const cond of CONDITIONS.filter((c) => !c.includes('vigil'))) {
        const rules = path.join(dir, 'r.yaml');
        writeFileSync(rules, ruleYaml(cond));
        const lines: string[] = [];
        const r = await replayFiles(files, { rules: [rules], format: 'json', ruleMatching: 'all', hostname: 'h' }, { out: (l) => lines.push(l), err: () => {} });
        assert.equal(r.code, 0, cond);
        // Duplicated events (the same record in two trace files) are stored once.
        const expected = [...new Set(lines.map((l) => {
          const f = (JSON.parse(l) as { output_fields: Record<string, string> }).output_fields;
          return `${f['ka.auditid']}/${f['ka.stage'] === '<NA>' ? '' : f['ka.stage']}`;
        }))].sort();
        assert.deepEqual(keys(await all(s.store, cond)), expected, cond);
      }
    });

    test('search equals the rule engine on generated events, for written and random conditions', async (t) => {
      const s = await openTestStore(t, kind);
      if (!s) return;
      const evs = generateEvents(400, 3);
      await s.store.writeEvents(evs.map((e) => toStoredEvent(e)));
      const r = new Rng(42);
      const conds = [...CONDITIONS, ...Array.from({ length: kind === 'duckdb' ? 150 : 60 }, () => randomCondition(r))];
      for (const cond of conds) {
        const expected = [...new Set(engineMatches(evs, cond))].sort();
        assert.deepEqual(keys(await all(s.store, cond, 'desc', 5000)), expected, cond);
      }
    });

    test('cursor pages walk every match once, newest first or oldest first', async (t) => {
      const s = await openTestStore(t, kind);
      if (!s) return;
      const evs = generateEvents(230, 5, 600);
      // Ties on time: the cursor breaks them by identity.
      for (const e of evs.slice(0, 30)) (e as { timeNs: bigint }).timeNs = evs[0]!.timeNs;
      await s.store.writeEvents(evs.map((e) => toStoredEvent(e)));
      for (const cond of [undefined, 'ka.verb in (get, list)', 'ka.useragent icontains curl']) {
        const whole = await all(s.store, cond, 'desc', 100_000);
        for (const limit of [1, 7, 50]) {
          const paged = await all(s.store, cond, 'desc', limit);
          assert.deepEqual(paged.map((e) => e.auditId), whole.map((e) => e.auditId), `${cond} ${limit}`);
        }
        for (let i = 1; i < whole.length; i++) assert.ok(whole[i - 1]!.timeNs >= whole[i]!.timeNs);
        const asc = await all(s.store, cond, 'asc', 13);
        assert.deepEqual(asc.map((e) => e.auditId), [...whole].reverse().map((e) => e.auditId));
      }
      await assert.rejects(s.store.searchEvents({ range: ALL_TIME, limit: 5, cursor: 'garbage' }), /invalid cursor/);
    });

    test('a time range bounds the search: from inclusive, to exclusive', async (t) => {
      const s = await openTestStore(t, kind);
      if (!s) return;
      const evs = generateEvents(200, 11);
      await s.store.writeEvents(evs.map((e) => toStoredEvent(e)));
      const sorted = [...evs].sort((a, b) => (a.timeNs < b.timeNs ? -1 : 1));
      const from = sorted[50]!.timeNs;
      const to = sorted[150]!.timeNs;
      const p = await s.store.searchEvents({ range: { fromNs: from, toNs: to }, limit: 1000 });
      assert.deepEqual(keys(p.items), sorted.slice(50, 150).map(keyOf).sort());
    });

    test('stored events come back as written: raw, labels and typed columns', async (t) => {
      const s = await openTestStore(t, kind);
      if (!s) return;
      const evs = generateEvents(50, 13);
      await s.store.writeEvents(evs.map((e) => toStoredEvent(e)));
      for (const ev of evs.slice(0, 20)) {
        const got = await s.store.getEvent(String(ev.raw.auditID), typeof ev.raw.stage === 'string' ? ev.raw.stage : '');
        assert.ok(got, keyOf(ev));
        const want = toStoredEvent(ev);
        assert.deepEqual(got.raw, ev.raw);
        assert.equal(got.timeNs, ev.timeNs);
        for (const k of ['cluster', 'team', 'labels', 'user', 'verb', 'resource', 'subresource', 'namespace', 'name', 'responseCode', 'decision', 'userAgent'] as const) {
          if (want.user?.includes('\ud800') && k === 'user') continue; // lone surrogate: only the raw event keeps it
          assert.deepEqual(got[k], want[k], `${keyOf(ev)} ${k}`);
        }
      }
      assert.equal(await s.store.getEvent('nope'), undefined);
      assert.ok(await s.store.getEvent(String(evs[0]!.raw.auditID)));
    });

    test('histogram, top-N and counts agree with the events, with and without a condition', async (t) => {
      const s = await openTestStore(t, kind);
      if (!s) return;
      const evs = generateEvents(500, 17, 86400);
      await s.store.writeEvents(evs.map((e) => toStoredEvent(e)));
      const stored = uniqueEvents(evs).map((e) => toStoredEvent(e));
      const from = 1_714_521_600_000_000_000n;
      const range = { fromNs: from, toNs: from + 86_400_000_000_000n };
      for (const cond of [undefined, 'ka.verb = get', 'not ka.verb = get', 'ka.useragent icontains KUBE', 'ka.response.code = 403 or ka.target.name glob "web*"']) {
        const match = new Set(cond ? engineMatches(evs, cond) : stored.map((e) => `${e.auditId}/${e.stage}`));
        const sel = stored.filter((e) => match.has(`${e.auditId}/${e.stage}`) && e.timeNs >= range.fromNs && e.timeNs < range.toNs);
        const selEvents = uniqueEvents(evs).filter((e) => match.has(keyOf(e)) && e.timeNs >= range.fromNs && e.timeNs < range.toNs);

        const h = await s.store.histogram('events', range, cond, 24);
        assert.equal(h.length, 24, 'one bucket per hour');
        assert.equal(h[1]!.startNs - h[0]!.startNs, 3_600_000_000_000n);
        const want = new Array(24).fill(0);
        for (const e of sel) want[Number((e.timeNs - from) / 3_600_000_000_000n)]++;
        assert.deepEqual(h.map((b) => b.count), want, `histogram ${cond}`);

        for (const [col, field] of [['ka.user.name', 'ka.user.name'], ['verb', 'ka.verb'], ['vigil.cluster', 'vigil.cluster'], ['ka.user.groups', 'ka.user.groups'], ['response_code', 'ka.response.code']] as const) {
          const top = await s.store.topN('events', col, range, 3, cond);
          const counts = new Map<string, number>();
          const get = fieldExtractor(field);
          for (const e of selEvents) {
            const v = get(e);
            if (v === undefined) continue;
            for (const x of Array.isArray(v) ? v : [v]) counts.set(String(x), (counts.get(String(x)) ?? 0) + 1);
          }
          const expect = [...counts].map(([value, count]) => ({ value, count }))
            .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)).slice(0, 3);
          assert.deepEqual(top, expect, `top ${col} ${cond}`);
        }
      }
      await assert.rejects(s.store.topN('events', 'ka.uri', range, 3), /cannot rank events by 'ka.uri'/);
    });

    test('alerts: filters, conditions on the event that fired, counts by priority, fetch by id', async (t) => {
      const s = await openTestStore(t, kind);
      if (!s) return;
      const evs = generateEvents(120, 19);
      await s.store.writeEvents(evs.map((e) => toStoredEvent(e)));
      const prios = ['Critical', 'Warning', 'Notice'];
      const alerts = evs.map((e, i) => {
        const a = sampleAlert(`id-${i}`, e, prios[i % 3]!, i % 2 === 0 ? 'Rule A' : 'Rule B');
        if (i % 5 === 0) a.hunt = true;
        return a;
      });
      assert.equal(await s.store.writeAlerts(alerts), alerts.length);
      const page = await s.store.searchAlerts({ range: ALL_TIME, limit: 1000 });
      assert.equal(page.items.length, alerts.length);
      const a0 = await s.store.getAlert('id-0');
      assert.deepEqual(a0, alerts[0]);

      const byRule = await s.store.searchAlerts({ range: ALL_TIME, limit: 1000, alerts: { rules: ['Rule A'], minPriority: 'warning' } });
      assert.deepEqual(byRule.items.map((a) => a.id).sort(), alerts.filter((a, i) => i % 2 === 0 && i % 3 !== 2).map((a) => a.id).sort());
      const hunts = await s.store.searchAlerts({ range: ALL_TIME, limit: 1000, alerts: { hunt: true } });
      assert.equal(hunts.items.length, alerts.filter((a) => a.hunt).length);

      const cond = 'ka.verb in (get, list) or ka.useragent icontains curl';
      const match = new Set(engineMatches(evs, cond));
      const withCond = await s.store.searchAlerts({ range: ALL_TIME, limit: 7, condition: cond });
      const walk = [...withCond.items];
      let cursor = withCond.cursor;
      while (cursor) {
        const p = await s.store.searchAlerts({ range: ALL_TIME, limit: 7, condition: cond, cursor });
        walk.push(...p.items);
        cursor = p.cursor;
      }
      assert.deepEqual(walk.map((a) => a.id).sort(), alerts.filter((a) => match.has(a.eventRef!)).map((a) => a.id).sort());

      const counts = await s.store.countByPriority(ALL_TIME);
      assert.deepEqual(counts, { Critical: 40, Warning: 40, Notice: 40 });
      const countsCond = await s.store.countByPriority(ALL_TIME, cond);
      const want: Record<string, number> = {};
      for (const a of alerts) if (match.has(a.eventRef!)) want[a.priority] = (want[a.priority] ?? 0) + 1;
      assert.deepEqual(countsCond, Object.fromEntries(prios.filter((p) => want[p]).map((p) => [p, want[p]])));

      const top = await s.store.topN('alerts', 'rule', ALL_TIME, 5);
      assert.deepEqual(top, [{ value: 'Rule A', count: 60 }, { value: 'Rule B', count: 60 }]);
      const h = await s.store.histogram('alerts', ALL_TIME, undefined, 10);
      assert.equal(h.reduce((x, b) => x + b.count, 0), 120);
    });

    test('a condition that does not compile is an error naming the condition and column', async (t) => {
      const s = await openTestStore(t, kind);
      if (!s) return;
      await assert.rejects(s.store.searchEvents({ range: ALL_TIME, limit: 5, condition: 'ka.verb = ' }), (e: Error) => {
        assert.equal(e.name, 'ConditionError');
        assert.match(e.message, /^condition:1:\d+: /);
        return true;
      });
      await assert.rejects(s.store.searchEvents({ range: ALL_TIME, limit: 5, condition: 'ka.nope = 1' }), /condition:1:1: filter_check called with nonexistent field ka.nope/);
      await assert.rejects(s.store.searchEvents({ range: ALL_TIME, limit: 5, condition: 'my_macro and ka.verb = get' }), /Undefined macro 'my_macro'/);
    });

    test('retention by age removes old events and alerts', async (t) => {
      const s = await openTestStore(t, kind);
      if (!s) return;
      const now = BigInt(Date.now()) * 1_000_000n;
      const evs = generateEvents(60, 23, 60).map((e, i) => {
        (e as { timeNs: bigint }).timeNs = i < 30 ? now - 10n * 86_400_000_000_000n : now - 60_000_000_000n;
        return e;
      });
      await s.store.writeEvents(evs.map((e) => toStoredEvent(e)));
      await s.store.writeAlerts(evs.map((e, i) => sampleAlert(`r-${i}`, e)));
      await s.store.enforceRetention({ events: { maxAgeMs: 86_400_000 }, alerts: { maxAgeMs: 86_400_000 } });
      await waitFor(async () => (await s.store.counts()).events === 30 && (await s.store.counts()).alerts === 30);
      assert.deepEqual(await s.store.counts(), { events: 30, alerts: 30 });
    });

    test('retention by size drops the oldest data first', async (t) => {
      const s = await openTestStore(t, kind);
      if (!s) return;
      const evs = generateEvents(3000, 29, 5 * 86400);
      await s.store.writeEvents(evs.map((e) => toStoredEvent(e)));
      // A generous limit keeps everything; a tiny one keeps (almost) nothing, oldest first.
      await s.store.enforceRetention({ events: { maxBytes: 1e12 } });
      assert.equal((await s.store.counts()).events, 3000);
      await s.store.enforceRetention({ events: { maxBytes: 1 } });
      await waitFor(async () => (await s.store.counts()).events < 3000);
      const left = await all(s.store, undefined);
      assert.ok(left.length < 3000);
      const newest = [...evs].sort((a, b) => (a.timeNs < b.timeNs ? 1 : -1)).slice(0, left.length).map(keyOf).sort();
      assert.deepEqual(keys(left), newest);
    });
  });
}

async function waitFor(cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function sampleAlert(id: string, ev: AuditEvent, priority = 'Warning', rule = 'Test Rule'): StoredAlert {
  const a: StoredAlert = {
    id, timeNs: ev.timeNs, rule, priority, source: 'k8s_audit', output: `${rule} fired`,
    outputFields: { 'evt.time': ev.timeNs, 'ka.verb': (ev.raw.verb as string | undefined) ?? null }, tags: ['k8s', 'test'],
    eventRef: keyOf(ev),
  };
  if (ev.labels) a.labels = ev.labels;
  return a;
}
