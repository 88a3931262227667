#!/usr/bin/env node
// Entry point of the `vigil` command: TypeScript sources run through tsx's loader,
// so the package works straight from `npm ci` with no build step.
import { register } from 'tsx/esm/api';
register();
// A reader that stops early (`vigil rules fields | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw e; });
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
