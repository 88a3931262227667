/**
 * The demo scenario, written for Vigil: forty seconds of a small production cluster's
 * ordinary work (kubelets, controllers, the scheduler, a GitOps deployer, Prometheus, an
 * engineer with kubectl) with an attack woven through it:
 *
 *   1. a token stolen from the `shop/storefront` pod is used from kubectl on a foreign address;
 *   2. it hunts for secrets: cluster-wide and kube-system reads are refused (403);
 *   3. it reads a CI deployer's token from a secret in its own namespace, and with it binds
 *      cluster-admin to the storefront service account (RBAC escalation);
 *   4. now cluster-admin, it lists every secret of the cluster and reads a kube-system one;
 *   5. it opens a shell in the payments API pod and an exec session into etcd.
 *
 * Events are audit.k8s.io/v1 `Event`s as the API server writes them (ResponseComplete, the
 * authorization annotations, requestURI matching objectRef), stamped from the start time.
 */
import { randomUUID } from 'node:crypto';

export interface ScenarioEvent {
  /** ms after the start. */
  atMs: number;
  event: Record<string, unknown>;
}

interface Req {
  user: string;
  groups?: string[];
  verb: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  apiGroup?: string;
  query?: string;
  code?: number;
  ua: string;
  ip: string;
  requestObject?: unknown;
  level?: string;
}

const GROUP: Record<string, string> = {
  deployments: 'apps/v1', replicasets: 'apps/v1', leases: 'coordination.k8s.io/v1',
  clusterrolebindings: 'rbac.authorization.k8s.io/v1', rolebindings: 'rbac.authorization.k8s.io/v1',
  endpointslices: 'discovery.k8s.io/v1', selfsubjectrulesreviews: 'authorization.k8s.io/v1',
};
const CLUSTER_SCOPED = new Set(['nodes', 'namespaces', 'clusterrolebindings', 'clusterroles', 'selfsubjectrulesreviews']);

function iso(ms: number, extraUs: number): string {
  const d = new Date(ms);
  const us = String(d.getUTCMilliseconds() * 1000 + (extraUs % 1000)).padStart(6, '0');
  return d.toISOString().slice(0, 19) + '.' + us + 'Z';
}

function build(startMs: number, atMs: number, r: Req, seq: number): Record<string, unknown> {
  const gv = GROUP[r.resource ?? ''] ?? 'v1';
  const [group, version] = gv.includes('/') ? gv.split('/') as [string, string] : ['', gv];
  let uri = group ? `/apis/${group}/${version}` : `/api/${version}`;
  if (r.namespace && !CLUSTER_SCOPED.has(r.resource ?? '')) uri += `/namespaces/${r.namespace}`;
  if (r.resource) uri += `/${r.resource}`;
  if (r.name) uri += `/${r.name}`;
  if (r.subresource) uri += `/${r.subresource}`;
  if (r.query) uri += `?${r.query}`;
  const code = r.code ?? (r.verb === 'create' ? 201 : 200);
  const objectRef: Record<string, unknown> = { resource: r.resource };
  if (r.namespace) objectRef.namespace = r.namespace;
  if (r.name) objectRef.name = r.name;
  if (group) objectRef.apiGroup = group;
  objectRef.apiVersion = version;
  if (r.subresource) objectRef.subresource = r.subresource;
  const t = startMs + atMs;
  const ev: Record<string, unknown> = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: r.level ?? (r.requestObject ? 'Request' : 'Metadata'),
    auditID: randomUUID(),
    stage: 'ResponseComplete',
    requestURI: uri,
    verb: r.verb,
    user: { username: r.user, uid: uidFor(r.user), groups: r.groups ?? groupsFor(r.user) },
    sourceIPs: [r.ip],
    userAgent: r.ua,
    objectRef,
    responseStatus: code >= 400 ? { metadata: {}, status: 'Failure', reason: code === 403 ? 'Forbidden' : 'NotFound', code } : { metadata: {}, code },
    requestReceivedTimestamp: iso(t - 3, seq),
    stageTimestamp: iso(t, seq + 417),
    annotations: code === 403
      ? { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' }
      : { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': reasonFor(r.user) },
  };
  if (r.requestObject) ev.requestObject = r.requestObject;
  return ev;
}

function uidFor(user: string): string {
  let h = 0;
  for (let i = 0; i < user.length; i++) h = (h * 31 + user.charCodeAt(i)) >>> 0;
  const hex = h.toString(16).padStart(8, '0');
  return `${hex}-5f1e-4c2a-9d3b-${hex}${hex.slice(0, 4)}`;
}

function groupsFor(user: string): string[] {
  if (user.startsWith('system:serviceaccount:')) {
    const ns = user.split(':')[2]!;
    return ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'];
  }
  if (user.startsWith('system:node:')) return ['system:nodes', 'system:authenticated'];
  if (user.startsWith('system:')) return ['system:authenticated'];
  return ['oidc:platform-team', 'system:authenticated'];
}

function reasonFor(user: string): string {
  if (user.startsWith('system:node:')) return '';
  if (user.startsWith('system:kube-') || user === 'system:apiserver') return 'RBAC: allowed by ClusterRoleBinding "system:' + user.slice(7) + '" of ClusterRole "system:' + user.slice(7) + '" to User "' + user + '"';
  return 'RBAC: allowed by RoleBinding';
}

// ---------------------------------------------------------------------------------------------
// The cast

const NODES = ['ip-10-0-1-17.eu-west-1.compute.internal', 'ip-10-0-2-41.eu-west-1.compute.internal', 'ip-10-0-3-8.eu-west-1.compute.internal'];
const NODE_IPS = ['10.0.1.17', '10.0.2.41', '10.0.3.8'];
const KUBELET_UA = 'kubelet/v1.30.4 (linux/amd64) kubernetes/7c7c0b4';
const KCM_UA = 'kube-controller-manager/v1.30.4 (linux/amd64) kubernetes/7c7c0b4/leader-election';
const SCHED_UA = 'kube-scheduler/v1.30.4 (linux/amd64) kubernetes/7c7c0b4/scheduler';
const PODS: Array<[string, string]> = [
  ['shop', 'storefront-7d9f8c6b5-x2k4p'], ['shop', 'cart-6c7b9d4f8-hq9zt'], ['payments', 'payments-api-5c8d7f9b6-m4wrn'],
  ['monitoring', 'prometheus-0'], ['kube-system', 'coredns-76f75df574-8xkqv'],
];
const ATTACKER_IP = '203.0.113.50';
const ATTACKER_UA = 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350';
const STOREFRONT = 'system:serviceaccount:shop:storefront';
const DEPLOYER = 'system:serviceaccount:ci:deployer';

/** Background work of a healthy cluster, one request per call, chosen by `i`. */
function ordinary(i: number): Req {
  const n = i % NODES.length;
  const [ns, pod] = PODS[i % PODS.length]!;
  switch (i % 12) {
    case 0: return { user: `system:node:${NODES[n]}`, verb: 'update', resource: 'leases', namespace: 'kube-node-lease', name: NODES[n], ua: KUBELET_UA, ip: NODE_IPS[n]! };
    case 1: return { user: `system:node:${NODES[n]}`, verb: 'patch', resource: 'pods', subresource: 'status', namespace: ns, name: pod, ua: KUBELET_UA, ip: NODE_IPS[n]! };
    case 2: return { user: `system:node:${NODES[n]}`, verb: 'get', resource: 'secrets', namespace: ns, name: `${pod.split('-')[0]}-tls`, ua: KUBELET_UA, ip: NODE_IPS[n]! };
    case 3: return { user: 'system:kube-controller-manager', verb: 'update', resource: 'leases', namespace: 'kube-system', name: 'kube-controller-manager', ua: KCM_UA, ip: '10.0.0.10' };
    case 4: return { user: 'system:kube-scheduler', verb: 'update', resource: 'leases', namespace: 'kube-system', name: 'kube-scheduler', ua: SCHED_UA, ip: '10.0.0.10' };
    case 5: return { user: 'system:serviceaccount:monitoring:prometheus', verb: 'list', resource: 'endpointslices', namespace: ns, ua: 'Prometheus/2.53.1', ip: '10.0.2.77' };
    case 6: return { user: 'system:serviceaccount:kube-system:coredns', verb: 'watch', resource: 'endpointslices', query: 'watch=true&resourceVersion=48211', ua: 'coredns/v1.11.1', ip: '10.0.3.12' };
    case 7: return { user: 'system:serviceaccount:kube-system:replicaset-controller', verb: 'update', resource: 'replicasets', subresource: 'status', namespace: ns, name: pod.split('-').slice(0, -1).join('-'), ua: KCM_UA.replace('/leader-election', '/system:serviceaccount:kube-system:replicaset-controller'), ip: '10.0.0.10' };
    case 8: return { user: DEPLOYER, verb: 'get', resource: 'deployments', namespace: 'shop', name: 'storefront', ua: 'argocd-application-controller/v2.11.3', ip: '10.0.1.90' };
    case 9: return { user: 'alice@example.com', verb: 'list', resource: 'pods', namespace: 'shop', query: 'limit=500', ua: 'kubectl/v1.30.1 (darwin/arm64) kubernetes/6911225', ip: '192.0.2.24' };
    case 10: return { user: 'alice@example.com', verb: 'get', resource: 'pods', subresource: 'log', namespace: 'shop', name: 'cart-6c7b9d4f8-hq9zt', query: 'container=cart&tailLines=100', ua: 'kubectl/v1.30.1 (darwin/arm64) kubernetes/6911225', ip: '192.0.2.24' };
    default: return { user: 'system:apiserver', verb: 'get', resource: 'namespaces', name: 'default', ua: 'kube-apiserver/v1.30.4 (linux/amd64) kubernetes/7c7c0b4', ip: '::1' };
  }
}

/** The attack, as (ms after start, request). */
function attack(): Array<[number, Req]> {
  const as = (user: string, r: Omit<Req, 'user' | 'ua' | 'ip'>): Req => ({ user, ua: ATTACKER_UA, ip: ATTACKER_IP, ...r });
  return [
    // 1. A stolen pod token, used from kubectl.
    [2500, as(STOREFRONT, { verb: 'create', resource: 'selfsubjectrulesreviews', requestObject: { kind: 'SelfSubjectRulesReview', apiVersion: 'authorization.k8s.io/v1', spec: { namespace: 'shop' } } })],
    [3200, as(STOREFRONT, { verb: 'list', resource: 'pods', namespace: 'shop' })],
    // 2. Secret hunt, refused.
    [5000, as(STOREFRONT, { verb: 'list', resource: 'secrets', code: 403 })],
    [5600, as(STOREFRONT, { verb: 'get', resource: 'secrets', namespace: 'kube-system', name: 'cloud-provider-credentials', code: 403 })],
    [6300, as(STOREFRONT, { verb: 'list', resource: 'secrets', namespace: 'payments', code: 403 })],
    // 3. The CI deployer's token, found in the storefront's own namespace, then escalation.
    [8000, as(STOREFRONT, { verb: 'list', resource: 'secrets', namespace: 'shop' })],
    [8700, as(STOREFRONT, { verb: 'get', resource: 'secrets', namespace: 'shop', name: 'ci-deployer-token' })],
    [11000, as(DEPLOYER, {
      verb: 'create', resource: 'clusterrolebindings', name: 'storefront-ops',
      requestObject: {
        kind: 'ClusterRoleBinding', apiVersion: 'rbac.authorization.k8s.io/v1', metadata: { name: 'storefront-ops' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'ServiceAccount', name: 'storefront', namespace: 'shop' }],
      },
    })],
    // 4. Cluster-admin now: every secret, and kube-system's.
    [14000, as(STOREFRONT, { verb: 'list', resource: 'secrets' })],
    [15000, as(STOREFRONT, { verb: 'get', resource: 'secrets', namespace: 'kube-system', name: 'cloud-provider-credentials' })],
    // 5. Hands on keyboard: a shell in the payments API, then into etcd.
    [18000, as(STOREFRONT, { verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'payments', name: 'payments-api-5c8d7f9b6-m4wrn', query: 'command=bash&container=api&stdin=true&stdout=true&tty=true' })],
    [22000, as(STOREFRONT, { verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'kube-system', name: 'etcd-ip-10-0-0-10.eu-west-1.compute.internal', query: 'command=sh&command=-c&command=etcdctl%20get%20%2Fregistry%2Fsecrets%20--prefix%20--keys-only&container=etcd&stdout=true&stderr=true' })],
  ];
}

export const SCENARIO_MS = 40_000;

/** The whole scenario stamped from `startMs`, in time order. `ratePerS`: background events/s. */
export function buildScenario(startMs: number, ratePerS = 12): ScenarioEvent[] {
  const out: ScenarioEvent[] = [];
  const step = 1000 / ratePerS;
  let seq = 0;
  for (let i = 0, t = 0; t < SCENARIO_MS; i++, t += step) out.push({ atMs: Math.round(t), event: build(startMs, Math.round(t), ordinary(i), seq++) });
  for (const [at, r] of attack()) out.push({ atMs: at, event: build(startMs, at, r, seq++) });
  out.sort((a, b) => a.atMs - b.atMs);
  return out;
}
