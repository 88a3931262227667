/**
 * From pipeline objects to storage rows: audit events (through the store module's
 * `toStoredEvent` when it is there), engine alerts and Falco alerts, with stable alert ids so
 * that a replayed or retried event stores its alerts once.
 */
import { createHash } from 'node:crypto';
import type { Alert } from '../engine/engine.ts';
import type { AuditEvent } from '../events/k8saudit.ts';
import type { FalcoAlert } from '../sources/sink.ts';
import type { StoredAlert, StoredEvent } from '../store/types.ts';

export type { FalcoAlert };

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function strs(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
}

/** Identity of an audit event: `auditID/stage`. */
export function eventRef(ev: AuditEvent): string {
  return `${ev.raw.auditID as string}/${str(ev.raw.stage) ?? ''}`;
}

/**
 * Fallback conversion, used until (or unless) the store module provides its own (the memory
 * store's). No closures inside: tsx names every inner function at each call
 * (`__name`, an Object.defineProperty), which the profile showed at half of this function.
 */
export function basicStoredEvent(ev: AuditEvent, rawText?: string): StoredEvent {
  const r = ev.raw;
  const user = (r.user ?? {}) as Record<string, unknown>;
  const obj = (r.objectRef ?? {}) as Record<string, unknown>;
  const status = (r.responseStatus ?? {}) as Record<string, unknown>;
  const ann = (r.annotations ?? {}) as Record<string, unknown>;
  const out: StoredEvent = { timeNs: ev.timeNs, auditId: r.auditID as string, stage: str(r.stage) ?? '', raw: r };
  if (rawText !== undefined) out.rawText = rawText;
  const labels = ev.labels;
  if (labels !== undefined) {
    let rest: Record<string, string> | undefined;
    for (const k in labels) {
      const v = labels[k]!;
      if (k === 'cluster') out.cluster = v;
      else if (k === 'region') out.region = v;
      else if (k === 'team') out.team = v;
      else (rest ??= {})[k] = v;
    }
    if (rest !== undefined) out.labels = rest;
  }
  let v: unknown;
  if ((v = str(user.username)) !== undefined) out.user = v as string;
  if ((v = strs(user.groups)) !== undefined) out.groups = v as string[];
  if ((v = str(r.verb)) !== undefined) out.verb = v as string;
  if ((v = str(obj.resource)) !== undefined) out.resource = v as string;
  if ((v = str(obj.subresource)) !== undefined) out.subresource = v as string;
  if ((v = str(obj.namespace)) !== undefined) out.namespace = v as string;
  if ((v = str(obj.name)) !== undefined) out.name = v as string;
  if (typeof status.code === 'number') out.responseCode = status.code;
  if ((v = str(ann['authorization.k8s.io/decision'])) !== undefined) out.decision = v as string;
  if ((v = strs(r.sourceIPs)) !== undefined) out.sourceIps = v as string[];
  if ((v = str(r.userAgent)) !== undefined) out.userAgent = v as string;
  return out;
}

function hashId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}

export function storedEngineAlert(a: Alert): StoredAlert {
  const ev = a.event as AuditEvent;
  const ref = ev.raw !== undefined ? eventRef(ev) : String(a.time);
  const out: StoredAlert = {
    id: hashId('engine', a.rule, a.source, ref),
    timeNs: a.time, rule: a.rule, priority: a.priority, source: a.source, output: a.output,
    outputFields: a.output_fields, tags: a.tags, eventRef: ref,
  };
  if (ev.labels) out.labels = ev.labels;
  return out;
}

export function storedFalcoAlert(f: FalcoAlert, labels: Record<string, string> | undefined): StoredAlert {
  const out: StoredAlert = {
    id: f.uuid ? hashId('falco-uuid', f.uuid) : hashId('falco', f.rule, f.time, f.hostname ?? '', f.output),
    timeNs: f.timeNs, rule: f.rule, priority: f.priority, source: f.source, output: f.output,
    outputFields: f.output_fields, tags: f.tags,
  };
  if (labels && Object.keys(labels).length) out.labels = labels;
  if (f.event) out.event = f.event;
  return out;
}
