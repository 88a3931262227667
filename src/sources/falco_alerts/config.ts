/** Configuration of the `falco_alerts` source: Falco's JSON alerts, as Falcosidekick takes them. */
import { z } from 'zod';
import { authTokenSchema, labelsSchema, sourceNameSchema } from '../common.ts';

export const falcoAlertsConfig = z.strictObject({
  type: z.literal('falco_alerts'),
  name: sourceNameSchema,
  paths: z
    .array(z.string().regex(/^\/[A-Za-z0-9_./-]*$/, 'a path starting with /'))
    .min(1)
    .default(['/', '/falco'])
    .describe("Endpoint paths. Falco's `http_output.url` points at one of them unchanged."),
  max_body_bytes: z.number().int().min(1024).default(1024 * 1024).describe('Largest alert body; a larger one gets 413.'),
  auth_token: authTokenSchema,
  labels: labelsSchema,
});

export type FalcoAlertsConfig = z.infer<typeof falcoAlertsConfig>;
