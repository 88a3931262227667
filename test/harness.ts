/**
 * Test harness for the service: audit events to post or write, and a `vigil run` started in
 * this process on a free port with a temporary data directory and the memory store (or a
 * store given by the test).
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { parseConfigValue } from '../src/config/load.ts';
import { type Service, startService } from '../src/cli/service.ts';
import type { Store } from '../src/store/types.ts';
import { MemoryStore } from '../src/pipeline/memstore.ts';

export function tmpDir(prefix = 'vigil-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

let seq = 0;

/** An ordinary audit event (no bundled rule fires on it). */
export function auditEvent(over: Record<string, unknown> = {}, id?: string): Record<string, unknown> {
  seq++;
  const t = new Date(Date.UTC(2026, 0, 1, 12, 0, 0) + seq).toISOString().replace('Z', '123Z');
  return {
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata',
    auditID: id ?? `a0000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    stage: 'ResponseComplete', requestURI: '/api/v1/namespaces/shop/pods', verb: 'list',
    user: { username: 'system:serviceaccount:monitoring:prometheus', groups: ['system:serviceaccounts', 'system:authenticated'] },
    sourceIPs: ['10.0.2.77'], userAgent: 'Prometheus/2.53.1',
    objectRef: { resource: 'pods', namespace: 'shop', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: t, stageTimestamp: t,
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
    ...over,
  };
}

/** An audit event the bundled pack alerts on (interactive shell in a pod). */
export function shellEvent(id?: string): Record<string, unknown> {
  return auditEvent({
    verb: 'create', user: { username: 'mallory@example.com', groups: ['system:authenticated'] }, userAgent: 'kubectl/v1.30.2',
    requestURI: '/api/v1/namespaces/shop/pods/web-1/exec?command=bash&container=web&stdin=true&stdout=true&tty=true',
    objectRef: { resource: 'pods', namespace: 'shop', name: 'web-1', subresource: 'exec', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 101 },
  }, id);
}

export interface TestService {
  svc: Service;
  dir: string;
  store: Store;
  stdout: string[];
  logs: string[];
  post(p: string, body: string | Buffer, headers?: Record<string, string>): Promise<{ status: number; body: string; headers: Headers }>;
  get(p: string): Promise<{ status: number; body: string; headers: Headers }>;
  /** Wait until `pred` holds (polling), or fail after `ms`. */
  until(pred: () => boolean | Promise<boolean>, ms?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestService(partial: Record<string, unknown> = {}, opts: { store?: Store; dir?: string } = {}): Promise<TestService> {
  const dir = opts.dir ?? tmpDir();
  const cfg = parseConfigValue({
    listen: '127.0.0.1:0', data_dir: dir, log_level: 'info', storage: { type: 'memory' },
    outputs: [{ type: 'console', format: 'json' }], ...partial,
  });
  const stdout: string[] = [];
  const logs: string[] = [];
  const logStream = new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } });
  const store = opts.store ?? new MemoryStore();
  const svc = await startService(cfg, { stdout: (s) => stdout.push(s), logStream, store });
  return {
    svc, dir, store, stdout, logs,
    async post(p, body, headers = {}) {
      const r = await fetch(svc.url + p, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });
      return { status: r.status, body: await r.text(), headers: r.headers };
    },
    async get(p) {
      const r = await fetch(svc.url + p);
      return { status: r.status, body: await r.text(), headers: r.headers };
    },
    async until(pred, ms = 10_000) {
      const t0 = Date.now();
      while (!(await pred())) {
        if (Date.now() - t0 > ms) throw new Error('condition not met in time');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop: () => svc.stop(),
  };
}

export { gzipSync };
