#!/usr/bin/env -S node --max-semi-space-size=64 --heap-growing-percent=50
// Entry point of the `vigil` command: TypeScript sources run through tsx's loader,
// so the package works straight from `npm ci` with no build step. V8 flags (shebang), measured
// on `vigil run` ingesting over HTTP (bench/measure/ingest_http.ts):
// - a larger young generation than the default 16 MB semi-space cuts the time spent in
//   scavenges of parsed audit events (64 MB: +15-25% ingest rate; 32 MB measured 27% slower
//   than 64 in one 20 s run, for 64 MB less heap: kept at 64);
// - the old generation is collected once it has grown by half over what the last collection
//   kept, instead of V8's own factor (up to 4x on a machine with much memory): peak RSS 753 MB
//   instead of 1,034 MB at saturation, for ~3% of the ingest rate (22,400 vs 23,100 events/s,
//   back to back on a quiet machine).
import { register } from 'tsx/esm/api';
register();
// A reader that stops early (`vigil rules fields | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw e; });
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
