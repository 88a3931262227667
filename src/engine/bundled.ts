/** Vigil's own rule packs, shipped in the package's `rules/` folder. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's `rules/` folder: the first one up from this module (src/engine/ when run from
 * source, dist/ when run from the bundle).
 */
export const RULES_DIR = ((): string => {
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'rules')) && existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'rules');
    if (path.dirname(dir) === dir) return path.resolve(start, '..', '..', 'rules');
  }
})();

/** The bundled packs, in load order (file name order). */
export function bundledRuleFiles(): string[] {
  if (!existsSync(RULES_DIR)) return [];
  return readdirSync(RULES_DIR).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(RULES_DIR, f));
}
