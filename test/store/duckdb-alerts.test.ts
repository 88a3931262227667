/**
 * DuckDB's alerts table has no primary key (its index would live in memory whole and grow with
 * the table): resent alerts are found by id within the batch's time span, and a store written
 * with the key loses it at open, its alerts kept.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDBStore } from '../../src/store/duckdb.ts';
import type { StoredAlert } from '../../src/store/types.ts';

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-duck-alerts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const alert = (id: string, timeNs: bigint): StoredAlert => ({
  id, timeNs, rule: 'R', priority: 'Warning', source: 'k8s_audit', output: `R fired ${id}`, outputFields: {}, tags: [],
});

async function primaryKeys(file: string): Promise<number> {
  const db = await DuckDBInstance.create(file);
  const c = await db.connect();
  const n = (await c.runAndReadAll(`SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'alerts' AND constraint_type = 'PRIMARY KEY'`)).getRowsJS()[0]![0];
  c.closeSync();
  db.closeSync();
  return Number(n);
}

test('alerts: no primary key; a resent alert is stored once, in the same batch, a later one, or past the inline size', async (t) => {
  const file = path.join(tmp(t), 'v.duckdb');
  const store = new DuckDBStore({ path: file });
  await store.open();
  const t0 = 1_700_000_000_000_000_000n;
  const batch = Array.from({ length: 20 }, (_, i) => alert(`a${i}`, t0 + BigInt(i) * 1000n));
  assert.equal(await store.writeAlerts([...batch, batch[3]!]), 20);
  assert.equal(await store.writeAlerts([batch[0]!, alert('b', t0 + 5n)]), 1);
  // Past 500 alerts the batch goes through the staging table.
  const many = Array.from({ length: 600 }, (_, i) => alert(`m${i}`, t0 - BigInt(i)));
  assert.equal(await store.writeAlerts([...many, ...many.slice(0, 100), batch[1]!]), 600);
  assert.equal(await store.writeAlerts(many), 0);
  assert.deepEqual(await store.counts(), { events: 0, alerts: 621 });
  await store.close();
  assert.equal(await primaryKeys(file), 0);
});

test('alerts: a store whose alerts table has a primary key loses the key at open and keeps its alerts', async (t) => {
  const file = path.join(tmp(t), 'v.duckdb');
  const store = new DuckDBStore({ path: file });
  await store.open();
  const t0 = 1_700_000_000_000_000_000n;
  assert.equal(await store.writeAlerts([alert('x1', t0), alert('x2', t0 + 1n)]), 2);
  await store.close();
  // As earlier versions made it: the same columns, keyed by id.
  {
    const db = await DuckDBInstance.create(file);
    const c = await db.connect();
    await c.run(`CREATE TABLE alerts_keyed AS SELECT * FROM alerts WHERE false;
      ALTER TABLE alerts_keyed ADD PRIMARY KEY (id);
      INSERT INTO alerts_keyed SELECT * FROM alerts; DROP TABLE alerts; ALTER TABLE alerts_keyed RENAME TO alerts`);
    c.closeSync();
    db.closeSync();
  }
  assert.equal(await primaryKeys(file), 1);
  const again = new DuckDBStore({ path: file });
  await again.open();
  assert.equal(await again.writeAlerts([alert('x1', t0), alert('x3', t0 + 2n)]), 1);
  assert.equal((await again.getAlert('x2'))?.output, 'R fired x2');
  assert.deepEqual(await again.counts(), { events: 0, alerts: 3 });
  await again.close();
  assert.equal(await primaryKeys(file), 0);
});
