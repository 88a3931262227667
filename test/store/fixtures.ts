/**
 * Shared material for the store tests: the real traces, generated audit events that stress
 * missing values and odd encodings, random conditions, and the reference answer (the rule
 * engine run on the same events with the condition as a rule).
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { Engine } from '../../src/engine/engine.ts';
import { defaultTables } from '../../src/engine/tables.ts';
import { AuditEvent, decodeAuditText, isDecodeError } from '../../src/events/k8saudit.ts';
import { sharedPath } from '../helpers.ts';

export const TRACES_DIR = sharedPath('falco', 'k8s_audit_traces');

export function traceFiles(): string[] {
  if (!existsSync(TRACES_DIR)) return [];
  return readdirSync(TRACES_DIR).filter((f) => f.endsWith('.json')).sort().map((f) => `${TRACES_DIR}/${f}`);
}

export function traceEvents(): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (const f of traceFiles()) for (const x of decodeAuditText(readFileSync(f, 'utf8'), f)) if (!isDecodeError(x)) out.push(x);
  return out;
}

/** Small deterministic PRNG (mulberry32). */
export class Rng {
  constructor(private s: number) {}
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number { return Math.floor(this.next() * n); }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]!; }
  chance(p: number): boolean { return this.next() < p; }
}

export const POOL = {
  verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'Get', ''],
  users: ['admin', 'alice', 'bob', 'system:anonymous', 'system:node:n1', 'system:serviceaccount:kube-system:x', 'alice\u001fbob', 'ünïcode', 'x\ud800y'],
  groups: ['system:masters', 'system:authenticated', 'system:nodes', 'dev', 'ops', 'a\u001fb'],
  resources: ['pods', 'secrets', 'configmaps', 'clusterrolebindings', 'nodes', 'pods/exec'],
  subresources: ['exec', 'attach', 'status', 'log', ''],
  namespaces: ['default', 'kube-system', 'prod', 'prod-eu', "o'neil", 'back\\slash'],
  names: ['web-1', 'web-2', 'db', 'secret-a', 'etcd-0', '%'],
  codes: [200, 201, 403, 404, 500, '403', '0403', 403.0, 99999999999, -1, null, true],
  decisions: ['allow', 'forbid', ''],
  agents: ['kubectl/v1.29', 'curl/8.0', 'kubelet/v1.29', 'Mozilla'],
  clusters: ['prod-eu-1', 'prod-us-1', 'dev'],
  teams: ['platform', 'payments'],
  stages: ['ResponseComplete', 'RequestReceived', 'ResponseStarted', 'Panic'],
};

const BASE_NS = 1_714_521_600_000_000_000n; // 2024-05-01T00:00:00Z

export interface Generated { ev: AuditEvent; }

function isoOf(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return new Date(ms).toISOString().slice(0, 19) + '.' + frac + 'Z';
}

/** `n` audit events over `spanS` seconds, with missing and odd values on purpose. */
export function generateEvents(n: number, seed = 1, spanS = 3 * 86400): AuditEvent[] {
  const r = new Rng(seed);
  const out: AuditEvent[] = [];
  for (let i = 0; i < n; i++) {
    const t = BASE_NS + BigInt(r.int(spanS * 1000)) * 1_000_000n + BigInt(r.int(1_000_000));
    const raw: Record<string, unknown> = { kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: `gen-${seed}-${i}` };
    if (!r.chance(0.05)) raw.stage = r.pick(POOL.stages);
    raw.stageTimestamp = isoOf(t);
    if (!r.chance(0.05)) raw.verb = r.pick(POOL.verbs);
    if (!r.chance(0.05)) {
      const user: Record<string, unknown> = { username: r.pick(POOL.users) };
      if (r.chance(0.8)) user.groups = r.chance(0.1) ? [] : Array.from({ length: 1 + r.int(3) }, () => r.pick(POOL.groups));
      raw.user = user;
    }
    if (!r.chance(0.1)) {
      const o: Record<string, unknown> = { resource: r.pick(POOL.resources) };
      if (r.chance(0.3)) o.subresource = r.pick(POOL.subresources);
      if (r.chance(0.8)) o.namespace = r.pick(POOL.namespaces);
      if (r.chance(0.7)) o.name = r.pick(POOL.names);
      raw.objectRef = o;
    }
    if (!r.chance(0.1)) {
      const code = r.pick(POOL.codes);
      raw.responseStatus = code === null ? {} : { code };
    }
    if (r.chance(0.8)) raw.annotations = { 'authorization.k8s.io/decision': r.pick(POOL.decisions) };
    if (r.chance(0.9)) raw.userAgent = r.pick(POOL.agents);
    raw.sourceIPs = ['10.0.0.' + r.int(255)];
    raw.requestURI = '/api/v1/namespaces/x/pods?watch=' + r.int(3);
    let labels: Record<string, string> | undefined;
    if (r.chance(0.7)) {
      labels = { cluster: r.pick(POOL.clusters) };
      if (r.chance(0.5)) labels.team = r.pick(POOL.teams);
      if (r.chance(0.2)) labels.owner = 'x';
    }
    out.push(new AuditEvent(raw, t, labels));
  }
  return out;
}

const FIELDS: Array<{ f: string; pool: readonly unknown[]; list?: boolean }> = [
  { f: 'ka.verb', pool: POOL.verbs },
  { f: 'ka.user.name', pool: POOL.users },
  { f: 'ka.user.groups', pool: POOL.groups, list: true },
  { f: 'ka.target.resource', pool: POOL.resources },
  { f: 'ka.target.subresource', pool: POOL.subresources },
  { f: 'ka.target.namespace', pool: POOL.namespaces },
  { f: 'ka.target.name', pool: POOL.names },
  { f: 'ka.response.code', pool: ['200', '403', '0403', '404', '500', '-1', 'true', '99999999999', '1e3'] },
  { f: 'ka.auth.decision', pool: POOL.decisions },
  { f: 'ka.useragent', pool: POOL.agents },
  { f: 'ka.stage', pool: POOL.stages },
  { f: 'vigil.cluster', pool: POOL.clusters },
  { f: 'vigil.team', pool: POOL.teams },
  { f: 'vigil.owner', pool: ['x', 'y'] },
  { f: 'ka.uri', pool: ['/api/v1/namespaces/x/pods?watch=1'] },
  { f: 'jevt.value[/sourceIPs/0]', pool: ['10.0.0.1', '10.0.0.2'] },
];

function quote(v: string): string {
  return '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/[\u0000-\u001f]/g, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0')) + '"';
}

function value(r: Rng, pool: readonly unknown[]): string {
  const v = r.chance(0.9) ? pool[r.int(pool.length)] : 'zz';
  return typeof v === 'string' ? v : String(v);
}

function check(r: Rng): string {
  const { f, pool, list } = r.pick(FIELDS);
  if (list) {
    const op = r.pick(['in', 'intersects', 'exists']);
    if (op === 'exists') return `${f} exists`;
    return `${f} ${op} (${Array.from({ length: 1 + r.int(3) }, () => quote(value(r, pool))).join(', ')})`;
  }
  const op = r.pick(['=', '!=', 'in', 'startswith', 'endswith', 'contains', 'exists', 'icontains', 'glob', '= anyof', 'startswith anyof', 'intersects']);
  const v = value(r, pool);
  const prefix = v.slice(0, r.int(v.length + 1));
  const suffix = v.slice(r.int(v.length + 1));
  switch (op) {
    case 'exists': return `${f} exists`;
    case 'in': case 'intersects': case '= anyof': return `${f} ${op} (${Array.from({ length: r.int(3) + 1 }, () => quote(value(r, pool))).join(', ')})`;
    case 'startswith': return `${f} startswith ${quote(prefix)}`;
    case 'startswith anyof': return `${f} startswith anyof (${quote(prefix)}, ${quote(value(r, pool).slice(0, 2))})`;
    case 'endswith': return `${f} endswith ${quote(suffix)}`;
    case 'contains': return `${f} contains ${quote(v.slice(1, 3))}`;
    case 'icontains': return `${f} icontains ${quote(v.slice(0, 3).toUpperCase())}`;
    case 'glob': return `${f} glob ${quote(prefix + '*')}`;
    default: return `${f} ${op} ${quote(v)}`;
  }
}

/** A random condition over columns and non-columns, nested up to `depth`. */
export function randomCondition(r: Rng, depth = 3): string {
  if (depth === 0 || r.chance(0.35)) return check(r);
  const k = r.int(3);
  if (k === 0) return `not ${r.chance(0.5) ? check(r) : '(' + randomCondition(r, depth - 1) + ')'}`;
  const parts = Array.from({ length: 2 + r.int(2) }, () => '(' + randomCondition(r, depth - 1) + ')');
  return parts.join(k === 1 ? ' and ' : ' or ');
}

export function ruleYaml(condition: string, name = 'search'): string {
  return `- rule: ${name}\n  desc: t\n  condition: ${JSON.stringify(condition)}\n  output: "%ka.auditid %ka.stage"\n  priority: WARNING\n  source: k8s_audit\n`;
}

/**
 * The reference: keys (`auditID/stage`) of the events on which a rule with this condition
 * fires, by the engine (with the event's labels, as the store keeps them).
 */
export function engineMatches(events: readonly AuditEvent[], condition: string): string[] {
  const engine = new Engine({ tables: defaultTables(), ruleMatching: 'all', hostname: 'test' });
  const res = engine.loadSources([{ name: 'search.yaml', text: ruleYaml(condition) }]);
  if (!res.ok) throw new Error(`condition does not load: ${condition}: ${res.diagnostics.map((d) => d.message).join('; ')}`);
  const out: string[] = [];
  for (const ev of events) if (engine.process(ev).length > 0) out.push(keyOf(ev));
  return out.sort();
}

export function keyOf(ev: { raw: Record<string, unknown> }): string {
  return `${String(ev.raw.auditID)}/${typeof ev.raw.stage === 'string' ? ev.raw.stage : ''}`;
}

/** Events unique by identity (what a store keeps of them). */
export function uniqueEvents(events: readonly AuditEvent[]): AuditEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    const k = keyOf(e) + '\u0000' + e.timeNs;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export const ALL_TIME = { fromNs: 0n, toNs: 4_000_000_000_000_000_000n };
