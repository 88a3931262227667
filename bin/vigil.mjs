#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=32 --heap-growing-percent=50
// Entry point of the `vigil` command. It runs dist/vigil.mjs, the sources bundled by
// scripts/build.mjs (which `npm ci` runs), when that file is newer than every file under src/;
// otherwise, or with VIGIL_FROM_SOURCE=1, the TypeScript sources through tsx's loader (which
// keeps a thread and a V8 heap of its own, ~37 MB more resident memory). So an edited source is
// never shadowed by an old bundle.
//
// Process settings (the shebang), measured on `vigil run` ingesting over HTTP at saturation
// (bench/measure/ingest_http.ts, 25 s runs, peak RSS):
// - glibc keeps at most two malloc arenas (DuckDB's and libuv's threads would otherwise each
//   hold freed memory of their own): 480-517 MB instead of 513-536 MB, the same rate;
// - a 32 MB semi-space (young generation 64 MB) instead of 64: 513-536 MB instead of
//   595-599 MB, the same rate within the machine's noise (27.5k-36.3k events/s both) once the
//   code runs from the bundle (from tsx's loader, 32 measured 15% slower); V8's default 16 MB
//   took 477 MB but ~15% more CPU per event;
// - the old generation is collected once it has grown by half over what the last collection
//   kept, instead of V8's own factor (up to 4x on a machine with much memory): peak RSS 753 MB
//   instead of 1,034 MB at saturation, for ~3% of the ingest rate.
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The newest modification time of a file under `dir` (ms). */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function bundleIsFresh() {
  if (process.env.VIGIL_FROM_SOURCE === '1') return false;
  try {
    return statSync(`${root}dist/vigil.mjs`).mtimeMs >= newest(`${root}src`);
  } catch {
    return false;
  }
}

// A reader that stops early (`vigil rules fields | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw e; });
}
let main;
if (bundleIsFresh()) {
  process.env.VIGIL_CODE = 'bundle';
  ({ main } = await import('../dist/vigil.mjs'));
} else {
  process.env.VIGIL_CODE = 'source';
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
