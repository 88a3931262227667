/**
 * Configuration of the `syscall` source (the eBPF sensor), for `vigil run`. Every key is
 * optional; unknown keys are errors. `sensorOptions()` turns it into startSensor() options.
 */
import { z } from 'zod';
import { labelsSchema, sourceNameSchema } from '../common.ts';
import { DEFAULT_CRI_SOCKETS } from './cri.ts';
import { DEFAULT_DNS_NAMES } from './dns.ts';
import type { SensorOptions } from './runtime.ts';

export const syscallSensorConfig = z.strictObject({
  type: z.literal('syscall'),
  name: sourceNameSchema,
  bpftrace_path: z.string().min(1).default('bpftrace').describe('bpftrace binary (a name on PATH or a path). Debian/Ubuntu: apt-get install bpftrace.'),
  perf_buffer_pages: z.number().int().min(8).refine((n) => (n & (n - 1)) === 0, 'a power of 2').optional()
    .describe('Perf buffer pages per CPU; default 16 MiB per CPU, less on machines with many CPUs (about 256 MiB in all). Fewer pages, more kernel drops under load.'),
  queue_max_events: z.number().int().min(1024).default(65_536).describe('Events held for a slow consumer; beyond it events are dropped and counted (reason `queue`).'),
  reorder_window_ms: z.number().int().min(0).max(5_000).default(100)
    .describe('Event time records are held to put the CPUs\' perf buffers back in order; adds this much latency.'),
  cri_sockets: z.array(z.string().regex(/^\//, 'an absolute path')).default(DEFAULT_CRI_SOCKETS)
    .describe('CRI sockets (containerd, CRI-O) asked for container and pod metadata; an empty list turns the lookup off.'),
  cri_timeout_ms: z.number().int().min(100).default(2_000).describe('Time allowed for one CRI ContainerStatus call.'),
  dns_names: z.array(z.string().min(1)).default(DEFAULT_DNS_NAMES)
    .describe('Host names resolved every minute so that fd.sip.name and the like can name addresses (as libsinsp does).'),
  mount_tracefs: z.boolean().default(true).describe('Mount tracefs at /sys/kernel/tracing when it is missing.'),
  store_events: z.enum(['none', 'alerts', 'all']).default('alerts')
    .describe('Which syscall events are stored. `alerts`: an event that raises an alert is stored with the alert (`StoredAlert.event`), nothing else. `all`: also every event the sensor produces, in the `syscall_events` table (searchable with `vigil search --syscall`; retention `storage.retention.syscall_events`), written in batches off the sensor\'s path: when storage falls behind, events are dropped and counted (`vigil_syscall_store_dropped_total`), never waited for. `none`: nothing; alerts are stored without their event.'),
  store_batch_max_events: z.number().int().min(1).default(5000).describe('With `store_events: all`: most syscall events written to storage in one batch.'),
  store_queue_max_events: z.number().int().min(1000).default(100_000)
    .describe('With `store_events: all`: syscall events waiting for storage; beyond it new events are dropped (counted, logged) rather than slow the sensor.'),
  restart_max_backoff_ms: z.number().int().min(100).default(60_000)
    .describe('When bpftrace dies after it started, the sensor is restarted after 1 s, doubling up to this, reset after 5 minutes of running.'),
  labels: labelsSchema,
});

export type SyscallSensorConfig = z.infer<typeof syscallSensorConfig>;

/** startSensor() options from a parsed configuration (the consumer adds onEvent and log). */
export function sensorOptions(c: SyscallSensorConfig): SensorOptions {
  return {
    bpftracePath: c.bpftrace_path,
    ...(c.perf_buffer_pages !== undefined ? { perfBufferPages: c.perf_buffer_pages } : {}),
    queueMaxEvents: c.queue_max_events,
    reorderWindowMs: c.reorder_window_ms,
    criSockets: c.cri_sockets.length ? c.cri_sockets : false,
    criTimeoutMs: c.cri_timeout_ms,
    dnsNames: c.dns_names,
    mountTracefs: c.mount_tracefs,
  };
}
