/**
 * Child: the DuckDB store with 10,000,000 audit events.
 *
 * 1. Insert: the generated NDJSON file (1M events: the real traces' variations among routine
 *    traffic, bench/gen/audit_ndjson.ts) is decoded and written through the Store interface
 *    in batches of 5,000 (the pipeline's default batch), as `vigil run` writes it (one write in
 *    flight while the next batch is prepared; events decoded 100,000 at a time, untimed): the event's
 *    line is handed over as its raw text (toStoredEvent(ev, line)), the store redacts, derives
 *    the typed columns with the rules' field extractors and appends. Timed: toStoredEvent +
 *    writeEvents, not reading and JSON.parse (the pipeline has done those for detection).
 *    The file size is taken here, on what was written event by event.
 * 2. Growing to 10M: written event by event, 10M would take most of the bench's time budget,
 *    so DuckDB copies the 1M rows nine more times (new audit IDs, each copy shifted in time
 *    after the previous one) and the table is rewritten in time order, as a live store is; a
 *    copy has its own raw block rows, pointing at its original's compressed bytes. The events then span about 7 days.
 * Inserts and queries run at the run config's default DuckDB memory limit (128MB).
 * 3. Queries through the Store interface on a fresh store object (cold caches of our own, the
 *    OS page cache warm): a 24-hour histogram (60 buckets), the top 10 users over the whole 7
 *    days, the newest 100 events matching a condition over the 7 days; each run 5 times after
 *    one warm-up, the median reported. Also (one run) a search whose condition needs the raw
 *    events: the price of a check no column can answer.
 *
 * argv: <ndjson file> [total events, default 10,000,000]
 * Not pinned to one CPU: DuckDB works on its own threads, as it does in production.
 */
import { createReadStream, mkdtempSync, rmSync, statSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditEvent, parseRfc3339Ns } from '../../src/events/k8saudit.ts';
import { DUCKDB_MEMORY_LIMIT_DEFAULT } from '../../src/config/schema.ts';
import { DuckDBStore } from '../../src/store/duckdb.ts';
import { toStoredEvent } from '../../src/store/index.ts';
import type { StoredEvent } from '../../src/store/types.ts';
import { type BenchResult, emitResults, log, median, peakRssMb, round } from '../common.ts';

const file = process.argv[2]!;
const TOTAL = Number(process.argv[3] ?? 10_000_000);
const BATCH = 5000;
/** Events decoded (untimed) before a run of timed writes. */
const CHUNK = 100_000;
const dir = mkdtempSync(path.join(process.env.VIGIL_BENCH_TMP ?? os.tmpdir(), 'vigil-bench-duck-'));
const dbFile = path.join(dir, 'vigil.duckdb');
const results: BenchResult[] = [];

async function* lines(f: string): AsyncGenerator<string> {
  let rest = '';
  for await (const chunk of createReadStream(f, { encoding: 'utf8', highWaterMark: 1 << 22 })) {
    const s = rest + (chunk as string);
    let start = 0;
    for (let nl = s.indexOf('\n'); nl >= 0; nl = s.indexOf('\n', start)) {
      if (nl > start) yield s.slice(start, nl);
      start = nl + 1;
    }
    rest = s.slice(start);
  }
  if (rest) yield rest;
}

try {
  // 1. Insert.
  let store = new DuckDBStore({ path: dbFile, memoryLimit: DUCKDB_MEMORY_LIMIT_DEFAULT });
  await store.open();
  let inserted = 0;
  let insertMs = 0;
  let cpuUs = 0;
  // Events are decoded a chunk at a time, untimed; the chunk is then written in batches with
  // one write in flight while the next is prepared, as the pipeline writes (its next batch's
  // toStoredEvent and the store's preparation run while DuckDB inserts the previous one).
  let chunk: Array<{ ev: AuditEvent; line: string }> = [];
  const writeChunk = async (): Promise<void> => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let inflight: Promise<number> = Promise.resolve(0);
    for (let i = 0; i < chunk.length; i += BATCH) {
      const rows: StoredEvent[] = [];
      for (let j = i; j < Math.min(chunk.length, i + BATCH); j++) rows.push(toStoredEvent(chunk[j]!.ev, chunk[j]!.line));
      const next = store.writeEvents(rows);
      next.catch(() => undefined);
      inserted += await inflight;
      inflight = next;
    }
    inserted += await inflight;
    insertMs += performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpuUs += c.user + c.system;
    chunk = [];
  };
  for await (const line of lines(file)) {
    const raw = JSON.parse(line) as Record<string, unknown>;
    const t = parseRfc3339Ns(raw.stageTimestamp);
    if (t === undefined || typeof raw.auditID !== 'string') continue;
    chunk.push({ ev: new AuditEvent(raw, t), line });
    if (chunk.length === CHUNK) await writeChunk();
  }
  if (chunk.length) await writeChunk();
  const t0 = performance.now();
  await store.exec('CHECKPOINT');
  const ckptMs = performance.now() - t0;
  log(`inserted ${inserted} events in ${(insertMs / 1000).toFixed(1)} s (+ ${(ckptMs / 1000).toFixed(1)} s final checkpoint)`);
  results.push({
    name: 'store.duckdb.insert.events_per_s', value: round(inserted / ((insertMs + ckptMs) / 1000)), unit: 'events/s',
    note: `${inserted} events through Store.writeEvents in batches of ${BATCH}, one write in flight while the next is prepared as the pipeline does (toStoredEvent + redaction + columns + append + dedup), ` +
      `the final checkpoint included; raw text as received; excludes reading and JSON.parse; DuckDB with ${Math.max(1, os.availableParallelism() - 1)} worker thread(s) on ${os.cpus().length} CPUs and a ${DUCKDB_MEMORY_LIMIT_DEFAULT} memory limit (the store's defaults); ` +
      `CPU time (all threads, checkpoint excluded) ${round(cpuUs / inserted, 1)} µs per event`,
  });

  // Size on disk of what was written event by event: what a live store takes.
  await store.exec('CHECKPOINT');
  const du = (p: string): number => (statSync(p).isDirectory() ? readdirSync(p).reduce((s, f) => s + du(path.join(p, f)), 0) : statSync(p).size);
  const bytes = du(dir);
  results.push({
    name: 'store.duckdb.mb_per_million_events', value: round(bytes / 1e6 / (inserted / 1e6), 1), unit: 'MB',
    note: `database file after checkpoint: ${round(bytes / 1e6)} MB for the ${inserted} events written (typed columns in DuckDB's own compression + raw JSON in brotli blocks in segment files, src/store/rawblocks.ts)`,
  });

  // 2. Grow to TOTAL inside DuckDB: copy k is shifted by k spans, so identical raw events lie
  // a million rows apart (adjacent copies would compress unrealistically well).
  const copies = Math.max(1, Math.round(TOTAL / inserted));
  if (copies > 1) {
    const g0 = performance.now();
    // Growing is the bench's own step, not the store's work: DuckDB gets room to sort.
    await store.exec(`SET memory_limit = '8GB'`);
    const [{ lo, hi }] = (await store.exec('SELECT min(time_ns) AS lo, max(time_ns) AS hi FROM events')) as Array<{ lo: bigint; hi: bigint }>;
    // Stretch each copy so that all of them span ~7 days.
    const span = hi - lo + 1n;
    const stretch = BigInt(Math.max(1, Math.round((7 * 86400e9) / (Number(span) * copies))));
    const cols = ['time_ns', 'audit_id', 'stage', 'cluster', 'region', 'team', 'user_name', 'groups', 'verb', 'resource', 'subresource',
      'namespace', 'name', 'response_code', 'decision', 'user_agent', 'labels', 'source_ips', 'lossy', 'raw_block', 'raw_pos'];
    const [{ blocks }] = (await store.exec('SELECT max(id) + 1 AS blocks FROM raw_blocks')) as Array<{ blocks: bigint }>;
    const sel = cols.map((c) => (c === 'time_ns' ? `${lo} + (time_ns - ${lo}) * ${stretch} + k * ${span * stretch} AS time_ns`
      : c === 'audit_id' ? `CASE WHEN k = 0 THEN audit_id ELSE audit_id || '-' || k END AS audit_id`
        : c === 'raw_block' ? `raw_block + k * ${blocks} AS raw_block` : c)).join(', ');
    // Each copy has its own raw block rows (pointing at the same bytes in the segment files).
    await store.exec(`INSERT INTO raw_blocks SELECT id + k * ${blocks}, t_min, t_max, n, codec, segment, seg_offset, seg_length FROM range(1, ${copies}) r(k), raw_blocks`);
    await store.exec(`CREATE TABLE events_big AS SELECT ${sel} FROM range(0, ${copies}) r(k), events ORDER BY time_ns`);
    await store.exec('DROP TABLE events');
    await store.exec('ALTER TABLE events_big RENAME TO events');
    await store.exec('CHECKPOINT');
    log(`grew to ${copies}x in ${((performance.now() - g0) / 1000).toFixed(1)} s`);
  }
  await store.close();

  // 3. Queries, on a store opened afresh.
  store = new DuckDBStore({ path: dbFile, memoryLimit: DUCKDB_MEMORY_LIMIT_DEFAULT });
  await store.open();
  const { events } = await store.counts();
  const [{ lo, hi }] = (await store.exec('SELECT min(time_ns) AS lo, max(time_ns) AS hi FROM events')) as Array<{ lo: bigint; hi: bigint }>;
  const whole = { fromNs: lo, toNs: hi + 1n };
  const day = { fromNs: hi + 1n - 86_400_000_000_000n, toNs: hi + 1n };

  const time = async (name: string, note: string, fn: () => Promise<unknown>, runs = 5): Promise<void> => {
    if (runs > 1) await fn();
    const ms: number[] = [];
    let out: unknown;
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      out = await fn();
      ms.push(performance.now() - t);
    }
    log(`${name}: ${ms.map((x) => x.toFixed(0)).join(', ')} ms`);
    results.push({ name, value: round(median(ms), 1), unit: 'ms', note: `${runs > 1 ? `median of ${runs} after a warm-up` : 'one run'}; ${note}${typeof out === 'string' ? '; ' + out : ''}` });
  };
  await time('store.duckdb.histogram_24h.ms', `Store.histogram over the last 24 h of ${events} events, 60 buckets`, async () => {
    const h = await store.histogram('events', day);
    return `${h.reduce((s, b) => s + b.count, 0)} events counted`;
  });
  await time('store.duckdb.top10_user.ms', `Store.topN('ka.user.name', 10) over all ${events} events (7 days)`, async () => {
    const t = await store.topN('events', 'ka.user.name', whole, 10);
    return `top: ${t[0]?.value} (${t[0]?.count})`;
  });
  const cond = 'ka.verb in (create, update, patch, delete) and ka.target.resource in (secrets, configmaps, clusterrolebindings) and not ka.user.name startswith "system:"';
  await time('store.duckdb.search_newest100.ms', `Store.searchEvents newest 100 over 7 days matching \`${cond}\``, async () => {
    const p = await store.searchEvents({ range: whole, condition: cond, limit: 100 });
    return `${p.items.length} returned`;
  });
  const jsCond = 'ka.target.resource = pods and ka.req.pod.containers.privileged intersects (true)';
  await time('store.duckdb.search_newest100_js.ms', `as above with \`${jsCond}\` (the privileged check has no column: evaluated on raw events)`, async () => {
    const p = await store.searchEvents({ range: whole, condition: jsCond, limit: 100 });
    return `${p.items.length} returned`;
  }, 1);
  await store.close();
  results.push({ name: 'store.duckdb.peak_rss_mb', value: round(peakRssMb()), unit: 'MB', note: 'maxRSS of this child (Node + DuckDB)' });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
emitResults(results);
