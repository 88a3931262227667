/**
 * End-to-end ingest: `vigil run` (a child process: DuckDB storage, the bundled rules, the
 * spool with fsync) takes audit events over HTTP from this process, which posts batches of
 * 1,000 events (JSON arrays, as Fluent Bit's `format json` does) on a few keep-alive
 * connections for a fixed time.
 *
 * Figures:
 * - ingest.http.events_per_s: events *stored* per second over the measured window (from the
 *   server's own counter), not merely accepted: a backlog in the spool does not count.
 * - ingest.http.p99_ms: 99th percentile from a batch's arrival to its events and alerts being
 *   stored (the server's `vigil_ingest_to_stored_seconds` histogram, interpolated within its
 *   bucket), measured in a second phase at half the sustained rate: at saturation the figure
 *   is the spool's backlog (bounded by `high_water_bytes`), not the pipeline's delay; the
 *   saturated percentiles and the client's POST→200 p99 are in the note.
 * - ingest.http.peak_rss_mb: the server's peak resident set (VmHWM).
 * One event per batch is an interactive shell exec that the bundled pack alerts on, so the
 * alert path (detection, alert storage) is part of what is measured.
 *
 * The rate's note also gives the CPU time (all threads) per stored event of the server and of
 * the load generator over the measured window: on a shared machine it moves less than the rate.
 *
 * Usage: ingest_http.ts [seconds=60] [connections=4]
 * VIGIL_BENCH_STORAGE_YAML sets the server's `storage` section (e.g. `{ type: duckdb, memory_limit: 128MB }`),
 * VIGIL_BENCH_PIPELINE_YAML its `pipeline` section (e.g. `{ queue_max_events: 10000 }`).
 * BENCH_STORAGE=null measures the pipeline alone (see ingest_server.ts), =memory the memory
 * store; VIGIL_BENCH_NODE_ARGS adds node flags to the server (e.g. `--cpu-prof
 * --cpu-prof-dir=DIR`; with tsx's loader thread there are two profiles, the larger is the
 * service's).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { ROOT_DIR, emitResults, log, round } from '../common.ts';

const SECONDS = Number(process.argv[2] ?? 60);
const CONNECTIONS = Number(process.argv[3] ?? 4);
const BATCH = 1000;
/**
 * BENCH_STORAGE: `duckdb` (default, what the figures are), `null` (the pipeline alone:
 * ingest_server.ts, a store that keeps nothing) or `memory` (the memory store, which keeps
 * every event: its heap grows for the whole run).
 */
const STORAGE = process.env.BENCH_STORAGE ?? 'duckdb';
/** bin/vigil.mjs's shebang: node flags and environment. */
const SHEBANG = /^#!\S*env -S ((?:\w+=\S* )*)node (.*)$/m.exec(readFileSync(path.join(ROOT_DIR, 'bin', 'vigil.mjs'), 'utf8'));
const VIGIL_NODE_FLAGS = SHEBANG?.[2]?.split(' ').filter(Boolean) ?? [];
/** The environment the shebang sets (MALLOC_ARENA_MAX). */
const VIGIL_ENV = Object.fromEntries((SHEBANG?.[1] ?? '').split(' ').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A batch body with `@@` where each event's ID prefix goes (one replaceAll per batch). */
function template(): string {
  const events: string[] = [];
  // Times are stamped per batch (`%%`), as a live API server's are: increasing, which is what
  // storage's time-partitioned de-duplication expects of real traffic.
  const t = '%%';
  for (let i = 0; i < BATCH; i++) {
    const n = String(i).padStart(4, '0');
    if (i === 500) {
      events.push(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"@@-${n}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/pods/web-1/exec?command=bash&container=web&stdin=true&stdout=true&tty=true","verb":"create","user":{"username":"mallory@example.com","groups":["system:authenticated"]},"sourceIPs":["203.0.113.50"],"userAgent":"kubectl/v1.30.2","objectRef":{"resource":"pods","namespace":"shop","name":"web-1","apiVersion":"v1","subresource":"exec"},"responseStatus":{"metadata":{},"code":101},"requestReceivedTimestamp":"${t}","stageTimestamp":"${t}","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}}`);
      continue;
    }
    const verb = ['get', 'list', 'watch', 'update', 'patch'][i % 5]!;
    const res = ['pods', 'configmaps', 'endpoints', 'leases', 'deployments'][i % 5]!;
    events.push(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"@@-${n}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/ns-${i % 20}/${res}","verb":"${verb}","user":{"username":"system:serviceaccount:ns-${i % 20}:app","groups":["system:serviceaccounts","system:authenticated"]},"sourceIPs":["10.0.${i % 250}.${i % 200}"],"userAgent":"client-go/v0.30.2 (linux/amd64) kubernetes","objectRef":{"resource":"${res}","namespace":"ns-${i % 20}","name":"obj-${i}","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"${t}","stageTimestamp":"${t}","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by RoleBinding"}}`);
  }
  return '[' + events.join(',') + ']';
}

/** CPU time (user + system, all threads) of a process so far, in seconds (Linux). */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

function metricValue(text: string, name: string): number {
  for (const l of text.split('\n')) if (l.startsWith(name + ' ')) return Number(l.slice(name.length + 1));
  return 0;
}

function buckets(text: string, name: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const l of text.split('\n')) {
    const m = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)`).exec(l);
    if (m) out.push([m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
  }
  return out;
}

/** p-quantile of the observations between two scrapes of a histogram (linear within a bucket). */
function histogramQuantile(before: string, after: string, name: string, q: number): number {
  const b0 = buckets(before, name);
  const bs = buckets(after, name).map(([le, c], i) => [le, c - (b0[i]?.[1] ?? 0)] as [number, number]);
  const total = bs[bs.length - 1]?.[1] ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  let prevLe = 0, prevCount = 0;
  for (const [le, c] of bs) {
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((rank - prevCount) / Math.max(1, c - prevCount)) * (le - prevLe);
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-ingest-'));
  const cfg = path.join(dir, 'vigil.yaml');
  const storage = process.env.VIGIL_BENCH_STORAGE_YAML ? `storage: ${process.env.VIGIL_BENCH_STORAGE_YAML}\n`
    : STORAGE === 'duckdb' || STORAGE === 'null' ? '' : `storage: { type: ${STORAGE} }\n`;
  const pipeline = process.env.VIGIL_BENCH_PIPELINE_YAML ? `pipeline: ${process.env.VIGIL_BENCH_PIPELINE_YAML}\n` : '';
  writeFileSync(cfg, `listen: 127.0.0.1:0\ndata_dir: ${dir}\nlog_level: warn\n${storage}${pipeline}outputs: []\nsources:\n  - type: k8s_audit_webhook\n`);
  // The same V8 flags as bin/vigil.mjs's shebang (what `npx vigil run` gets).
  const nodeArgs = [...VIGIL_NODE_FLAGS, ...(process.env.VIGIL_BENCH_NODE_ARGS ? process.env.VIGIL_BENCH_NODE_ARGS.split(' ') : [])];
  const entry = STORAGE === 'null'
    ? ['--import', 'tsx', path.join(ROOT_DIR, 'bench', 'measure', 'ingest_server.ts'), cfg]
    : [path.join(ROOT_DIR, 'bin', 'vigil.mjs'), 'run', '--config', cfg];
  const child = spawn(process.execPath, [...nodeArgs, ...entry], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...VIGIL_ENV, ...process.env } });
  const serverFile = path.join(dir, 'server.json');
  const t0 = Date.now();
  while (!existsSync(serverFile)) {
    if (child.exitCode !== null || Date.now() - t0 > 60_000) throw new Error('vigil run did not start');
    await sleep(50);
  }
  const url = new URL((JSON.parse(readFileSync(serverFile, 'utf8')) as { url: string }).url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const tpl = template();
  const metrics = async (): Promise<string> => (await fetch(url.origin + '/metrics')).text();

  let batchNo = 0;
  let accepted = 0;
  let refused = 0;
  const latencies: number[] = [];
  const post = (body: string): Promise<number> => new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: '/k8s-audit', method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });

  // Warm-up: 5 s, not measured.
  log(`warming up, then ${SECONDS} s with ${CONNECTIONS} connections, ${BATCH} events per POST`);
  const run = async (until: number, record: boolean): Promise<void> => {
    const worker = async (): Promise<void> => {
      while (Date.now() < until) {
        const body = tpl.replaceAll('@@', `b${(batchNo++).toString(36)}`).replaceAll('%%', new Date().toISOString().replace('Z', '123Z'));
        const t = performance.now();
        const code = await post(body);
        if (code === 200) {
          if (record) { accepted += BATCH; latencies.push(performance.now() - t); }
        } else {
          refused++;
          await sleep(code === 429 || code === 503 ? 50 : 500);
        }
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  };
  await run(Date.now() + 5000, false);
  const before = await metrics();
  const storedBefore = metricValue(before, 'vigil_store_written_total{table="events"}');
  const cpu0 = cpuSeconds(child.pid!);
  const own0 = process.cpuUsage();
  const start = performance.now();
  await run(Date.now() + SECONDS * 1000, true);
  const elapsed = (performance.now() - start) / 1000;
  const serverCpu = cpuSeconds(child.pid!) - cpu0;
  const own = process.cpuUsage(own0);
  const clientCpu = (own.user + own.system) / 1e6;
  const after = await metrics();
  const stored = metricValue(after, 'vigil_store_written_total{table="events"}') - storedBefore;
  const rate = stored / elapsed;
  const spilled = metricValue(after, 'vigil_queue_spilled_total{queue="spool"}') - metricValue(before, 'vigil_queue_spilled_total{queue="spool"}');
  const satP99 = histogramQuantile(before, after, 'vigil_ingest_to_stored_seconds', 0.99) * 1000;
  const satP50 = histogramQuantile(before, after, 'vigil_ingest_to_stored_seconds', 0.5) * 1000;

  // Latency phase: once the backlog has drained, post at half the sustained rate for 20 s.
  for (let t1 = Date.now(); Date.now() - t1 < 120_000;) {
    const r = (await (await fetch(url.origin + '/readyz')).json()) as { spool_bytes: number };
    if (r.spool_bytes === 0) break;
    await sleep(200);
  }
  const paced = await metrics();
  const intervalMs = 1000 / Math.max(1, (rate * 0.5) / BATCH);
  const pacedEnd = Date.now() + 20_000;
  const sends: Array<Promise<number>> = [];
  for (let next = Date.now(); next < pacedEnd; next += intervalMs) {
    await sleep(Math.max(0, next - Date.now()));
    sends.push(post(tpl.replaceAll('@@', `p${(batchNo++).toString(36)}`).replaceAll('%%', new Date().toISOString().replace('Z', '123Z'))));
  }
  await Promise.all(sends);
  await sleep(1000);
  const after2 = await metrics();
  const alerts = metricValue(after2, 'vigil_store_written_total{table="alerts"}');
  const p99 = histogramQuantile(paced, after2, 'vigil_ingest_to_stored_seconds', 0.99) * 1000;
  const p50 = histogramQuantile(paced, after2, 'vigil_ingest_to_stored_seconds', 0.5) * 1000;
  latencies.sort((a, b) => a - b);
  const clientP99 = latencies[Math.floor(latencies.length * 0.99)] ?? NaN;
  const heapMb = metricValue(after, 'vigil_process_nodejs_heap_size_total_bytes') / 2 ** 20;
  const heapUsedMb = metricValue(after, 'vigil_process_nodejs_heap_size_used_bytes') / 2 ** 20;
  const extMb = metricValue(after, 'vigil_process_nodejs_external_memory_bytes') / 2 ** 20;
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  agent.destroy();
  rmSync(dir, { recursive: true, force: true });

  const note = `${SECONDS} s, ${CONNECTIONS} keep-alive connections, JSON arrays of ${BATCH} events (1 alerting), ${STORAGE === 'duckdb' ? 'DuckDB storage' : STORAGE === 'null' ? 'NO storage (BENCH_STORAGE=null: the pipeline alone)' : `${STORAGE} storage`}, spool fsync on; server and load generator share the machine's ${os.cpus().length} CPUs (not pinned)`;
  emitResults([
    { name: 'ingest.http.events_per_s', value: round(rate), unit: 'events/s', note: `events stored per second over the window (accepted: ${round(accepted / elapsed)}/s; ${refused} POSTs refused with 429/503); CPU per stored event: server ${round((serverCpu / stored) * 1e6, 1)} µs (${round((100 * serverCpu) / elapsed)}% of one core), load generator ${round((clientCpu / stored) * 1e6, 1)} µs; ${spilled} batches read back from the spool's disk (spilled); ${note}` },
    { name: 'ingest.http.p99_ms', value: round(p99, 1), unit: 'ms', note: `batch arrival → events and alerts stored, p99 from the server's histogram, at half the sustained rate for 20 s (p50 ${round(p50, 1)} ms); at saturation, with the spool's backlog, p50 ${round(satP50)} ms and p99 ${round(satP99)} ms (the top bucket is 5 s); client POST→200 p99 at saturation ${round(clientP99, 1)} ms; ${alerts} alerts stored` },
    { name: 'ingest.http.peak_rss_mb', value: round(hwm), unit: 'MB', note: `peak RSS (VmHWM) of the vigil run process; at the end of the saturated phase the JS heap was ${round(heapMb)} MB (${round(heapUsedMb)} MB used) and external buffers ${round(extMb)} MB, the rest is DuckDB's own memory and code` },
  ]);
}

await main();
