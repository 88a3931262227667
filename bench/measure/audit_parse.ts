/**
 * Child: the ceiling for audit detection, JSON.parse of every line of the NDJSON file, read
 * the same way as the detect benchmark (bench/read_lines.ts). Nothing else is done with the
 * objects but a check that they have an auditID (so the parse cannot be optimised away).
 *
 * argv: <ndjson file>
 */
import { type BenchResult, emitResults, log, peakRssMb, round } from '../common.ts';
import { BLOCK_BYTES, forEachLine } from '../read_lines.ts';

const file = process.argv[2]!;
let events = 0;
let invalid = 0;
const t0 = performance.now();
const { bytes, lines } = forEachLine(file, (line) => {
  if (line.length === 0) return;
  try {
    const o = JSON.parse(line) as { auditID?: unknown } | null;
    if (o !== null && typeof o.auditID === 'string') events++;
  } catch {
    invalid++;
  }
});
const s = (performance.now() - t0) / 1000;
log(`${events} events (${lines} lines, ${invalid} invalid) in ${s.toFixed(2)} s`);

const results: BenchResult[] = [
  {
    name: 'k8saudit.json_parse.events_per_s', value: round(events / s), unit: 'events/s',
    note: `JSON.parse of ${events} lines (${round(bytes / 1e6)} MB, ${round(bytes / 1e6 / s)} MB/s); file read in ${BLOCK_BYTES >> 20} MiB blocks ` +
      `then split on \\n, as detect reads it; one pass, page cache warm`,
  },
  {
    name: 'k8saudit.json_parse.peak_rss_mb', value: round(peakRssMb()), unit: 'MB',
    note: 'maxRSS of this child: the read block and its string, plus parsed garbage V8 has not collected yet',
  },
];
emitResults(results);
