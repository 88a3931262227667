/**
 * What every source shares: the label schema (static enrichment labels) and the name rule.
 * Each source folder has the same parts: `config.ts` (schema, defaults, docs), `decode.ts`,
 * `runtime.ts`, `health.ts`, `telemetry.ts`; a header comment in `runtime.ts` states the
 * protocol's quirks.
 */
import { z } from 'zod';

export const LABEL_NAME = /^[a-z_][a-z0-9_]*$/;

export const labelsSchema = z
  .record(z.string().regex(LABEL_NAME, 'label names are lower-case letters, digits and _'), z.string())
  .default({})
  .describe('Static labels added to every event of this source, readable in rules and search as `vigil.<label>` (e.g. `cluster`, `region`, `team`).');

export const sourceNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+$/, 'names are letters, digits, _, . and -')
  .optional()
  .describe('Name used in logs and metrics; defaults to the type (numbered when a type appears more than once).');

export const authTokenSchema = z
  .string()
  .min(1)
  .optional()
  .describe('If set, requests must carry `Authorization: Bearer <token>`; otherwise 401. Defaults to the top-level `auth_token`.');
