/**
 * Crash safety end to end: `vigil run` (a real child process, DuckDB storage) tails an audit
 * log while a writer appends 200,000 events (with a rotation by rename halfway), and is
 * killed with SIGKILL at random moments and restarted each time. At the end every event is
 * stored exactly once: the count and the set of auditIDs match what was written. The same for
 * the webhook: batches answered 200 survive a SIGKILL right after the answer, and batches
 * retried by the client after a kill are stored once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openStore } from '../../src/store/index.ts';
import { projectRoot } from '../helpers.ts';
import { tmpDir } from '../harness.ts';

const TOTAL = Number(process.env.VIGIL_CRASH_EVENTS ?? 200_000);
const KILLS = 5;

/** mulberry32: the same kill moments on every run for a given seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function event(i: number): string {
  const id = `c0000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  const ms = Date.UTC(2026, 0, 1) + i;
  const ts = new Date(ms).toISOString().replace('Z', '000Z');
  return `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"${id}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/pods","verb":"list","user":{"username":"system:serviceaccount:monitoring:prometheus","groups":["system:serviceaccounts","system:authenticated"]},"sourceIPs":["10.0.2.77"],"userAgent":"Prometheus/2.53.1","objectRef":{"resource":"pods","namespace":"shop","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"${ts}","stageTimestamp":"${ts}"}\n`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every `vigil run` a test spawned: all are killed when the test ends, whatever happened. */
const spawned = new Set<ChildProcess>();
function spawnVigil(cfgFile: string, onErr: (s: string) => void): ChildProcess {
  const c = spawn(process.execPath, [path.join(projectRoot, 'bin', 'vigil.mjs'), 'run', '--config', cfgFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  c.stderr!.on('data', (d: Buffer) => onErr(d.toString()));
  spawned.add(c);
  c.once('exit', () => spawned.delete(c));
  return c;
}
function killAll(): void {
  for (const c of spawned) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/** `<data>/server.json` of a running `vigil run`, or undefined while it is not (yet) there. */
function serverInfo(file: string): { pid: number; url: string } | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { pid: number; url: string };
  } catch {
    return undefined;
  }
}

test(`crash: kill -9 of vigil run at random moments while ${TOTAL} events are written; every event stored exactly once`, { timeout: 600_000 }, async () => {
  const data = tmpDir('vigil-crash-data-');
  const logs = tmpDir('vigil-crash-logs-');
  const log = path.join(logs, 'audit.log');
  writeFileSync(log, '');
  const cfgFile = path.join(data, 'vigil.yaml');
  writeFileSync(cfgFile, [
    'listen: 127.0.0.1:0', `data_dir: ${data}`, 'log_level: warn', 'outputs: []',
    'sources:', '  - type: k8s_audit_file', `    include: ["${path.join(logs, 'audit*.log')}"]`, '    poll_interval_ms: 50', '    checkpoint_interval_ms: 100', '',
  ].join('\n'));
  const serverFile = path.join(data, 'server.json');
  let child: ChildProcess | undefined;
  let stderr = '';
  const start = async (): Promise<ChildProcess> => {
    const c = spawnVigil(cfgFile, (d) => { stderr = (stderr + d).slice(-20_000); });
    const t0 = Date.now();
    while (!existsSync(serverFile) || serverInfo(serverFile)?.pid !== c.pid) {
      if (c.exitCode !== null) throw new Error(`vigil run exited with ${c.exitCode}:\n${stderr}`);
      if (Date.now() - t0 > 90_000) throw new Error(`vigil run did not start:\n${stderr}`);
      await sleep(20);
    }
    return c;
  };
  const exited = (c: ChildProcess): Promise<void> => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

  const random = rng(Number(process.env.VIGIL_CRASH_SEED ?? 4242));
  let kills = 0;
  try {
    child = await start();
    // The killer: SIGKILL at random moments, then restart; on a slow machine the last kills
    // may land after the writer has finished, while the backlog is still being stored.
    const killer = (async () => {
      while (kills < KILLS) {
        await sleep(400 + random() * 1500);
        child!.kill('SIGKILL');
        await exited(child!);
        kills++;
        child = await start();
      }
    })();
    // The writer: 1,000 lines at a time, a rotation by rename halfway.
    // (`i === TOTAL / 2` needs TOTAL to be a multiple of 2,000.)
    for (let i = 0; i < TOTAL; i += 1000) {
      if (i === TOTAL / 2) {
        renameSync(log, path.join(logs, 'audit-rotated.log'));
        writeFileSync(log, '');
      }
      let chunk = '';
      for (let j = i; j < Math.min(TOTAL, i + 1000); j++) chunk += event(j);
      appendFileSync(log, chunk);
      // Spread the writing over about 20 s so that the kills land while it goes on.
      await sleep(20_000 / (TOTAL / 1000));
    }

    await killer;
    // Let the last run catch up (the tail's lag reaches 0), then stop it cleanly.
    const url = JSON.parse(readFileSync(serverFile, 'utf8')).url as string;
    const t0 = Date.now();
    for (;;) {
      const r = (await (await fetch(url + '/readyz')).json()) as { sources: Record<string, { lag_bytes: number; files: unknown[] }> };
      const tail = r.sources.k8s_audit_file!;
      if (tail.lag_bytes === 0 && tail.files.length >= 1) {
        await sleep(300);
        const again = (await (await fetch(url + '/readyz')).json()) as typeof r;
        if (again.sources.k8s_audit_file!.lag_bytes === 0) break;
      }
      if (Date.now() - t0 > 300_000) throw new Error('vigil run did not catch up');
      await sleep(200);
    }
    child.kill('SIGTERM');
    await exited(child);
    assert.equal(child.exitCode, 0, stderr);
    assert.equal(existsSync(serverFile), false);
  } finally {
    killAll();
  }
  assert.equal(kills, KILLS);

  const store = await openStore({ type: 'duckdb' }, { dataDir: data });
  try {
    const counts = await store.counts();
    const ids = new Set<string>();
    let cursor: string | undefined;
    let rows = 0;
    do {
      const page = await store.searchEvents({ range: { fromNs: 0n, toNs: 1n << 62n }, limit: 10_000, order: 'asc', ...(cursor ? { cursor } : {}) });
      for (const e of page.items) ids.add(e.auditId);
      rows += page.items.length;
      cursor = page.cursor;
    } while (cursor);
    assert.equal(counts.events, TOTAL, 'stored count');
    assert.equal(rows, TOTAL, 'rows returned');
    assert.equal(ids.size, TOTAL, 'distinct auditIDs');
    for (let i = 0; i < TOTAL; i += 9973) assert.ok(ids.has(`c0000000-0000-4000-8000-${String(i).padStart(12, '0')}`));
  } finally {
    await store.close();
    try { unlinkSync(cfgFile); } catch { /* ignore */ }
  }
});

test('crash: webhook batches answered 200 survive kill -9; client retries are stored once', { timeout: 600_000 }, async () => {
  const data = tmpDir('vigil-crash-hook-');
  const cfgFile = path.join(data, 'vigil.yaml');
  writeFileSync(cfgFile, ['listen: 127.0.0.1:0', `data_dir: ${data}`, 'log_level: warn', 'outputs: []', 'sources:', '  - type: k8s_audit_webhook', ''].join('\n'));
  const serverFile = path.join(data, 'server.json');
  let stderr = '';
  const start = async (): Promise<{ c: ChildProcess; url: string }> => {
    const c = spawnVigil(cfgFile, (d) => { stderr = (stderr + d).slice(-20_000); });
    const t0 = Date.now();
    for (;;) {
      const info = existsSync(serverFile) ? serverInfo(serverFile) : undefined;
      if (info && info.pid === c.pid) return { c, url: info.url };
      if (c.exitCode !== null) throw new Error(`vigil run exited with ${c.exitCode}:\n${stderr}`);
      if (Date.now() - t0 > 90_000) throw new Error(`vigil run did not start:\n${stderr}`);
      await sleep(20);
    }
  };
  const exited = (c: ChildProcess): Promise<void> => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
  const BATCHES = 120;
  const PER = 500;
  const body = (b: number): string => '[' + Array.from({ length: PER }, (_, j) => event(b * PER + j).trimEnd()).join(',') + ']';
  const random = rng(777);
  let srv = await start();
  let kills = 0;
  const acked = new Set<number>();
  try {
    for (let b = 0; b < BATCHES; b++) {
      for (;;) {
        let status = 0;
        try {
          status = (await fetch(srv.url + '/k8s-audit', { method: 'POST', body: body(b), headers: { 'Content-Type': 'application/json' } })).status;
        } catch { /* connection reset by the kill: retry after restart */ }
        if (status === 200) {
          acked.add(b);
          // Kill right after some answers: what was answered 200 must survive.
          if (kills < 4 && random() < 0.04) {
            srv.c.kill('SIGKILL');
            await exited(srv.c);
            kills++;
            srv = await start();
          }
          break;
        }
        if (srv.c.exitCode !== null || srv.c.signalCode !== null) srv = await start();
        await sleep(50);
      }
    }
    // Wait until everything spooled is stored, then stop cleanly.
    const t0 = Date.now();
    for (;;) {
      const r = (await (await fetch(srv.url + '/readyz')).json()) as { spool_bytes: number };
      if (r.spool_bytes === 0) break;
      if (Date.now() - t0 > 300_000) throw new Error(`spool did not drain:\n${stderr}`);
      await sleep(100);
    }
    srv.c.kill('SIGTERM');
    await exited(srv.c);
  } finally {
    killAll();
  }
  assert.ok(kills >= 1, 'at least one kill happened');
  assert.equal(acked.size, BATCHES);
  const store = await openStore({ type: 'duckdb' }, { dataDir: data });
  try {
    assert.equal((await store.counts()).events, BATCHES * PER);
    for (const b of [0, 37, BATCHES - 1]) assert.ok(await store.getEvent(`c0000000-0000-4000-8000-${String(b * PER).padStart(12, '0')}`, 'ResponseComplete'));
  } finally {
    await store.close();
  }
});
