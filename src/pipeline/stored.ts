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

/** Fallback conversion, used until (or unless) the store module provides its own. */
export function basicStoredEvent(ev: AuditEvent): StoredEvent {
  const r = ev.raw;
  const user = (r.user ?? {}) as Record<string, unknown>;
  const obj = (r.objectRef ?? {}) as Record<string, unknown>;
  const status = (r.responseStatus ?? {}) as Record<string, unknown>;
  const ann = (r.annotations ?? {}) as Record<string, unknown>;
  const labels = ev.labels ?? {};
  const { cluster, region, team, ...rest } = labels;
  const out: StoredEvent = { timeNs: ev.timeNs, auditId: r.auditID as string, stage: str(r.stage) ?? '', raw: r };
  if (cluster !== undefined) out.cluster = cluster;
  if (region !== undefined) out.region = region;
  if (team !== undefined) out.team = team;
  if (Object.keys(rest).length) out.labels = rest;
  const set = <K extends keyof StoredEvent>(k: K, v: StoredEvent[K] | undefined): void => { if (v !== undefined) out[k] = v; };
  set('user', str(user.username));
  set('groups', strs(user.groups));
  set('verb', str(r.verb));
  set('resource', str(obj.resource));
  set('subresource', str(obj.subresource));
  set('namespace', str(obj.namespace));
  set('name', str(obj.name));
  set('responseCode', typeof status.code === 'number' ? status.code : undefined);
  set('decision', str(ann['authorization.k8s.io/decision']));
  set('sourceIps', strs(r.sourceIPs));
  set('userAgent', str(r.userAgent));
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
  return out;
}
