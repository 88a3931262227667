/** Configuration of the `k8s_audit_webhook` source: audit events POSTed over HTTP. */
import { z } from 'zod';
import { authTokenSchema, labelsSchema, sourceNameSchema } from '../common.ts';

export const k8sAuditWebhookConfig = z.strictObject({
  type: z.literal('k8s_audit_webhook'),
  name: sourceNameSchema,
  path: z
    .string().regex(/^\/[A-Za-z0-9_./-]*$/, 'a path starting with /')
    .default('/k8s-audit')
    .describe('Endpoint path; `<path>/<cluster>` also works and sets the `cluster` label.'),
  max_body_bytes: z
    .number().int().min(1024)
    .default(64 * 1024 * 1024)
    .describe('Largest request body, after gzip decompression; a larger one gets 413.'),
  max_inflight_requests: z
    .number().int().min(1)
    .default(64)
    .describe('Requests read and decoded at once; past it, new requests get 429 before their body is read (bounds the memory that bodies in flight can take).'),
  cluster_header: z
    .string().min(1)
    .default('x-vigil-cluster')
    .describe('Request header whose value sets the `cluster` label (the path wins when both are given).'),
  auth_token: authTokenSchema,
  labels: labelsSchema,
});

export type K8sAuditWebhookConfig = z.infer<typeof k8sAuditWebhookConfig>;
