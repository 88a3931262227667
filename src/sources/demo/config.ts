/** Configuration of the `demo` source: a scripted cluster day with an attack woven through. */
import { z } from 'zod';
import { labelsSchema, sourceNameSchema } from '../common.ts';

export const demoConfig = z.strictObject({
  type: z.literal('demo'),
  name: sourceNameSchema,
  speed: z.number().positive().default(1).describe('Playback speed: 1 plays the scenario in real time (about 40 s), 10 ten times faster.'),
  loop: z.boolean().default(false).describe('Play the scenario again (with new IDs and times) when it ends.'),
  labels: labelsSchema.prefault({ cluster: 'demo', region: 'local', team: 'platform' }),
});

export type DemoConfig = z.infer<typeof demoConfig>;
