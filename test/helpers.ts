/** Test helpers: paths into ../shared and the skip-or-fail rule for missing real components. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A path under the `shared/` folder beside the project (tests only). */
export function sharedPath(...parts: string[]): string {
  return path.join(projectRoot, '..', 'shared', ...parts);
}

/** Skip loudly, or fail when VIGIL_REQUIRE_ALL=1 (CI) so nothing that needs a real part is skipped there. */
export function skipOrFail(t: TestContext, why: string): void {
  if (process.env.VIGIL_REQUIRE_ALL === '1') throw new Error(`required but unavailable: ${why}`);
  console.warn(`SKIP: ${why}`);
  t.skip(why);
}
