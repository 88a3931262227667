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
import type { Store } from '../../src/store/types.ts';
import { skipOrFail } from '../helpers.ts';
import { type ClickHouseServer, clickhouseCommand, startClickHouse } from './clickhouse-server.ts';

export type BackendName = 'duckdb' | 'clickhouse';
export const BACKENDS: readonly BackendName[] = ['duckdb', 'clickhouse'];

export interface OpenedStore {
  store: DuckDBStore | ClickHouseStore;
  /** Files or folders holding the data (for byte-level checks). */
  dataPaths: string[];
}

let server: Promise<ClickHouseServer> | undefined;
let dbCounter = 0;

after(async () => {
  if (server) await (await server).stop();
});

/** Open a fresh, empty store of this backend, or skip the test (fail in CI) when unavailable. */
export async function openTestStore(t: TestContext, kind: BackendName, opts: { redactPointers?: string[]; rulesFiles?: string[] } = {}): Promise<OpenedStore | undefined> {
  if (kind === 'duckdb') {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-duck-'));
    const file = path.join(dir, 'vigil.duckdb');
    const store = new DuckDBStore({ path: file, ...opts });
    await store.open();
    t.after(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return { store, dataPaths: [dir] };
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
