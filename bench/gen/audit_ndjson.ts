/**
 * The Kubernetes audit benchmark input: an NDJSON file of N audit events (default 1,000,000),
 * generated once and cached under bench/data/ (git-ignored).
 *
 * What a real cluster's audit log looks like, roughly: mostly reads by the control plane and
 * the nodes, a few routine writes, and a thin layer of the operations that rules care about.
 * - ~90% benign reads: get/list/watch of pods, configmaps, secrets, leases, nodes, endpoint
 *   slices, services, ... by kubelets (`system:node:node-NN`), controllers
 *   (`system:serviceaccount:kube-system:*`, `system:kube-controller-manager`,
 *   `system:kube-scheduler`), in-cluster agents (coredns, prometheus, argocd) and a few humans
 *   running kubectl. Audit level Metadata (no request/response bodies), ~0.8 KB each.
 * - ~3% benign writes: lease renewals, pod status patches, event creation.
 * - ~7% variations of the real traces in shared/falco/k8s_audit_traces (pod creations with
 *   privileged / hostNetwork / sensitive mounts, exec and attach, RBAC changes, configmaps
 *   with credentials, namespace and service account changes, ...), 0.7-3.9 KB each.
 *   Each copy gets a new auditID and timestamps; non-`system:` users are redrawn from a pool
 *   (some of whom are not in the rules' allowed list); namespaces other than kube-system/
 *   kube-public and object names are varied, and the request URI follows.
 *   fal_01_003.json (a deliberately broken event) is skipped.
 * When shared/ is missing, a handful of built-in synthetic templates of the same kinds stand
 * in for the traces.
 *
 * Timestamps advance ~1.2 ms per event (about 830 events/s, a mid-size cluster) from
 * 2024-05-01T00:00:00Z, with microsecond precision as the API server writes them.
 * Deterministic (seeded), written to a temporary file and renamed, so an interrupted run never
 * leaves a truncated file that looks cached.
 *
 * Run directly (`node --import tsx bench/gen/audit_ndjson.ts [count]`) it makes sure the file
 * exists and reports its path, size and origin.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { decodeAuditText, isDecodeError } from '../../src/events/k8saudit.ts';
import { AUDIT_TRACES_DIR, DATA_DIR, Rng, emitResults, log, rel, weighted } from '../common.ts';

/** Bump when the generated content changes, to invalidate cached files. */
const GEN_VERSION = 2;
export const DEFAULT_AUDIT_EVENTS = 1_000_000;

export interface AuditData {
  file: string;
  events: number;
  bytes: number;
  /** Where the interesting events came from. */
  origin: 'traces' | 'synthetic';
  templates: number;
  /** True when the file was made by this call. */
  generated: boolean;
}

type Obj = Record<string, any>;

// ---------------------------------------------------------------------------------------------
// Time

let clockUs = 1_714_521_600_000_000; // 2024-05-01T00:00:00Z in µs (exact in a double)

function isoUs(us: number): string {
  const ms = Math.floor(us / 1000);
  return new Date(ms).toISOString().slice(0, 23) + String(us - ms * 1000).padStart(3, '0') + 'Z';
}

// ---------------------------------------------------------------------------------------------
// Benign traffic

const NODES = Array.from({ length: 40 }, (_, i) => `node-${String(i + 1).padStart(2, '0')}`);
const APP_NAMESPACES = ['default', 'web', 'shop', 'data', 'monitoring', 'logging', 'ingress-nginx', 'cert-manager', 'argocd',
  ...Array.from({ length: 12 }, (_, i) => `team-${String.fromCharCode(97 + i)}`)];
const APPS = ['frontend', 'checkout', 'cart', 'payments', 'search', 'catalog', 'api', 'worker', 'postgres', 'redis', 'kafka', 'prometheus'];
/** Human users: the first three are in the upstream rules' allowed list, the others are not. */
const HUMANS = ['minikube-user', 'kubernetes-admin', 'admin', 'alice@example.com', 'bob@example.com', 'ci-deployer'];

interface Res { resource: string; group?: string; version: string; namespaced: boolean }
const R: Record<string, Res> = {
  pods: { resource: 'pods', version: 'v1', namespaced: true },
  configmaps: { resource: 'configmaps', version: 'v1', namespaced: true },
  secrets: { resource: 'secrets', version: 'v1', namespaced: true },
  services: { resource: 'services', version: 'v1', namespaced: true },
  serviceaccounts: { resource: 'serviceaccounts', version: 'v1', namespaced: true },
  nodes: { resource: 'nodes', version: 'v1', namespaced: false },
  namespaces: { resource: 'namespaces', version: 'v1', namespaced: false },
  events: { resource: 'events', version: 'v1', namespaced: true },
  leases: { resource: 'leases', group: 'coordination.k8s.io', version: 'v1', namespaced: true },
  endpointslices: { resource: 'endpointslices', group: 'discovery.k8s.io', version: 'v1', namespaced: true },
  replicasets: { resource: 'replicasets', group: 'apps', version: 'v1', namespaced: true },
  deployments: { resource: 'deployments', group: 'apps', version: 'v1', namespaced: true },
  csinodes: { resource: 'csinodes', group: 'storage.k8s.io', version: 'v1', namespaced: false },
};

interface Actor { user: (rng: Rng) => string; groups: string[]; agent: string; ip: (rng: Rng) => string }

const nodeIp = (rng: Rng) => `10.0.1.${10 + rng.int(40)}`;
const podIp = (rng: Rng) => `10.244.${rng.int(40)}.${2 + rng.int(250)}`;
const sa = (ns: string, name: string): Actor => ({
  user: () => `system:serviceaccount:${ns}:${name}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
  agent: `${name}/v1.29.4 (linux/amd64) kubernetes/55019c8`, ip: podIp,
});
const KUBELET: Actor = { user: (rng) => `system:node:${rng.pick(NODES)}`, groups: ['system:nodes', 'system:authenticated'], agent: 'kubelet/v1.29.4 (linux/amd64) kubernetes/55019c8', ip: nodeIp };
const KCM: Actor = { user: () => 'system:kube-controller-manager', groups: ['system:authenticated'], agent: 'kube-controller-manager/v1.29.4 (linux/amd64) kubernetes/55019c8/leader-election', ip: () => '10.0.0.10' };
const SCHED: Actor = { user: () => 'system:kube-scheduler', groups: ['system:authenticated'], agent: 'kube-scheduler/v1.29.4 (linux/amd64) kubernetes/55019c8/leader-election', ip: () => '10.0.0.10' };
const HUMAN: Actor = { user: (rng) => rng.pick(HUMANS), groups: ['system:masters', 'system:authenticated'], agent: 'kubectl/v1.29.4 (linux/amd64) kubernetes/55019c8', ip: () => '192.168.99.1' };

/** A benign request kind: who, which verbs, on what, where. */
interface Kind { actor: Actor; verbs: readonly string[]; res: Res; ns?: (rng: Rng) => string; name?: (rng: Rng, user: string) => string | undefined }

/** A kubelet reads and renews its own node, lease and CSINode. */
const ownNode = (_rng: Rng, user: string): string => user.slice('system:node:'.length);

const appNs = (rng: Rng) => rng.pick(APP_NAMESPACES);
const podName = (rng: Rng) => `${rng.pick(APPS)}-${rng.hex(9).replace(/[0-3]/g, 'b')}-${rng.hex(5)}`;

const READS = weighted<Kind>([
  [14, { actor: KUBELET, verbs: ['get'], res: R.pods!, ns: appNs, name: podName }],
  [8, { actor: KUBELET, verbs: ['get'], res: R.nodes!, name: ownNode }],
  [6, { actor: KUBELET, verbs: ['get'], res: R.leases!, ns: () => 'kube-node-lease', name: ownNode }],
  [6, { actor: KUBELET, verbs: ['list', 'watch'], res: R.configmaps!, ns: appNs, name: () => undefined }],
  [4, { actor: KUBELET, verbs: ['get', 'watch'], res: R.secrets!, ns: appNs, name: (rng) => `${rng.pick(APPS)}-tls` }],
  [5, { actor: KUBELET, verbs: ['watch'], res: R.pods!, name: () => undefined }],
  [3, { actor: KUBELET, verbs: ['get'], res: R.csinodes!, name: ownNode }],
  [6, { actor: KCM, verbs: ['get'], res: R.leases!, ns: () => 'kube-system', name: () => 'kube-controller-manager' }],
  [5, { actor: SCHED, verbs: ['get'], res: R.leases!, ns: () => 'kube-system', name: () => 'kube-scheduler' }],
  [4, { actor: SCHED, verbs: ['list', 'watch'], res: R.pods!, name: () => undefined }],
  [5, { actor: sa('kube-system', 'replicaset-controller'), verbs: ['list', 'watch', 'get'], res: R.replicasets!, ns: appNs }],
  [4, { actor: sa('kube-system', 'deployment-controller'), verbs: ['list', 'watch', 'get'], res: R.deployments!, ns: appNs }],
  [4, { actor: sa('kube-system', 'endpointslice-controller'), verbs: ['list', 'watch', 'get'], res: R.endpointslices!, ns: appNs }],
  [4, { actor: sa('kube-system', 'coredns'), verbs: ['list', 'watch'], res: R.endpointslices! }],
  [3, { actor: sa('kube-system', 'coredns'), verbs: ['list', 'watch'], res: R.services! }],
  [2, { actor: sa('kube-system', 'coredns'), verbs: ['list', 'watch'], res: R.namespaces! }],
  [4, { actor: sa('monitoring', 'prometheus'), verbs: ['list', 'watch'], res: R.pods!, ns: appNs }],
  [2, { actor: sa('monitoring', 'prometheus'), verbs: ['list', 'watch'], res: R.services!, ns: appNs }],
  [3, { actor: sa('argocd', 'argocd-application-controller'), verbs: ['list', 'watch', 'get'], res: R.deployments!, ns: appNs }],
  [2, { actor: sa('argocd', 'argocd-application-controller'), verbs: ['get', 'list'], res: R.configmaps!, ns: appNs }],
  [2, { actor: sa('cert-manager', 'cert-manager'), verbs: ['get', 'list', 'watch'], res: R.secrets!, ns: appNs }],
  [1, { actor: sa('kube-system', 'namespace-controller'), verbs: ['list'], res: R.serviceaccounts!, ns: appNs }],
  [1, { actor: HUMAN, verbs: ['get', 'list'], res: R.pods!, ns: appNs }],
  [0.5, { actor: HUMAN, verbs: ['get'], res: R.deployments!, ns: appNs, name: (rng) => rng.pick(APPS) }],
]);

const WRITES = weighted<Kind>([
  [5, { actor: KUBELET, verbs: ['update'], res: R.leases!, ns: () => 'kube-node-lease', name: ownNode }],
  [2, { actor: KCM, verbs: ['update'], res: R.leases!, ns: () => 'kube-system', name: () => 'kube-controller-manager' }],
  [3, { actor: KUBELET, verbs: ['patch'], res: R.pods!, ns: appNs, name: podName }],
  [3, { actor: KUBELET, verbs: ['create'], res: R.events!, ns: appNs }],
]);

function uriOf(res: Res, verb: string, ns: string | undefined, name: string | undefined, rng: Rng): string {
  let u = res.group ? `/apis/${res.group}/${res.version}` : `/api/${res.version}`;
  if (ns !== undefined) u += `/namespaces/${ns}`;
  u += `/${res.resource}`;
  if (name !== undefined) u += `/${name}`;
  if (verb === 'watch') u += `?allowWatchBookmarks=true&resourceVersion=${100000 + rng.int(900000)}&timeout=${5 + rng.int(5)}m${rng.int(60)}s&watch=true`;
  else if (verb === 'list') u += '?limit=500&resourceVersion=0';
  else if (verb === 'get' && res.resource === 'leases') u += '?timeout=10s';
  return u;
}

function benign(kind: Kind, rng: Rng): Obj {
  const verb = rng.pick(kind.verbs);
  const ns = kind.res.namespaced ? kind.ns?.(rng) : undefined;
  const single = verb === 'get' || verb === 'update' || verb === 'patch';
  const username = kind.actor.user(rng);
  const name = single ? kind.name?.(rng, username) : undefined;
  const objectRef: Obj = { resource: kind.res.resource };
  if (ns !== undefined) objectRef.namespace = ns;
  if (name !== undefined) objectRef.name = name;
  if (kind.res.group) objectRef.apiGroup = kind.res.group;
  objectRef.apiVersion = kind.res.version;
  if (verb === 'patch') objectRef.subresource = 'status';
  const stageUs = clockUs;
  // Watches are long requests: most log only their end, a few their start too.
  const started = verb === 'watch' && rng.chance(0.3);
  return {
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: rng.uuid(),
    stage: started ? 'ResponseStarted' : 'ResponseComplete',
    requestURI: uriOf(kind.res, verb, ns, name, rng) + (verb === 'patch' ? '/status' : ''), verb,
    user: { username, groups: kind.actor.groups }, sourceIPs: [kind.actor.ip(rng)], userAgent: kind.actor.agent,
    objectRef, responseStatus: { metadata: {}, code: verb === 'create' ? 201 : 200 },
    requestReceivedTimestamp: isoUs(stageUs - 200 - rng.int(started ? 2000 : 20000)), stageTimestamp: isoUs(stageUs),
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': started || kind.actor === HUMAN ? 'RBAC: allowed by ClusterRoleBinding "cluster-admin"' : '' },
  };
}

// ---------------------------------------------------------------------------------------------
// Interesting traffic: the real traces, varied

/** The real trace events as JSON text (one per event), or undefined when shared/ is missing. */
function loadTraces(): string[] | undefined {
  if (!existsSync(AUDIT_TRACES_DIR)) return undefined;
  const out: string[] = [];
  for (const f of readdirSync(AUDIT_TRACES_DIR).filter((x) => x.endsWith('.json')).sort()) {
    // The project's own decoder decides what an event is (it rejects fal_01_003.json's `{"kind": 0}`).
    for (const ev of decodeAuditText(readFileSync(path.join(AUDIT_TRACES_DIR, f), 'utf8'), f)) {
      if (!isDecodeError(ev)) out.push(JSON.stringify(ev.raw));
    }
  }
  return out.length > 0 ? out : undefined;
}

/** Stand-ins for the traces, of the same kinds, when shared/ is missing. */
function syntheticTemplates(): string[] {
  const base = (verb: string, stage: string, objectRef: Obj, user: string, extra: Obj = {}): Obj => ({
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'RequestResponse', auditID: '', stage,
    requestURI: `/api/v1${objectRef.namespace ? `/namespaces/${objectRef.namespace}` : ''}/${objectRef.resource}${objectRef.name && verb !== 'create' ? `/${objectRef.name}` : ''}`,
    verb, user: { username: user, groups: ['system:masters', 'system:authenticated'] }, sourceIPs: ['192.168.99.1'],
    objectRef, responseStatus: { metadata: {}, code: verb === 'create' ? 201 : 200 },
    requestReceivedTimestamp: '', stageTimestamp: '', annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
    ...extra,
  });
  const pod = (spec: Obj): Obj => ({ requestObject: { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'nginx', namespace: 'default' }, spec } });
  const rbac = { apiGroup: 'rbac.authorization.k8s.io', apiVersion: 'v1' };
  return [
    base('create', 'ResponseComplete', { resource: 'pods', namespace: 'default', apiVersion: 'v1' }, 'system:serviceaccount:kube-system:replicaset-controller',
      pod({ containers: [{ name: 'nginx', image: 'nginx', securityContext: { privileged: true } }] })),
    base('create', 'ResponseComplete', { resource: 'pods', namespace: 'default', apiVersion: 'v1' }, 'system:serviceaccount:kube-system:replicaset-controller',
      pod({ hostNetwork: true, containers: [{ name: 'nginx', image: 'nginx' }] })),
    base('create', 'ResponseComplete', { resource: 'pods', namespace: 'default', apiVersion: 'v1' }, 'system:serviceaccount:kube-system:replicaset-controller',
      pod({ containers: [{ name: 'nginx', image: 'nginx' }], volumes: [{ name: 'etc', hostPath: { path: '/etc' } }] })),
    base('create', 'ResponseStarted', { resource: 'pods', namespace: 'default', name: 'nginx-7998647bdf-phvq7', subresource: 'exec', apiVersion: 'v1' }, 'minikube-user',
      { requestURI: '/api/v1/namespaces/default/pods/nginx-7998647bdf-phvq7/exec?command=bash&container=nginx&stdin=true&stdout=true&tty=true' }),
    base('create', 'ResponseComplete', { resource: 'clusterrolebindings', name: 'some-reader-binding', ...rbac }, 'minikube-user',
      { requestObject: { kind: 'ClusterRoleBinding', roleRef: { kind: 'ClusterRole', name: 'cluster-admin', apiGroup: 'rbac.authorization.k8s.io' }, subjects: [{ kind: 'User', name: 'mallory' }] } }),
    base('create', 'ResponseComplete', { resource: 'clusterroles', name: 'some-reader', ...rbac }, 'minikube-user',
      { requestObject: { kind: 'ClusterRole', rules: [{ apiGroups: [''], resources: ['*'], verbs: ['*'] }] } }),
    base('create', 'ResponseComplete', { resource: 'configmaps', namespace: 'default', name: 'my-config', apiVersion: 'v1' }, 'minikube-user',
      { requestObject: { kind: 'ConfigMap', data: { aws_access_key_id: 'AKIAEXAMPLE', aws_secret_access_key: 'secret' } } }),
    base('delete', 'ResponseComplete', { resource: 'namespaces', namespace: 'foo', name: 'foo', apiVersion: 'v1' }, 'minikube-user'),
    base('create', 'ResponseComplete', { resource: 'serviceaccounts', namespace: 'kube-system', name: 'myacct', apiVersion: 'v1' }, 'minikube-user'),
    base('create', 'ResponseComplete', { resource: 'services', namespace: 'default', name: 'nginx', apiVersion: 'v1' }, 'minikube-user',
      { requestObject: { kind: 'Service', spec: { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] } } }),
    base('create', 'ResponseComplete', { resource: 'namespaces', name: 'foo', apiVersion: 'v1' }, 'system:anonymous'),
  ].map((o) => JSON.stringify(o));
}

const KEEP_NS = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

/** One varied copy of a template. */
function vary(template: string, rng: Rng): Obj {
  const o = JSON.parse(template) as Obj; // a fresh deep copy
  o.auditID = rng.uuid();
  const stageUs = clockUs;
  o.stageTimestamp = isoUs(stageUs);
  o.requestReceivedTimestamp = isoUs(stageUs - 500 - rng.int(30000));
  if (o.timestamp !== undefined) o.timestamp = isoUs(stageUs).slice(0, 19) + 'Z';
  if (o.metadata?.creationTimestamp !== undefined) o.metadata.creationTimestamp = isoUs(stageUs).slice(0, 19) + 'Z';
  const user = o.user as Obj | undefined;
  if (user && typeof user.username === 'string' && !user.username.startsWith('system:')) user.username = rng.pick(HUMANS);
  if (Array.isArray(o.sourceIPs)) o.sourceIPs = [rng.chance(0.5) ? '192.168.99.1' : `10.20.${rng.int(8)}.${1 + rng.int(250)}`];

  const ref = o.objectRef as Obj | undefined;
  if (!ref) return o;
  let uri = String(o.requestURI ?? '');
  const rename = (from: unknown, to: string, seg: (s: string) => string): void => {
    if (typeof from !== 'string' || from === to) return;
    uri = uri.split(seg(from)).join(seg(to));
    for (const body of [o.requestObject, o.responseObject] as Array<Obj | undefined>) {
      const md = body?.metadata as Obj | undefined;
      if (md?.name === from) md.name = to;
      if (md?.namespace === from) md.namespace = to;
    }
  };
  const oldNs = ref.namespace;
  if (ref.resource === 'namespaces') {
    // The namespace is the object: rename both together.
    if (typeof ref.name === 'string' && !KEEP_NS.has(ref.name)) {
      const to = `${ref.name}-${rng.int(100)}`;
      rename(ref.name, to, (s) => `/namespaces/${s}`);
      ref.name = to;
      if (ref.namespace !== undefined) ref.namespace = to;
    }
  } else {
    if (typeof oldNs === 'string' && !KEEP_NS.has(oldNs)) {
      const to = rng.pick(APP_NAMESPACES);
      rename(oldNs, to, (s) => `/namespaces/${s}/`);
      ref.namespace = to;
    }
    // Names with a meaning to rules (system:*, token secrets) stay as they are.
    const name = ref.name;
    if (typeof name === 'string' && !name.startsWith('system:') && !name.includes('token-')) {
      const to = `${name}-${rng.hex(5)}`;
      rename(name, to, (s) => `/${s}`);
      ref.name = to;
    }
  }
  o.requestURI = uri;
  return o;
}

// ---------------------------------------------------------------------------------------------
// Generation and caching

const pickClass = weighted<'read' | 'write' | 'trace'>([[90, 'read'], [3, 'write'], [7, 'trace']]);

export function auditDataPath(events: number): string {
  return path.join(DATA_DIR, `k8saudit-${events}.ndjson`);
}

/** Make sure the NDJSON file for `events` exists (generating it if needed) and describe it. */
export function ensureAuditData(events = DEFAULT_AUDIT_EVENTS): AuditData {
  const file = auditDataPath(events);
  const metaFile = file + '.meta.json';
  if (existsSync(file) && existsSync(metaFile)) {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as Omit<AuditData, 'generated'> & { version: number };
    if (meta.version === GEN_VERSION && meta.events === events && statSync(file).size === meta.bytes) return { ...meta, file, generated: false };
  }
  mkdirSync(DATA_DIR, { recursive: true });
  const traces = loadTraces();
  const templates = traces ?? syntheticTemplates();
  const origin = traces ? 'traces' : 'synthetic';
  log(`generating ${events} audit events into ${rel(file)} (interesting events from ${origin === 'traces' ? `${templates.length} real trace events` : 'built-in synthetic templates'})`);
  const rng = new Rng(20240501);
  const tmp = file + '.tmp';
  const fd = openSync(tmp, 'w');
  let bytes = 0;
  let batch: string[] = [];
  const flush = (): void => {
    const s = batch.join('');
    bytes += Buffer.byteLength(s);
    writeSync(fd, s);
    batch = [];
  };
  try {
    for (let i = 0; i < events; i++) {
      clockUs += 400 + rng.int(1600);
      const cls = pickClass(rng);
      const o = cls === 'read' ? benign(READS(rng), rng) : cls === 'write' ? benign(WRITES(rng), rng) : vary(rng.pick(templates), rng);
      batch.push(JSON.stringify(o) + '\n');
      if (batch.length === 10_000) flush();
      if ((i + 1) % 250_000 === 0) log(`${i + 1} events`);
    }
    flush();
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const meta = { version: GEN_VERSION, events, bytes, origin, templates: templates.length } as const;
  writeFileSync(metaFile, JSON.stringify(meta) + '\n');
  return { ...meta, file, generated: true };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const t0 = performance.now();
  const d = ensureAuditData(Number(process.argv[2] ?? DEFAULT_AUDIT_EVENTS));
  const s = (performance.now() - t0) / 1000;
  emitResults([{
    name: 'k8saudit.data.mb', value: Math.round(d.bytes / 1e5) / 10, unit: 'MB',
    note: `${d.events} events in ${rel(d.file)}, ${d.origin === 'traces' ? `varied from ${d.templates} real trace events` : 'fully synthetic (../shared missing)'}; ` +
      (d.generated ? `generated in ${s.toFixed(1)} s` : 'cached'),
  }]);
}
