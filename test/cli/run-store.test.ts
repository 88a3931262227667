/**
 * `vigil run` and its store: the store API mounted at /api/store, so that `vigil search` and
 * `vigil hunt` (child processes) work while a `vigil run` (child process) holds the DuckDB
 * file, with the server's auth_token; and retention from the configuration, enforced in the
 * background on a real DuckDB store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseConfigValue } from '../../src/config/load.ts';
import { startService } from '../../src/cli/service.ts';
import { projectRoot } from '../helpers.ts';
import { auditEvent, shellEvent, tmpDir } from '../harness.ts';

const BIN = path.join(projectRoot, 'bin', 'vigil.mjs');
const PACK = path.join(projectRoot, 'rules', 'vigil-k8s-antipatterns.yaml');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lines = (s: string) => s.split('\n').filter((l) => l !== '');

function vigil(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, TZ: 'UTC', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b) => { out += b; });
    p.stderr.on('data', (b) => { err += b; });
    p.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

/** A `vigil run` child process, started and ready (its server.json names it). */
async function startRun(cfgFile: string, dataDir: string): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const env = { ...process.env };
  delete env.VIGIL_AUTH_TOKEN;
  const child = spawn(process.execPath, [BIN, 'run', '--config', cfgFile], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-50_000); });
  const serverFile = path.join(dataDir, 'server.json');
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vigil run exited with ${child.exitCode}:\n${stderr}`);
    // Generous: other test files load this 2-core machine at the same time.
    if (Date.now() - t0 > 120_000) {
      child.kill('SIGKILL');
      throw new Error(`vigil run did not start in 120 s:\n${stderr}`);
    }
    try {
      const info = JSON.parse(readFileSync(serverFile, 'utf8')) as { pid: number; url: string };
      if (info.pid === child.pid) return { child, url: info.url, stderr: () => stderr };
    } catch { /* not yet */ }
    await sleep(50);
  }
}

async function stopRun(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await exited;
  clearTimeout(kill);
  return code;
}

test('vigil search and hunt go through the store API of a running vigil run (which holds the DuckDB file), with its auth_token', { timeout: 300_000 }, async () => {
  const dir = tmpDir('vigil-run-store-');
  const cfgFile = path.join(dir, 'vigil.yaml');
  writeFileSync(cfgFile, ['listen: 127.0.0.1:0', `data_dir: ${dir}`, 'log_level: warn', 'auth_token: t0ken', 'outputs: []', 'sources: [{ type: k8s_audit_webhook }]', ''].join('\n'));
  const run = await startRun(cfgFile, dir);
  try {
    const shell = shellEvent();
    const events = [shell, auditEvent(), auditEvent(), auditEvent({ verb: 'delete', objectRef: { resource: 'secrets', namespace: 'shop', name: 'db', apiVersion: 'v1' } })];
    const post = await fetch(run.url + '/k8s-audit', { method: 'POST', body: JSON.stringify(events), headers: { 'Content-Type': 'application/json', Authorization: 'Bearer t0ken' } });
    assert.equal(post.status, 200, await post.text());
    // The store API needs the token too.
    assert.equal((await fetch(run.url + '/api/store/counts')).status, 401);
    const counts = async (): Promise<{ events: number; alerts: number; kind: string }> =>
      (await (await fetch(run.url + '/api/store/counts', { headers: { Authorization: 'Bearer t0ken' } })).json()) as { events: number; alerts: number; kind: string };
    for (const t0 = Date.now(); (await counts()).events < 4; await sleep(100)) if (Date.now() - t0 > 30_000) throw new Error('events not stored');
    assert.deepEqual(await counts(), { events: 4, alerts: 1, kind: 'duckdb' });

    // Without the token the CLI says what is missing, in one line.
    const denied = await vigil(['search', 'ka.verb = delete', '--data', dir, '--since', '3650d']);
    assert.equal(denied.code, 1, denied.err);
    assert.match(denied.err, /requires its auth_token for the store API: set VIGIL_AUTH_TOKEN/);
    assert.doesNotMatch(denied.err, /\n\s+at /);

    const env = { VIGIL_AUTH_TOKEN: 't0ken' };
    const found = await vigil(['search', 'ka.verb = delete and ka.target.resource in (secrets, configmaps)', '--data', dir, '--since', '3650d'], env);
    assert.equal(found.code, 0, found.err);
    assert.equal(lines(found.out).length, 1);
    assert.match(found.out, /delete {2}secrets {2}shop\/db/);
    const alerts = await vigil(['search', '--alerts', 'ka.target.subresource = exec', '--json', '--data', dir, '--since', '3650d'], env);
    assert.equal(alerts.code, 0, alerts.err);
    assert.equal((JSON.parse(lines(alerts.out)[0]!) as { rule: string }).rule, 'K8s Interactive Shell In Pod');
    const bad = await vigil(['search', 'ka.verb in (a', '--data', dir], env);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^vigil search: condition:1:\d+: /);

    const hunt = await vigil(['hunt', '--rules', PACK, '--data', dir, '--since', '3650d'], env);
    assert.equal(hunt.code, 0, hunt.err);
    assert.match(hunt.err, new RegExp(`1 new stored as hunt results — server ${run.url.replace(/[.]/g, '\\.')}`));
    assert.match(hunt.out, /Interactive Shell In Pod|exec/i);
    assert.deepEqual(await counts(), { events: 4, alerts: 2, kind: 'duckdb' });
  } finally {
    const code = await stopRun(run.child);
    assert.equal(code, 0, run.stderr());
  }
  // Stopped: server.json is gone and the CLI opens the file itself.
  assert.equal(existsSync(path.join(dir, 'server.json')), false);
  const direct = await vigil(['search', '--alerts', 'ka.target.subresource = exec', '--data', dir, '--since', '3650d']);
  assert.equal(direct.code, 0, direct.err);
  assert.equal(lines(direct.out).length, 2);
  rmSync(dir, { recursive: true, force: true });
});

test('retention from the run configuration: events past max_age_days and alerts past max_bytes are deleted in the background', { timeout: 180_000 }, async () => {
  const dir = tmpDir('vigil-retention-');
  const cfg = parseConfigValue({
    listen: '127.0.0.1:0', data_dir: dir, log_level: 'info', outputs: [],
    storage: { type: 'duckdb', retention: { events: { max_age_days: 30 }, alerts: { max_bytes: 1 }, interval_ms: 1000 } },
  });
  const logs: string[] = [];
  const logStream = new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } });
  const svc = await startService(cfg, { logStream, stdout: () => undefined });
  try {
    const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();
    const day = 86_400_000;
    const at = (e: Record<string, unknown>, msAgo: number): Record<string, unknown> => ({ ...e, requestReceivedTimestamp: iso(msAgo), stageTimestamp: iso(msAgo) });
    const old = [at(auditEvent(), 40 * day), at(auditEvent(), 31 * day)];
    const recent = [at(auditEvent(), 29 * day), at(auditEvent(), 60_000), at(shellEvent(), 60_000)];
    const r = await fetch(svc.url + '/k8s-audit', { method: 'POST', body: JSON.stringify([...old, ...recent]), headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 200, await r.text());
    // Stored first (at least the recent ones), then trimmed by the background task.
    const t0 = Date.now();
    for (;;) {
      const c = await svc.store.counts();
      const ids = new Set((await svc.store.searchEvents({ range: { fromNs: 0n, toNs: BigInt(Date.now() + day) * 1_000_000n }, limit: 100 })).items.map((e) => e.auditId));
      if (c.events === recent.length && c.alerts === 0 && recent.every((e) => ids.has(e.auditID as string))) break;
      if (Date.now() - t0 > 60_000) throw new Error(`retention did not trim in 60 s: ${JSON.stringify(c)}`);
      await sleep(200);
    }
    assert.match(logs.join(''), /storage: retention enforced in the background/);
  } finally {
    await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
