/**
 * Every store test runs once per backend. DuckDB is always there (an npm dependency);
 * ClickHouse needs the `clickhouse-server` binary: one server per test file, started on first
 * use, with a fresh database per test. When it is missing a test skips loudly (fails in CI).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, type TestContext } from 'node:test';
import { ClickHouseStore } from '../../src/store/clickhouse.ts';
import { DuckDBStore } from '../../src/store/duckdb.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { storeApiHandler } from '../../src/store/api.ts';
import { RemoteStore } from '../../src/store/remote.ts';
import type { Store, StoredEvent, StoredSyscallEvent } from '../../src/store/types.ts';
import { skipOrFail } from '../helpers.ts';
import { type ClickHouseServer, clickhouseCommand, startClickHouse } from './clickhouse-server.ts';

/** `remote`: the store API (api.ts) over HTTP, served from a DuckDB store, read with RemoteStore. */
export type BackendName = 'duckdb' | 'clickhouse' | 'remote';
export const BACKENDS: readonly BackendName[] = ['duckdb', 'clickhouse', 'remote'];

/** Reads through HTTP; events are written (and retention run) on the server's store directly. */
class RemoteTestStore extends RemoteStore {
  constructor(base: string, private readonly inner: Store) {
    super(base);
  }
  override writeEvents(batch: StoredEvent[]): Promise<number> {
    return this.inner.writeEvents(batch);
  }
  override writeSyscallEvents(batch: StoredSyscallEvent[]): Promise<number> {
    return this.inner.writeSyscallEvents(batch);
  }
  override enforceRetention(p: Parameters<Store['enforceRetention']>[0]): Promise<void> {
    return this.inner.enforceRetention(p);
  }
}

export interface OpenedStore {
  store: Store;
  /** Files or folders holding the data (for byte-level checks). */
  dataPaths: string[];
  /** Stored raw texts decompressed, where the backend compresses them itself (DuckDB's raw blocks). */
  rawTexts?: () => AsyncIterable<string>;
}

let server: Promise<ClickHouseServer> | undefined;
let dbCounter = 0;

after(async () => {
  if (server) await (await server).stop();
});

/** Open a fresh, empty store of this backend, or skip the test (fail in CI) when unavailable. */
export async function openTestStore(t: TestContext, kind: BackendName, opts: { redactPointers?: string[]; rulesFiles?: string[] } = {}): Promise<OpenedStore | undefined> {
  if (kind === 'duckdb' || kind === 'remote') {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-duck-'));
    const file = path.join(dir, 'vigil.duckdb');
    const store = new DuckDBStore({ path: file, ...opts });
    await store.open();
    t.after(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const rawTexts = () => store.rawTexts();
    if (kind === 'duckdb') return { store, dataPaths: [dir], rawTexts };
    const api = storeApiHandler(store);
    const server = createServer((req, res) => {
      const p = (req.url ?? '/').split('?')[0]!;
      if (!p.startsWith('/api/store/')) return void res.writeHead(404).end();
      api(req, res, p.slice('/api/store/'.length)).catch((e: Error) => res.writeHead(500).end(e.message));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => new Promise((r) => server.close(r)));
    const remote = new RemoteTestStore(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/store`, store);
    await remote.open();
    return { store: remote, dataPaths: [dir], rawTexts };
  }
  if (!clickhouseCommand()) {
    skipOrFail(t, 'clickhouse-server is not installed (apt-get install clickhouse-server)');
    return undefined;
  }
  server ??= startClickHouse();
  const s = await server;
  const store = new ClickHouseStore({ url: s.url, database: `vigil_test_${process.pid}_${++dbCounter}`, username: 'default', password: '', ...opts });
  await store.open();
  t.after(() => store.close());
  return { store, dataPaths: [s.dataDir] };
}

export async function clickhouseVersion(): Promise<string | undefined> {
  return server ? (await server).version : undefined;
}
