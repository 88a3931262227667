/**
 * Falco's JSON alert, checked as Falcosidekick checks it: the body must decode as one JSON
 * object, and `priority` (a known priority name, any case), `rule` (non-empty), `time`
 * (RFC 3339, not the zero time) and `output_fields` (non-empty object) must be present.
 * `output`, `source`, `tags`, `hostname` and `uuid` are optional; a missing `source` becomes
 * `syscalls`, as in Falcosidekick. Unknown keys are ignored.
 */
import { parseRfc3339Ns } from '../../events/k8saudit.ts';
import type { FalcoAlert } from '../sink.ts';

const PRIORITIES: Record<string, string> = {
  emergency: 'Emergency', alert: 'Alert', critical: 'Critical', error: 'Error', warning: 'Warning',
  notice: 'Notice', informational: 'Informational', info: 'Informational', debug: 'Debug',
};

export type FalcoCheck = { ok: true; alert: FalcoAlert } | { ok: false; reason: string };

export function checkFalcoAlert(v: unknown): FalcoCheck {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return { ok: false, reason: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  const prio = typeof o.priority === 'string' ? PRIORITIES[o.priority.toLowerCase()] : undefined;
  if (prio === undefined) return { ok: false, reason: `missing or unknown priority ${JSON.stringify(o.priority ?? null)}` };
  if (typeof o.rule !== 'string' || o.rule === '') return { ok: false, reason: 'missing rule' };
  const timeNs = parseRfc3339Ns(o.time);
  if (timeNs === undefined || timeNs === ZERO_TIME) return { ok: false, reason: 'missing or invalid time (RFC 3339 expected)' };
  const f = o.output_fields;
  if (f === null || typeof f !== 'object' || Array.isArray(f) || Object.keys(f).length === 0) return { ok: false, reason: 'missing or empty output_fields' };
  if (o.output !== undefined && typeof o.output !== 'string') return { ok: false, reason: 'output is not a string' };
  const tags = Array.isArray(o.tags) ? o.tags.filter((t): t is string => typeof t === 'string') : [];
  const alert: FalcoAlert = {
    output: typeof o.output === 'string' ? o.output : '',
    priority: prio,
    rule: o.rule,
    time: o.time as string,
    timeNs,
    output_fields: f as Record<string, unknown>,
    source: typeof o.source === 'string' && o.source !== '' ? o.source : 'syscalls',
    tags,
  };
  if (typeof o.hostname === 'string') alert.hostname = o.hostname;
  if (typeof o.uuid === 'string' && o.uuid !== '') alert.uuid = o.uuid;
  return { ok: true, alert };
}

/** Go's zero time.Time, 0001-01-01T00:00:00Z, which Falcosidekick refuses. */
const ZERO_TIME = parseRfc3339Ns('0001-01-01T00:00:00Z');
