/** Vigil's own rule packs, shipped in the package's `rules/` folder. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const RULES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'rules');

/** The bundled packs, in load order (file name order). */
export function bundledRuleFiles(): string[] {
  if (!existsSync(RULES_DIR)) return [];
  return readdirSync(RULES_DIR).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(RULES_DIR, f));
}
