/** Configuration of the `k8s_audit_file` source: tail the API server's audit log files. */
import { z } from 'zod';
import { labelsSchema, sourceNameSchema } from '../common.ts';

export const k8sAuditFileConfig = z.strictObject({
  type: z.literal('k8s_audit_file'),
  name: sourceNameSchema,
  include: z
    .array(z.string().min(1))
    .min(1)
    .describe('Files to tail: paths or globs (`*`, `?`, `[abc]` in the file name part), e.g. `/var/log/kubernetes/audit/audit*.log`. A file is recognised by a fingerprint of its first line, so a rotated file that still matches is never read twice.'),
  exclude: z.array(z.string().min(1)).default([]).describe('Globs of files never to read (e.g. compressed rotations `*.gz`).'),
  start_at: z
    .enum(['beginning', 'end'])
    .default('beginning')
    .describe('Where to start in a file that has no checkpoint and exists at startup; files that appear later are always read from the beginning.'),
  max_line_bytes: z
    .number().int().min(1024)
    .default(16 * 1024 * 1024)
    .describe('Longest line accepted; a longer line is skipped, counted (`line_too_long`) and logged with its file and offset.'),
  read_chunk_bytes: z.number().int().min(4096).default(1024 * 1024).describe('Bytes read from a file at once.'),
  poll_interval_ms: z.number().int().min(10).default(250).describe('How often idle files are checked for growth, rotation and truncation, and the globs re-expanded.'),
  checkpoint_interval_ms: z.number().int().min(10).default(1000).describe('How often acknowledged positions are written to the checkpoint file (and always on shutdown).'),
  batch_max_events: z.number().int().min(1).default(2000).describe('Most events handed downstream in one batch.'),
  max_inflight_batches: z.number().int().min(1).default(8).describe('Batches handed downstream and not yet acknowledged before the tail pauses (back-pressure).'),
  labels: labelsSchema,
});

export type K8sAuditFileConfig = z.infer<typeof k8sAuditFileConfig>;
