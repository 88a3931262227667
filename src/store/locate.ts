/**
 * Which store a CLI command uses. DuckDB allows one writing process per file, so while
 * `vigil run` holds `<data>/vigil.duckdb` the CLI goes through the server's store API: the
 * server writes `<data>/server.json` (`{"url": ..., "pid": ...}`) when it starts and removes
 * it when it stops. Without a live server the CLI opens the store itself.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ClickHouseStore } from './clickhouse.ts';
import { DuckDBStore } from './duckdb.ts';
import { DUCKDB_FILE } from './index.ts';
import { RemoteStore } from './remote.ts';
import type { Store } from './types.ts';

export const SERVER_FILE = 'server.json';
export const STORE_API_PREFIX = '/api/store';

export interface CliStoreOptions {
  dataDir: string;
  /** Use this ClickHouse directly instead (HTTP URL), with `database`. */
  clickhouse?: { url: string; database: string; username?: string; password?: string };
  /** Rules files whose lists and macros conditions may use (direct access only). */
  rulesFiles?: readonly string[];
  /** Open the store even if the data directory has none yet (hunt writes alerts). */
  create?: boolean;
}

export interface CliStore {
  store: Store;
  /** How it was reached, for messages: `server http://...`, `duckdb ./data/vigil.duckdb`. */
  via: string;
  remote: boolean;
}

/** The server named by `<data>/server.json`, when one answers. */
async function liveServer(dataDir: string): Promise<string | undefined> {
  const file = path.join(dataDir, SERVER_FILE);
  if (!existsSync(file)) return undefined;
  let url: string;
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as { url?: unknown };
    if (typeof j.url !== 'string') return undefined;
    url = j.url.replace(/\/+$/, '').replace('//0.0.0.0', '//127.0.0.1').replace('//[::]', '//[::1]');
  } catch {
    return undefined;
  }
  try {
    const res = await fetch(url + '/healthz', { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return url;
  } catch {
    return undefined; // a stale file from a server that died
  }
}

export async function openCliStore(o: CliStoreOptions): Promise<CliStore> {
  if (o.clickhouse) {
    const store = new ClickHouseStore({
      url: o.clickhouse.url, database: o.clickhouse.database, username: o.clickhouse.username ?? 'default',
      password: o.clickhouse.password ?? '', rulesFiles: o.rulesFiles,
    });
    await store.open();
    return { store, via: `clickhouse ${o.clickhouse.url}`, remote: false };
  }
  const server = await liveServer(o.dataDir);
  if (server) {
    // The server's auth_token, when it has one, is the CLI's VIGIL_AUTH_TOKEN.
    const store = new RemoteStore(server + STORE_API_PREFIX, process.env.VIGIL_AUTH_TOKEN || undefined);
    await store.open();
    return { store, via: `server ${server}`, remote: true };
  }
  const file = path.join(o.dataDir, DUCKDB_FILE);
  if (!o.create && !existsSync(file)) {
    throw new Error(`no store in ${o.dataDir} (${DUCKDB_FILE} not found): nothing was stored there yet; pass --data DIR`);
  }
  const store = new DuckDBStore({ path: file, rulesFiles: o.rulesFiles });
  await store.open();
  return { store, via: `duckdb ${file}`, remote: false };
}
