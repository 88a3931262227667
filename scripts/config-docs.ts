/** `npm run docs:config`: write docs/config.md from the config schema. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConfigDocs } from '../src/config/docs.ts';

const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'config.md');
writeFileSync(file, renderConfigDocs());
console.log(`wrote ${path.relative(process.cwd(), file)}`);
