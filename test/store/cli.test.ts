/**
 * `vigil search` and `vigil hunt` as a person runs them (child processes), on a data
 * directory of their own and through a running server's store API (server.json).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBStore } from '../../src/store/duckdb.ts';
import { storeApiHandler } from '../../src/store/api.ts';
import { toStoredEvent } from '../../src/store/index.ts';
import { projectRoot, sharedPath } from '../helpers.ts';
import { ALL_TIME, traceEvents, traceFiles } from './fixtures.ts';

const K8S_RULES = sharedPath('falco', 'rules', 'k8s_audit_rules.yaml');

function vigil(args: string[], input?: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(projectRoot, 'bin', 'vigil.mjs'), ...args], { env: { ...process.env, TZ: 'UTC' } });
    let out = '';
    let err = '';
    p.stdout.on('data', (b) => { out += b; });
    p.stderr.on('data', (b) => { err += b; });
    p.on('close', (code) => resolve({ code: code ?? -1, out, err }));
    p.stdin.end(input ?? '');
  });
}

const lines = (s: string) => s.split('\n').filter((l) => l !== '');

describe('vigil search and hunt', { skip: traceFiles().length === 0 ? 'no ../shared/falco/k8s_audit_traces' : false }, () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-cli-'));
    const store = new DuckDBStore({ path: path.join(dir, 'vigil.duckdb') });
    await store.open();
    await store.writeEvents(traceEvents().map((e) => { e.labels = { cluster: 'prod-eu-1' }; return toStoredEvent(e); }));
    await store.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('search prints the matching events, newest first; --json pipes into `vigil replay`', async () => {
    const r = await vigil(['search', 'ka.verb = create and ka.target.resource = secrets', '--data', dir, '--since', '10000d']);
    assert.equal(r.code, 0, r.err);
    const out = lines(r.out);
    assert.equal(out.length, 3);
    assert.match(out[0]!, /^2020-04-21T17:57:05\.548299000Z {2}create {2}secrets {2}default\/example-secret {2}minikube-user {2}201 {2}\[prod-eu-1\]$/);
    const json = await vigil(['search', 'ka.verb exists', '--json', '--data', dir, '--since', '10000d', '--limit', '1000']);
    assert.equal(lines(json.out).length, 49);
    const replayed = await vigil(['replay', '--rules', K8S_RULES, '--format', 'json', '-'], json.out);
    assert.equal(replayed.code, 0, replayed.err);
    const hunted = await vigil(['hunt', '--rules', K8S_RULES, '--json', '--dry-run', '--data', dir, '--since', '10000d']);
    assert.equal(hunted.code, 0, hunted.err);
    // The same alerts as replaying the stored events (hunt goes oldest first, search newest first).
    assert.deepEqual(lines(hunted.out).sort(), lines(replayed.out).sort());
    assert.match(hunted.err, /dry run, nothing stored/);
  });

  test('hunt stores its hits once, marked as hunt results', async () => {
    const first = await vigil(['hunt', '--rules', K8S_RULES, '--data', dir, '--since', '10000d']);
    assert.equal(first.code, 0, first.err);
    const n = lines(first.out).length;
    assert.ok(n > 10);
    assert.match(first.err, new RegExp(`: ${n} alerts, ${n} new stored as hunt results`));
    const again = await vigil(['hunt', '--rules', K8S_RULES, '--data', dir, '--since', '10000d']);
    assert.match(again.err, new RegExp(`: ${n} alerts, 0 new stored as hunt results`));
    const alerts = await vigil(['search', '--alerts', 'ka.target.resource = secrets', '--json', '--data', dir, '--since', '10000d']);
    const parsed = lines(alerts.out).map((l) => JSON.parse(l) as { hunt?: boolean; rule: string });
    assert.ok(parsed.length > 0 && parsed.every((a) => a.hunt === true));
  });

  test('bad input is one line naming what is wrong, no stack trace', async () => {
    const cases: Array<[string[], RegExp, number]> = [
      [['search', 'ka.verb in (a', '--data', dir], /^vigil search: condition:1:\d+: .*\n {2}ka\.verb in \(a\n {2}\s*\^\n$/, 2],
      [['search', 'ka.verb = get', '--since', 'yesterday', '--data', dir], /^vigil search: 'yesterday' is not a duration/, 2],
      [['search', 'ka.verb = get', '--from', '2024-13-01', '--data', dir], /^vigil search: from: '2024-13-01' is not a time/, 2],
      [['search', 'ka.verb = get', '--data', path.join(dir, 'none')], /^vigil search: no store in .*none/, 1],
      [['hunt', '--rules', path.join(dir, 'missing.yaml'), '--data', dir], /missing\.yaml.*LOAD_ERR_FILE_READ/, 1],
      [['hunt', '--data', dir], /^vigil hunt: --rules FILE is required/, 2],
    ];
    for (const [args, re, code] of cases) {
      const r = await vigil(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re);
      assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
    }
  });

  test('while a server holds the store, the CLI goes through its API (server.json)', async (t) => {
    const sdir = mkdtempSync(path.join(os.tmpdir(), 'vigil-srv-'));
    const store = new DuckDBStore({ path: path.join(sdir, 'vigil.duckdb') });
    await store.open();
    await store.writeEvents(traceEvents().map((e) => toStoredEvent(e)));
    const api = storeApiHandler(store);
    const server = createServer((req, res) => {
      const url = req.url ?? '/';
      if (url === '/healthz') return void res.end('{"status":"ok"}');
      if (url.startsWith('/api/store/')) {
        const rest = url.slice('/api/store/'.length).split('?')[0]!;
        return void api(req, res, rest);
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    writeFileSync(path.join(sdir, 'server.json'), JSON.stringify({ url, pid: process.pid }));
    t.after(async () => {
      await new Promise((r) => server.close(r));
      await store.close();
      rmSync(sdir, { recursive: true, force: true });
    });
    // The DuckDB file is open in this process: a direct open from the CLI would fail.
    const r = await vigil(['search', 'ka.target.resource = secrets', '--data', sdir, '--since', '10000d']);
    assert.equal(r.code, 0, r.err);
    assert.equal(lines(r.out).length, 4);
    const bad = await vigil(['search', 'ka.nope = 1', '--data', sdir, '--since', '10000d']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^vigil search: condition:1:1: filter_check called with nonexistent field ka\.nope/);
    const h = await vigil(['hunt', '--rules', K8S_RULES, '--data', sdir, '--since', '10000d']);
    assert.equal(h.code, 0, h.err);
    const n = lines(h.out).length;
    assert.match(h.err, new RegExp(`${n} new stored as hunt results — server ${url.replace(/\./g, '\\.')}`));
    assert.equal((await store.searchAlerts({ range: ALL_TIME, limit: 1000, alerts: { hunt: true } })).items.length, n);
  });
});
