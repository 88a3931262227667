/**
 * Configuration of the alert outputs (`outputs:` in vigil.yaml): one variant per `type`, each
 * with a name, a minimum priority and the delivery options every output shares (a bounded
 * queue and retries with backoff, see retry.ts). Unknown keys are errors.
 */
import { z } from 'zod';
import { PRIORITIES } from '../config/priority.ts';

const priority = z.enum(PRIORITIES);

const name = z.string().min(1).optional().describe('Name used by routes, logs and metrics; defaults to the type.');
const minPriority = priority.default('debug').describe('Only alerts at least this severe.');

export const deliveryConfig = z
  .strictObject({
    max_retries: z.number().int().min(0).max(100).default(3).describe('Retries of a failed send before its alerts are counted failed and logged (`vigil_output_failed_total`). 0: no retry.'),
    initial_backoff_ms: z.number().int().min(1).default(200).describe('Wait before the first retry; doubled for each further retry (with jitter), up to `max_backoff_ms`. A `Retry-After` answer is honoured within that bound.'),
    max_backoff_ms: z.number().int().min(1).default(10_000).describe('Longest wait between two attempts.'),
    queue_max_alerts: z.number().int().min(1).default(10_000).describe('Alerts waiting for this output (it is slow, or down and being retried). Past it, new alerts for this output are counted failed and logged; the pipeline never waits for an output.'),
    batch_max_alerts: z.number().int().min(1).default(500).describe('Most alerts handed to the output in one send.'),
    drain_timeout_ms: z.number().int().min(0).default(5_000).describe('On stop, how long queued alerts may still take to be delivered; what is left then is counted failed.'),
  })
  .prefault({})
  .describe('Delivery: alerts wait in a bounded queue per output and a failed send is retried with exponential backoff, so a slow or dead output never blocks detection, storage or the other outputs.');

const consoleOutput = z.strictObject({
  type: z.literal('console'),
  name,
  format: z.enum(['text', 'json']).default('text').describe("`text`: Falco's text line; `json`: Falco's JSON alert, one per line."),
  min_priority: minPriority,
  delivery: deliveryConfig,
});

const fileOutput = z.strictObject({
  type: z.literal('file'),
  name,
  path: z.string().min(1).describe("File that Falco's JSON alerts are appended to, one per line (relative to `data_dir`)."),
  min_priority: minPriority,
  delivery: deliveryConfig,
});

const webhookOutput = z.strictObject({
  type: z.literal('webhook'),
  name,
  url: z.url({ protocol: /^https?$/ }).describe("Where alerts are sent: one request per alert with Falco's JSON alert as the body (`Content-Type: application/json`), as Falcosidekick's webhook output does."),
  method: z.enum(['POST', 'PUT']).default('POST').describe('HTTP method.'),
  headers: z.record(z.string().min(1), z.string()).default({}).describe('Extra request headers, e.g. `Authorization: Bearer ...`.'),
  timeout_ms: z.number().int().min(1).default(10_000).describe('Time allowed for one request (connect, send, answer); past it the request counts as failed and is retried.'),
  max_concurrent_requests: z.number().int().min(1).max(64).default(4).describe('Requests in flight at once.'),
  min_priority: minPriority,
  delivery: deliveryConfig,
});

export const outputConfig = z.discriminatedUnion('type', [consoleOutput, fileOutput, webhookOutput]);

export type OutputConfig = z.infer<typeof outputConfig>;
export type DeliveryConfig = z.infer<typeof deliveryConfig>;
export type WebhookOutputConfig = z.infer<typeof webhookOutput>;
