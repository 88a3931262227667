// The bundle that bin/vigil.mjs runs when it is newer than the sources (scripts/build.mjs):
// it builds, finds the bundled rule packs from dist/, and answers as the sources do; the bin
// script runs the sources when asked to (VIGIL_FROM_SOURCE=1) or when a source is newer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../helpers.ts';

const EXEC = JSON.stringify({
  kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: 'b-1', stage: 'ResponseComplete',
  requestURI: '/api/v1/namespaces/shop/pods/web-1/exec?command=bash&stdin=true&stdout=true&tty=true', verb: 'create',
  user: { username: 'mallory@example.com', groups: ['system:authenticated'] }, sourceIPs: ['203.0.113.50'], userAgent: 'kubectl/v1.30.2',
  objectRef: { resource: 'pods', namespace: 'shop', name: 'web-1', apiVersion: 'v1', subresource: 'exec' },
  responseStatus: { metadata: {}, code: 101 }, requestReceivedTimestamp: '2026-01-02T03:04:05.000000Z', stageTimestamp: '2026-01-02T03:04:05.100000Z',
  annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
});

test('the bundle builds, runs the bundled rules from its own folder, and alerts as the sources do', (t) => {
  // Inside the project (.tmp/ is ignored by git), so that the packs are found as from dist/.
  mkdirSync(path.join(projectRoot, '.tmp'), { recursive: true });
  const dir = mkdtempSync(path.join(projectRoot, '.tmp', 'bundle-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'vigil.mjs');
  const b = spawnSync(process.execPath, ['scripts/build.mjs', '--outfile', out], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
  assert.equal(b.status, 0, b.stderr);
  const events = path.join(dir, 'events.json');
  writeFileSync(events, EXEC + '\n');
  const entry = path.join(dir, 'entry.mjs');
  writeFileSync(entry, `const { main } = await import('./vigil.mjs');\nprocess.exitCode = await main(process.argv.slice(2));\n`);
  const args = ['replay', events, '--format', 'json'];
  const fromBundle = spawnSync(process.execPath, [entry, ...args], { cwd: os.tmpdir(), encoding: 'utf8', timeout: 60_000 });
  const fromSource = spawnSync(process.execPath, ['bin/vigil.mjs', ...args], {
    cwd: projectRoot, encoding: 'utf8', timeout: 60_000, env: { ...process.env, VIGIL_FROM_SOURCE: '1' },
  });
  assert.equal(fromBundle.status, 0, fromBundle.stderr);
  assert.equal(fromSource.status, 0, fromSource.stderr);
  assert.match(fromBundle.stdout, /"rule":"K8s Interactive Shell In Pod"/, 'the bundled pack fired on the exec');
  assert.equal(fromBundle.stdout, fromSource.stdout);
});

test('bin/vigil.mjs runs the sources when one is newer than the bundle, or when asked', (t) => {
  const run = (env: Record<string, string>): string => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-entry-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const cfg = path.join(dir, 'vigil.yaml');
    writeFileSync(cfg, 'listen: 127.0.0.1:0\nlog_level: info\noutputs: []\nsources: []\nstorage: { type: memory }\n');
    // `run` with a config that starts nothing but the server, stopped once it says where it listens.
    const r = spawnSync(process.execPath, ['-e', `
      const { spawn } = require('node:child_process');
      const c = spawn(process.execPath, ['bin/vigil.mjs', 'run', '--config', ${JSON.stringify(cfg)}, '--data', ${JSON.stringify(dir)}], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const seen = (d) => { out += d; const m = /"code":"(\\w+)"/.exec(out); if (m) { console.log(m[1]); c.kill(); process.exit(0); } };
      c.stdout.on('data', seen);
      c.stderr.on('data', seen);
      setTimeout(() => { c.kill(); }, 50000);`], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  assert.equal(run({ VIGIL_FROM_SOURCE: '1' }), 'source');
  // Fresh bundle → bundle; a source touched after it → source.
  const b = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
  assert.equal(b.status, 0, b.stderr);
  const future = new Date(Date.now() + 3600_000);
  utimesSync(path.join(projectRoot, 'dist', 'vigil.mjs'), future, future);
  assert.equal(run({}), 'bundle');
  const past = new Date(Date.now() - 3600_000);
  utimesSync(path.join(projectRoot, 'dist', 'vigil.mjs'), past, past);
  assert.equal(run({}), 'source');
  // Left as a fresh build would be.
  const now = new Date();
  utimesSync(path.join(projectRoot, 'dist', 'vigil.mjs'), now, now);
});
