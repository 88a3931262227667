/**
 * Table tests of Vigil's bundled rule pack rules/vigil-k8s-antipatterns.yaml, run through the
 * real engine: for every rule, audit events that must raise it (`fire`) and look-alikes that
 * must not (`nearMiss`). Events are built as the API server writes them (audit.k8s.io/v1,
 * stage ResponseComplete, requestURI matching objectRef, authorization annotations).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Engine } from '../../src/engine/engine.ts';
import { defaultTables } from '../../src/engine/tables.ts';
import { AuditEvent, decodeAuditText, isDecodeError, parseRfc3339Ns } from '../../src/events/k8saudit.ts';
import { formatDiagnostic } from '../../src/rules/diagnostics.ts';
import { projectRoot, sharedPath } from '../helpers.ts';

const PACK = path.join(projectRoot, 'rules', 'vigil-k8s-antipatterns.yaml');

// ---------------------------------------------------------------------------------------------
// Audit event builder

interface Who {
  user?: string;
  groups?: string[];
}

interface Spec extends Who {
  verb: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** Defaults from the resource (core group v1, apps/v1, ...). */
  apiGroup?: string;
  apiVersion?: string;
  requestObject?: unknown;
  responseCode?: number;
  /** Query parameters of the request URI (arrays repeat the key, as kubectl does for command). */
  query?: Record<string, string | string[]>;
  /** Path after the subresource (nodes/proxy, services/proxy): `metrics/cadvisor`. */
  subpath?: string;
  /** Whole request URI, for non-resource requests (/healthz, /version). */
  uri?: string;
  userAgent?: string;
  sourceIP?: string;
  decision?: 'allow' | 'forbid';
  stage?: string;
  impersonatedUser?: { username: string; groups?: string[] };
}

const GROUPS: Record<string, [string, string]> = {
  deployments: ['apps', 'v1'], daemonsets: ['apps', 'v1'], statefulsets: ['apps', 'v1'], replicasets: ['apps', 'v1'],
  jobs: ['batch', 'v1'], cronjobs: ['batch', 'v1'],
  roles: ['rbac.authorization.k8s.io', 'v1'], rolebindings: ['rbac.authorization.k8s.io', 'v1'],
  clusterroles: ['rbac.authorization.k8s.io', 'v1'], clusterrolebindings: ['rbac.authorization.k8s.io', 'v1'],
  certificatesigningrequests: ['certificates.k8s.io', 'v1'],
  mutatingwebhookconfigurations: ['admissionregistration.k8s.io', 'v1'],
  validatingwebhookconfigurations: ['admissionregistration.k8s.io', 'v1'],
  selfsubjectaccessreviews: ['authorization.k8s.io', 'v1'],
};

const CLUSTER_SCOPED = new Set([
  'namespaces', 'nodes', 'clusterroles', 'clusterrolebindings', 'certificatesigningrequests',
  'mutatingwebhookconfigurations', 'validatingwebhookconfigurations', 'selfsubjectaccessreviews',
]);

let seq = 0;

function query(q: Record<string, string | string[]> | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) for (const x of Array.isArray(v) ? v : [v]) parts.push(`${k}=${encodeURIComponent(x)}`);
  return parts.length ? '?' + parts.join('&') : '';
}

function requestURI(s: Spec, group: string, version: string): string {
  if (s.uri) return s.uri;
  let p = group ? `/apis/${group}/${version}` : `/api/${version}`;
  if (s.resource === 'namespaces') {
    p += '/namespaces';
    if (s.name && (s.verb !== 'create' || s.subresource)) p += `/${s.name}`;
  } else {
    if (s.namespace && !CLUSTER_SCOPED.has(s.resource!)) p += `/namespaces/${s.namespace}`;
    p += `/${s.resource}`;
    // Create posts to the collection, unless it targets a subresource (exec, token, ...).
    if (s.name && (s.subresource || !['create', 'list', 'watch'].includes(s.verb))) p += `/${s.name}`;
  }
  if (s.subresource) p += `/${s.subresource}`;
  if (s.subpath) p += `/${s.subpath}`;
  const q = { ...(s.verb === 'watch' ? { watch: 'true' } : {}), ...s.query };
  return p + query(q);
}

/** An audit.k8s.io/v1 Event as the API server logs it. */
function auditEvent(s: Spec): Record<string, unknown> {
  seq++;
  const [group, version] = s.resource ? (GROUPS[s.resource] ?? ['', 'v1']) : ['', 'v1'];
  const apiGroup = s.apiGroup ?? group;
  const apiVersion = s.apiVersion ?? version;
  const code = s.responseCode ?? (s.verb === 'create' && !s.subresource ? 201 : 200);
  const sec = String(seq % 60).padStart(2, '0');
  const ev: Record<string, unknown> = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: s.requestObject !== undefined ? 'RequestResponse' : 'Metadata',
    auditID: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    stage: s.stage ?? 'ResponseComplete',
    requestURI: requestURI(s, apiGroup, apiVersion),
    verb: s.verb,
    user: code === 401 && s.user === undefined ? {} : { username: s.user ?? ALICE.user, groups: s.groups ?? ALICE.groups },
    sourceIPs: [s.sourceIP ?? '10.0.3.14'],
    userAgent: s.userAgent ?? 'kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46',
    responseStatus: { metadata: {}, code },
    requestReceivedTimestamp: `2025-03-04T10:11:${sec}.100000Z`,
    stageTimestamp: `2025-03-04T10:11:${sec}.123456Z`,
  };
  if (s.impersonatedUser) ev.impersonatedUser = s.impersonatedUser;
  if (s.resource) {
    const ref: Record<string, unknown> = { resource: s.resource, apiVersion };
    if (apiGroup) ref.apiGroup = apiGroup;
    if (s.namespace) ref.namespace = s.namespace;
    if (s.name && s.verb !== 'list' && s.verb !== 'watch') ref.name = s.name;
    if (s.subresource) ref.subresource = s.subresource;
    ev.objectRef = ref;
  }
  if (s.requestObject !== undefined) ev.requestObject = s.requestObject;
  if (code !== 401) {
    const decision = s.decision ?? (code === 403 ? 'forbid' : 'allow');
    ev.annotations = {
      'authorization.k8s.io/decision': decision,
      'authorization.k8s.io/reason': decision === 'allow' ? 'RBAC: allowed by ClusterRoleBinding "example" of ClusterRole "example" to User "example"' : '',
    };
  }
  return ev;
}

// ---------------------------------------------------------------------------------------------
// Identities and objects

const ALICE: Required<Who> = { user: 'alice@example.com', groups: ['developers', 'system:authenticated'] };
const BOB: Required<Who> = { user: 'bob', groups: ['sre', 'system:authenticated'] };
const ADMIN: Required<Who> = { user: 'kubernetes-admin', groups: ['kubeadm:cluster-admins', 'system:authenticated'] };
const APISERVER: Required<Who> = { user: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] };
const KCM: Required<Who> = { user: 'system:kube-controller-manager', groups: ['system:authenticated'] };
const KUBELET: Required<Who> = { user: 'system:node:worker-1', groups: ['system:nodes', 'system:authenticated'] };
const ANON: Required<Who> = { user: 'system:anonymous', groups: ['system:unauthenticated'] };
const BOOTSTRAP: Required<Who> = { user: 'system:bootstrap:abcdef', groups: ['system:bootstrappers', 'system:bootstrappers:kubeadm:default-node-token', 'system:authenticated'] };
const saGroups = (ns: string) => ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'];
const sa = (ns: string, name: string): Required<Who> => ({ user: `system:serviceaccount:${ns}:${name}`, groups: saGroups(ns) });
const RS_CONTROLLER = sa('kube-system', 'replicaset-controller');
const CSR_APPROVER = sa('kube-system', 'certificate-controller');
const AGGREGATOR = sa('kube-system', 'clusterrole-aggregation-controller');
const APP_SA = sa('shop', 'web');
const CERT_MANAGER = sa('cert-manager', 'cert-manager');

const CTL = 'kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46';
const CLIENT_GO = 'cert-manager-controller/v1.15.3 (linux/amd64) cert-manager/2f2fb2c';

function binding(kind: 'ClusterRoleBinding' | 'RoleBinding', name: string, role: string, subjects: Array<{ kind: string; name: string; namespace?: string }>, ns?: string) {
  return {
    kind, apiVersion: 'rbac.authorization.k8s.io/v1',
    metadata: { name, ...(ns ? { namespace: ns } : {}) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: role.startsWith('ns:') ? 'Role' : 'ClusterRole', name: role.replace(/^ns:/, '') },
    subjects: subjects.map((s) => ({ ...(s.kind === 'ServiceAccount' ? {} : { apiGroup: 'rbac.authorization.k8s.io' }), ...s })),
  };
}

const crb = (name: string, role: string, subjects: Array<{ kind: string; name: string; namespace?: string }>, who: Who = ADMIN, verb = 'create'): Spec => ({
  verb, resource: 'clusterrolebindings', name, requestObject: binding('ClusterRoleBinding', name, role, subjects), ...who,
});
const rb = (ns: string, name: string, role: string, subjects: Array<{ kind: string; name: string; namespace?: string }>, who: Who = ADMIN, verb = 'create'): Spec => ({
  verb, resource: 'rolebindings', namespace: ns, name, requestObject: binding('RoleBinding', name, role, subjects, ns), ...who,
});

type Rule = { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[] };
const clusterRole = (name: string, rules: Rule[], who: Who = ADMIN, verb = 'create'): Spec => ({
  verb, resource: 'clusterroles', name, ...who,
  requestObject: { kind: 'ClusterRole', apiVersion: 'rbac.authorization.k8s.io/v1', metadata: { name }, rules: rules.map((r) => ({ apiGroups: [''], ...r })) },
});
const role = (ns: string, name: string, rules: Rule[], who: Who = ADMIN, verb = 'create'): Spec => ({
  verb, resource: 'roles', namespace: ns, name, ...who,
  requestObject: { kind: 'Role', apiVersion: 'rbac.authorization.k8s.io/v1', metadata: { name, namespace: ns }, rules: rules.map((r) => ({ apiGroups: [''], ...r })) },
});

type PodSpec = Record<string, unknown>;
const container = (extra: Record<string, unknown> = {}) => ({ name: 'app', image: 'registry.example.com/shop/web:1.4.2', ports: [{ containerPort: 8080 }], ...extra });
const podSpec = (extra: PodSpec = {}, c: Record<string, unknown> = {}): PodSpec => ({
  containers: [container(c)], restartPolicy: 'Always', serviceAccountName: 'web', ...extra,
});
const template = (spec: PodSpec) => ({ metadata: { labels: { app: 'web' } }, spec });

/** A write of a pod or of a workload whose pod template is `spec`. */
function workload(resource: string, spec: PodSpec, who: Who = ALICE, ns = 'shop', name = 'web', verb = 'create'): Spec {
  let obj: Record<string, unknown>;
  const meta = { name, namespace: ns };
  switch (resource) {
    case 'pods': obj = { kind: 'Pod', apiVersion: 'v1', metadata: meta, spec }; break;
    case 'cronjobs':
      obj = { kind: 'CronJob', apiVersion: 'batch/v1', metadata: meta, spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: template({ ...spec, restartPolicy: 'OnFailure' }) } } } };
      break;
    case 'jobs': obj = { kind: 'Job', apiVersion: 'batch/v1', metadata: meta, spec: { template: template({ ...spec, restartPolicy: 'Never' }) } }; break;
    default: {
      const kinds: Record<string, string> = { deployments: 'Deployment', daemonsets: 'DaemonSet', statefulsets: 'StatefulSet', replicasets: 'ReplicaSet' };
      obj = { kind: kinds[resource], apiVersion: 'apps/v1', metadata: meta, spec: { selector: { matchLabels: { app: 'web' } }, template: template(spec) } };
    }
  }
  return { verb, resource, namespace: ns, name, requestObject: obj, ...who };
}

const exec = (ns: string, pod: string, command: string[], opts: { tty?: boolean; stdin?: boolean; verb?: string } & Who = {}): Spec => ({
  verb: opts.verb ?? 'create', resource: 'pods', subresource: 'exec', namespace: ns, name: pod, responseCode: 101,
  query: {
    command, container: 'app', stderr: 'true', stdout: 'true',
    ...(opts.stdin ? { stdin: 'true' } : {}), ...(opts.tty ? { tty: 'true' } : {}),
  },
  user: opts.user ?? ALICE.user, groups: opts.groups ?? ALICE.groups,
});

const secretRead = (verb: string, ns: string | undefined, who: Who, extra: Partial<Spec> = {}): Spec => ({
  verb, resource: 'secrets', ...(ns ? { namespace: ns } : {}), ...(verb === 'get' ? { name: 'db-credentials' } : {}), ...who, ...extra,
});

// ---------------------------------------------------------------------------------------------
// The table

interface Case {
  rule: string;
  fire: Spec[];
  nearMiss: Spec[];
}

const WORKLOAD_KINDS = ['pods', 'deployments', 'daemonsets', 'statefulsets', 'replicasets', 'jobs', 'cronjobs'];

const CASES: Case[] = [
  // --- anonymous -------------------------------------------------------------------------
  {
    rule: 'K8s Unauthenticated Request Allowed',
    fire: [
      { verb: 'create', resource: 'namespaces', name: 'foo', ...ANON, userAgent: 'curl/8.5.0', requestObject: { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'foo' } } },
      { verb: 'list', resource: 'secrets', namespace: 'default', ...ANON, userAgent: 'curl/8.5.0' },
      { verb: 'get', uri: '/api/v1/namespaces/default/pods', user: 'system:anonymous', groups: ['system:unauthenticated'] },
    ],
    nearMiss: [
      { verb: 'get', uri: '/healthz', ...ANON, userAgent: 'kube-probe/1.31' },
      { verb: 'get', uri: '/readyz?verbose', ...ANON, userAgent: 'ELB-HealthChecker/2.0' },
      { verb: 'get', uri: '/version', ...ANON },
      { verb: 'list', resource: 'secrets', namespace: 'default', ...ANON, responseCode: 403 },
      { verb: 'create', resource: 'namespaces', name: 'foo', ...ALICE },
      { verb: 'list', resource: 'secrets', namespace: 'default', ...ANON, stage: 'RequestReceived' },
    ],
  },
  {
    rule: 'K8s Unauthenticated Request Denied',
    fire: [
      { verb: 'list', resource: 'secrets', namespace: 'kube-system', ...ANON, responseCode: 403, userAgent: 'python-requests/2.31.0' },
      { verb: 'get', uri: '/api/v1/nodes', ...ANON, responseCode: 403, decision: 'forbid' },
    ],
    nearMiss: [
      { verb: 'get', uri: '/healthz', ...ANON, responseCode: 403 },
      { verb: 'list', resource: 'secrets', namespace: 'kube-system', ...ANON },
      { verb: 'list', resource: 'secrets', namespace: 'kube-system', ...ALICE, responseCode: 403 },
    ],
  },

  // --- RBAC ------------------------------------------------------------------------------
  {
    rule: 'K8s Role Bound To Anonymous Or Every Account',
    fire: [
      crb('everyone-view', 'view', [{ kind: 'Group', name: 'system:authenticated' }]),
      rb('shop', 'open-door', 'edit', [{ kind: 'Group', name: 'system:unauthenticated' }]),
      crb('anon-admin', 'cluster-admin', [{ kind: 'User', name: 'system:anonymous' }]),
      crb('all-pods-read-secrets', 'secret-reader', [{ kind: 'Group', name: 'system:serviceaccounts' }], ALICE, 'update'),
    ],
    nearMiss: [
      crb('system:public-info-viewer', 'system:public-info-viewer', [{ kind: 'Group', name: 'system:authenticated' }, { kind: 'Group', name: 'system:unauthenticated' }]),
      crb('system:discovery', 'system:discovery', [{ kind: 'Group', name: 'system:authenticated' }], APISERVER),
      crb('everyone-view', 'view', [{ kind: 'Group', name: 'system:authenticated' }], APISERVER),
      crb('devs-view', 'view', [{ kind: 'Group', name: 'developers' }]),
      rb('shop', 'shop-sa', 'edit', [{ kind: 'Group', name: 'system:serviceaccounts:shop' }]),
    ],
  },
  {
    rule: 'K8s Cluster-Wide Binding To cluster-admin',
    fire: [
      crb('ops-admin', 'cluster-admin', [{ kind: 'User', name: 'mallory' }]),
      crb('ci-admin', 'cluster-admin', [{ kind: 'ServiceAccount', name: 'runner', namespace: 'ci' }], APP_SA),
      // Adding a subject to the built-in binding (patch bodies have no roleRef: roleRef is immutable).
      { verb: 'patch', resource: 'clusterrolebindings', name: 'cluster-admin', ...ALICE,
        requestObject: { subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:masters' }, { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'mallory' }] } },
    ],
    nearMiss: [
      crb('cluster-admin', 'cluster-admin', [{ kind: 'Group', name: 'system:masters' }], APISERVER),
      crb('ops-view', 'view', [{ kind: 'User', name: 'mallory' }]),
      rb('shop', 'shop-admin', 'cluster-admin', [{ kind: 'User', name: 'mallory' }]),
      { ...crb('ops-admin', 'cluster-admin', [{ kind: 'User', name: 'mallory' }]), query: { dryRun: 'All' } },
      { verb: 'delete', resource: 'clusterrolebindings', name: 'cluster-admin', ...ALICE },
    ],
  },
  {
    rule: 'K8s Binding Grants Powerful Role',
    fire: [
      rb('shop', 'shop-admins', 'admin', [{ kind: 'Group', name: 'shop-team' }]),
      rb('shop', 'shop-cluster-admin', 'cluster-admin', [{ kind: 'User', name: 'carol' }]),
      crb('edit-everywhere', 'edit', [{ kind: 'User', name: 'carol' }]),
      crb('steal-controller', 'system:controller:token-cleaner', [{ kind: 'ServiceAccount', name: 'web', namespace: 'shop' }]),
      crb('be-a-node', 'system:node', [{ kind: 'User', name: 'carol' }]),
    ],
    nearMiss: [
      rb('shop', 'shop-viewers', 'view', [{ kind: 'Group', name: 'shop-team' }]),
      crb('ops-admin', 'cluster-admin', [{ kind: 'User', name: 'mallory' }]),
      crb('system:controller:token-cleaner', 'system:controller:token-cleaner', [{ kind: 'ServiceAccount', name: 'token-cleaner', namespace: 'kube-system' }], APISERVER),
      rb('shop', 'shop-admins', 'admin', [{ kind: 'Group', name: 'shop-team' }], sa('kube-system', 'namespace-provisioner')),
    ],
  },
  {
    rule: 'K8s Identity Grants Role To Itself',
    fire: [
      rb('shop', 'me-admin', 'admin', [{ kind: 'User', name: 'dave' }, { kind: 'User', name: 'bob' }], BOB),
      crb('me-too', 'view', [{ kind: 'User', name: 'bob' }], BOB),
      rb('shop', 'sa-self', 'ns:deployer', [{ kind: 'ServiceAccount', name: 'web', namespace: 'shop' }], APP_SA),
      rb('shop', 'group-self', 'edit', [{ kind: 'Group', name: 'sre' }], BOB),
    ],
    nearMiss: [
      rb('shop', 'others', 'admin', [{ kind: 'User', name: 'bobby' }, { kind: 'User', name: 'bo' }], BOB),
      rb('shop', 'sa-other', 'ns:deployer', [{ kind: 'ServiceAccount', name: 'web-2', namespace: 'shop' }], APP_SA),
      rb('shop', 'sa-other-ns', 'ns:deployer', [{ kind: 'ServiceAccount', name: 'web', namespace: 'shop-2' }], APP_SA),
      rb('shop', 'group-other', 'edit', [{ kind: 'Group', name: 'developers' }], BOB),
      // Binding to every authenticated user is the Critical rule's business.
      crb('open', 'view', [{ kind: 'Group', name: 'system:authenticated' }], BOB),
    ],
  },
  {
    rule: 'K8s Built-In RBAC Object Changed',
    fire: [
      { verb: 'patch', resource: 'clusterroles', name: 'system:node-problem-detector', ...ALICE,
        requestObject: { rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }] } },
      { verb: 'delete', resource: 'clusterroles', name: 'system:kube-aggregator', ...ALICE },
      clusterRole('view', [{ resources: ['secrets'], verbs: ['get', 'list', 'watch'] }], BOB, 'update'),
      { verb: 'delete', resource: 'clusterrolebindings', name: 'cluster-admin', ...ALICE },
    ],
    nearMiss: [
      clusterRole('system:node-problem-detector', [{ resources: ['nodes'], verbs: ['get'] }], APISERVER, 'update'),
      clusterRole('admin', [{ resources: ['pods'], verbs: ['get'] }], AGGREGATOR, 'update'),
      clusterRole('shop-reader', [{ resources: ['pods'], verbs: ['get'] }], BOB, 'update'),
      { verb: 'get', resource: 'clusterroles', name: 'system:kube-aggregator', ...ALICE },
      // Subjects added to the cluster-admin binding are the Critical rule's business.
      { verb: 'patch', resource: 'clusterrolebindings', name: 'cluster-admin', ...ALICE,
        requestObject: { subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'mallory' }] } },
    ],
  },
  {
    rule: 'K8s Role Grants RBAC Escalation Verbs',
    fire: [
      clusterRole('rbac-editor', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['get', 'escalate'] }]),
      role('shop', 'binder', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings', 'roles'], verbs: ['create', 'bind'] }]),
      clusterRole('sudo', [{ resources: ['users', 'groups', 'serviceaccounts'], verbs: ['impersonate'] }], BOB, 'update'),
      // JSON patch: the body is a list of operations.
      { verb: 'patch', resource: 'clusterroles', name: 'view', ...BOB,
        requestObject: [{ op: 'add', path: '/rules/-', value: { apiGroups: [''], resources: ['users'], verbs: ['impersonate'] } }] },
    ],
    nearMiss: [
      clusterRole('binding-reader', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings', 'bindings'], verbs: ['get', 'list'] }]),
      clusterRole('admin', [{ resources: ['serviceaccounts'], verbs: ['impersonate'] }], AGGREGATOR, 'update'),
      clusterRole('cluster-admin', [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }], APISERVER, 'update'),
      { verb: 'patch', resource: 'clusterroles', name: 'view', ...BOB,
        requestObject: [{ op: 'add', path: '/rules/-', value: { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] } }] },
    ],
  },
  {
    rule: 'K8s Role Grants Token Or Node Access',
    fire: [
      clusterRole('token-minter', [{ resources: ['serviceaccounts/token'], verbs: ['create'] }]),
      clusterRole('node-proxy', [{ resources: ['nodes/proxy'], verbs: ['get'] }]),
      role('shop', 'approver', [{ apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests/approval'], verbs: ['update'] }]),
    ],
    nearMiss: [
      clusterRole('node-reader', [{ resources: ['nodes', 'nodes/status'], verbs: ['get', 'list'] }]),
      clusterRole('system:node-proxier', [{ resources: ['nodes/proxy'], verbs: ['get'] }], APISERVER, 'update'),
      clusterRole('sa-admin', [{ resources: ['serviceaccounts/token', 'users'], verbs: ['create', 'impersonate'] }]),
    ],
  },
  {
    rule: 'K8s Role Grants Wildcard Permissions',
    fire: [
      clusterRole('do-anything-with-pods', [{ resources: ['pods'], verbs: ['*'] }]),
      role('shop', 'read-all', [{ resources: ['*'], verbs: ['get', 'list', 'watch'] }]),
    ],
    nearMiss: [
      clusterRole('pod-reader', [{ resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] }]),
      clusterRole('any-group-pods', [{ apiGroups: ['*'], resources: ['pods'], verbs: ['get'] }]),
      clusterRole('cluster-admin', [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }], APISERVER, 'update'),
      { verb: 'get', resource: 'clusterroles', name: 'cluster-admin', ...ALICE },
    ],
  },

  // --- pods and pod templates ------------------------------------------------------------
  {
    rule: 'K8s Workload Runs Privileged Container',
    fire: [
      ...WORKLOAD_KINDS.map((k) => workload(k, podSpec({}, { securityContext: { privileged: true } }))),
      workload('pods', { containers: [container(), container({ name: 'sidecar', securityContext: { privileged: true } })] }),
      workload('pods', { initContainers: [container({ name: 'init', securityContext: { privileged: true } })], containers: [container()] }),
      workload('deployments', podSpec({}, { securityContext: { privileged: true } }), ALICE, 'shop', 'web', 'update'),
      workload('daemonsets', podSpec({}, { securityContext: { privileged: true } }), sa('argocd', 'argocd-application-controller'), 'shop', 'web', 'patch'),
      // A human creating a privileged pod in kube-system is reported too.
      workload('pods', podSpec({}, { securityContext: { privileged: true } }), ADMIN, 'kube-system'),
    ],
    nearMiss: [
      ...WORKLOAD_KINDS.map((k) => workload(k, podSpec({}, { securityContext: { privileged: false, allowPrivilegeEscalation: false } }))),
      // Pods made by kube-system controllers from an already checked template, and mirror pods.
      workload('pods', podSpec({}, { securityContext: { privileged: true } }), RS_CONTROLLER),
      workload('pods', podSpec({ hostNetwork: true }, { securityContext: { privileged: true } }), KUBELET, 'kube-system', 'kube-proxy-worker-1'),
      // "privileged":true inside a string value (escaped quotes) is not a securityContext.
      workload('deployments', podSpec({}, { env: [{ name: 'NOTE', value: '{"privileged":true}' }] })),
      { verb: 'patch', resource: 'deployments', subresource: 'scale', namespace: 'shop', name: 'web', ...ALICE, requestObject: { spec: { replicas: 3 } } },
      { ...workload('pods', podSpec({}, { securityContext: { privileged: true } })), query: { dryRun: 'All' } },
    ],
  },
  {
    rule: 'K8s Workload Shares Host PID Or IPC',
    fire: [
      ...WORKLOAD_KINDS.map((k) => workload(k, podSpec({ hostPID: true }))),
      workload('pods', podSpec({ hostIPC: true })),
      workload('cronjobs', podSpec({ hostIPC: true })),
    ],
    nearMiss: [
      ...WORKLOAD_KINDS.map((k) => workload(k, podSpec({ hostPID: false, hostIPC: false }))),
      workload('pods', podSpec({ hostPID: true }), sa('kube-system', 'daemon-set-controller')),
      { verb: 'get', resource: 'pods', namespace: 'shop', name: 'web', ...ALICE },
    ],
  },
  {
    rule: 'K8s Workload Mounts Sensitive Host Path',
    fire: [
      ...WORKLOAD_KINDS.map((k) => workload(k, podSpec({ volumes: [{ name: 'root', hostPath: { path: '/' } }] }))),
      workload('pods', podSpec({ volumes: [{ name: 'cfg', configMap: { name: 'web' } }, { name: 'sock', hostPath: { path: '/var/run/docker.sock', type: 'Socket' } }] })),
      workload('daemonsets', podSpec({ volumes: [{ name: 'kube', hostPath: { type: 'Directory', path: '/etc/kubernetes' } }] })),
      workload('deployments', podSpec({ volumes: [{ name: 'ctr', hostPath: { path: '/run/containerd/containerd.sock' } }] })),
      workload('cronjobs', podSpec({ volumes: [{ name: 'kubelet', hostPath: { path: '/var/lib/kubelet/pods' } }] })),
    ],
    nearMiss: [
      workload('pods', podSpec({ volumes: [{ name: 'data', hostPath: { path: '/data/web' } }] })),
      workload('daemonsets', podSpec({ volumes: [{ name: 'logs', hostPath: { path: '/var/log' } }] })),
      workload('deployments', podSpec({ volumes: [{ name: 'backup', hostPath: { path: '/etcd-backup' } }] })),
      workload('deployments', podSpec({ volumes: [{ name: 'nfs', nfs: { server: 'nfs.example.com', path: '/' } }] })),
      workload('pods', podSpec({ volumes: [{ name: 'root', hostPath: { path: '/' } }] }), KUBELET, 'kube-system', 'etcd-cp-1'),
    ],
  },
  {
    rule: 'K8s Workload Adds Dangerous Capabilities',
    fire: [
      ...WORKLOAD_KINDS.map((k) => workload(k, podSpec({}, { securityContext: { capabilities: { add: ['SYS_ADMIN'] } } }))),
      workload('pods', podSpec({}, { securityContext: { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE', 'NET_ADMIN'] } } })),
      workload('deployments', podSpec({}, { securityContext: { capabilities: { add: ['CAP_SYS_PTRACE'] } } })),
      workload('daemonsets', podSpec({}, { securityContext: { capabilities: { add: ['ALL'] } } })),
    ],
    nearMiss: [
      workload('pods', podSpec({}, { securityContext: { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } } })),
      workload('deployments', podSpec({}, { securityContext: { capabilities: { drop: ['ALL', 'SYS_ADMIN'] } } })),
      workload('pods', podSpec({}, { securityContext: { capabilities: { add: ['SYS_ADMIN'] } } }), RS_CONTROLLER),
    ],
  },
  {
    rule: 'K8s Workload Uses Host Network',
    fire: [
      ...WORKLOAD_KINDS.map((k) => workload(k, podSpec({ hostNetwork: true }))),
    ],
    nearMiss: [
      ...WORKLOAD_KINDS.map((k) => workload(k, podSpec({ hostNetwork: false }))),
      workload('pods', podSpec({ hostNetwork: true }), KUBELET, 'kube-system', 'kube-apiserver-cp-1'),
      workload('pods', podSpec({ hostNetwork: true }), sa('kube-system', 'daemon-set-controller'), 'kube-system', 'kube-proxy-x7k2p'),
    ],
  },
  {
    rule: 'K8s Workload Mounts Host Path',
    fire: [
      ...WORKLOAD_KINDS.map((k) => workload(k, podSpec({ volumes: [{ name: 'data', hostPath: { path: '/data/web', type: 'DirectoryOrCreate' } }] }))),
      workload('daemonsets', podSpec({ volumes: [{ name: 'logs', hostPath: { path: '/var/log' } }] })),
    ],
    nearMiss: [
      workload('pods', podSpec({ volumes: [{ name: 'tmp', emptyDir: {} }, { name: 'cfg', configMap: { name: 'web' } }] })),
      // Sensitive paths are reported by the sensitive-path rule instead.
      workload('pods', podSpec({ volumes: [{ name: 'root', hostPath: { path: '/' } }] })),
      workload('pods', podSpec({ volumes: [{ name: 'data', hostPath: { path: '/data/web' } }] }), RS_CONTROLLER),
    ],
  },

  // --- credentials ----------------------------------------------------------------------
  {
    rule: 'K8s Service Account Token Minted By Third Party',
    fire: [
      { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: 'shop', name: 'web', ...ALICE,
        requestObject: { kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec: { audiences: null, expirationSeconds: 3600 } } },
      { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: 'kube-system', name: 'clusterrole-aggregation-controller', ...APP_SA },
    ],
    nearMiss: [
      { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: 'shop', name: 'web', ...KUBELET, userAgent: 'kubelet/v1.31.2 (linux/amd64) kubernetes/5864a46' },
      { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: 'kube-system', name: 'job-controller', ...KCM },
      { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: 'shop', name: 'web', ...APP_SA },
      { verb: 'create', resource: 'serviceaccounts', namespace: 'shop', name: 'web', ...ALICE },
    ],
  },
  {
    rule: 'K8s Long-Lived Service Account Token Created',
    fire: [
      { verb: 'create', resource: 'secrets', namespace: 'shop', name: 'web-token', ...ALICE,
        requestObject: { kind: 'Secret', apiVersion: 'v1', metadata: { name: 'web-token', namespace: 'shop', annotations: { 'kubernetes.io/service-account.name': 'web' } }, type: 'kubernetes.io/service-account-token' } },
    ],
    nearMiss: [
      { verb: 'create', resource: 'secrets', namespace: 'shop', name: 'web-token-x7k2p', ...KCM, userAgent: 'kube-controller-manager/v1.23.17 (linux/amd64) kubernetes/953be89/tokens-controller',
        requestObject: { kind: 'Secret', apiVersion: 'v1', metadata: { name: 'web-token-x7k2p', namespace: 'shop', annotations: { 'kubernetes.io/service-account.name': 'web' } }, type: 'kubernetes.io/service-account-token' } },
      { verb: 'create', resource: 'secrets', namespace: 'shop', name: 'db', ...ALICE,
        requestObject: { kind: 'Secret', apiVersion: 'v1', metadata: { name: 'db', namespace: 'shop' }, type: 'Opaque', data: { password: 'aHVudGVyMg==' } } },
    ],
  },
  {
    rule: 'K8s Client Certificate Requested By Non-Node',
    fire: [
      { verb: 'create', resource: 'certificatesigningrequests', name: 'mallory-admin', ...ALICE,
        requestObject: { kind: 'CertificateSigningRequest', apiVersion: 'certificates.k8s.io/v1', metadata: { name: 'mallory-admin' }, spec: { request: 'LS0tLS1CRUdJTi...', signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'], expirationSeconds: 86400 } } },
      { verb: 'create', resource: 'certificatesigningrequests', name: 'fake-node', ...APP_SA,
        requestObject: { kind: 'CertificateSigningRequest', apiVersion: 'certificates.k8s.io/v1', metadata: { name: 'fake-node' }, spec: { request: 'LS0tLS1CRUdJTi...', signerName: 'kubernetes.io/kube-apiserver-client-kubelet', usages: ['digital signature', 'client auth'] } } },
    ],
    nearMiss: [
      { verb: 'create', resource: 'certificatesigningrequests', name: 'csr-8bq7w', ...KUBELET,
        requestObject: { kind: 'CertificateSigningRequest', apiVersion: 'certificates.k8s.io/v1', metadata: { generateName: 'csr-' }, spec: { request: 'LS0t', signerName: 'kubernetes.io/kube-apiserver-client-kubelet', usages: ['client auth'] } } },
      { verb: 'create', resource: 'certificatesigningrequests', name: 'node-csr-abc', ...BOOTSTRAP,
        requestObject: { kind: 'CertificateSigningRequest', apiVersion: 'certificates.k8s.io/v1', metadata: { name: 'node-csr-abc' }, spec: { request: 'LS0t', signerName: 'kubernetes.io/kube-apiserver-client-kubelet', usages: ['client auth'] } } },
      { verb: 'create', resource: 'certificatesigningrequests', name: 'web-serving', ...CERT_MANAGER, userAgent: CLIENT_GO,
        requestObject: { kind: 'CertificateSigningRequest', apiVersion: 'certificates.k8s.io/v1', metadata: { name: 'web-serving' }, spec: { request: 'LS0t', signerName: 'example.com/internal-ca', usages: ['server auth'] } } },
    ],
  },
  {
    rule: 'K8s Certificate Request Approved Outside Controller',
    fire: [
      { verb: 'update', resource: 'certificatesigningrequests', subresource: 'approval', name: 'mallory-admin', ...ADMIN,
        requestObject: { kind: 'CertificateSigningRequest', apiVersion: 'certificates.k8s.io/v1', metadata: { name: 'mallory-admin' }, spec: { signerName: 'kubernetes.io/kube-apiserver-client' },
          status: { conditions: [{ type: 'Approved', status: 'True', reason: 'KubectlApprove', message: 'This CSR was approved by kubectl certificate approve.', lastUpdateTime: '2025-03-04T10:11:12Z' }] } } },
    ],
    nearMiss: [
      { verb: 'update', resource: 'certificatesigningrequests', subresource: 'approval', name: 'csr-8bq7w', ...CSR_APPROVER,
        requestObject: { kind: 'CertificateSigningRequest', apiVersion: 'certificates.k8s.io/v1', metadata: { name: 'csr-8bq7w' }, status: { conditions: [{ type: 'Approved', status: 'True', reason: 'AutoApproved' }] } } },
      { verb: 'update', resource: 'certificatesigningrequests', subresource: 'approval', name: 'mallory-admin', ...ADMIN,
        requestObject: { kind: 'CertificateSigningRequest', apiVersion: 'certificates.k8s.io/v1', metadata: { name: 'mallory-admin' }, status: { conditions: [{ type: 'Denied', status: 'True', reason: 'KubectlDeny' }] } } },
      { verb: 'update', resource: 'certificatesigningrequests', subresource: 'status', name: 'mallory-admin', ...KCM,
        requestObject: { kind: 'CertificateSigningRequest', apiVersion: 'certificates.k8s.io/v1', metadata: { name: 'mallory-admin' }, status: { conditions: [{ type: 'Approved', status: 'True' }], certificate: 'LS0t' } } },
    ],
  },
  {
    rule: 'K8s Admission Webhook Sends Requests Outside Cluster',
    fire: [
      { verb: 'create', resource: 'mutatingwebhookconfigurations', name: 'injector', ...ALICE,
        requestObject: { kind: 'MutatingWebhookConfiguration', apiVersion: 'admissionregistration.k8s.io/v1', metadata: { name: 'injector' },
          webhooks: [{ name: 'inject.example.com', clientConfig: { url: 'https://203.0.113.9/mutate' }, rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }], sideEffects: 'None', admissionReviewVersions: ['v1'] }] } },
      { verb: 'patch', resource: 'validatingwebhookconfigurations', name: 'policy', ...ALICE,
        requestObject: [{ op: 'replace', path: '/webhooks/0/clientConfig/url', value: 'https://collector.example.net/validate' }] },
    ],
    nearMiss: [
      { verb: 'create', resource: 'validatingwebhookconfigurations', name: 'policy', ...ALICE,
        requestObject: { kind: 'ValidatingWebhookConfiguration', apiVersion: 'admissionregistration.k8s.io/v1', metadata: { name: 'policy' },
          webhooks: [{ name: 'validate.example.com', clientConfig: { service: { name: 'policy', namespace: 'policy', path: '/validate', port: 443 }, caBundle: 'LS0t' }, rules: [], sideEffects: 'None', admissionReviewVersions: ['v1'] }] } },
      { verb: 'patch', resource: 'validatingwebhookconfigurations', name: 'policy', user: 'system:serviceaccount:cert-manager:cert-manager-cainjector', groups: saGroups('cert-manager'),
        requestObject: { webhooks: [{ name: 'validate.example.com', clientConfig: { caBundle: 'LS0tLS1CRUdJTi...' } }] } },
    ],
  },
  {
    rule: 'K8s Namespace Pod Security Enforcement Relaxed',
    fire: [
      { verb: 'patch', resource: 'namespaces', name: 'shop', ...ALICE,
        requestObject: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } } } },
      { verb: 'patch', resource: 'namespaces', name: 'shop', ...ALICE,
        requestObject: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': null } } } },
      { verb: 'create', resource: 'namespaces', name: 'tools', ...ALICE,
        requestObject: { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'tools', labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } } } },
      { verb: 'update', resource: 'namespaces', name: 'shop', ...ALICE,
        requestObject: { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop', 'pod-security.kubernetes.io/enforce': 'privileged' } } } },
      { verb: 'patch', resource: 'namespaces', name: 'shop', ...ALICE,
        requestObject: [{ op: 'remove', path: '/metadata/labels/pod-security.kubernetes.io~1enforce' }] },
    ],
    nearMiss: [
      { verb: 'patch', resource: 'namespaces', name: 'shop', ...ALICE,
        requestObject: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } } },
      { verb: 'patch', resource: 'namespaces', name: 'shop', ...ALICE,
        requestObject: { metadata: { labels: { 'pod-security.kubernetes.io/warn': 'privileged', 'pod-security.kubernetes.io/enforce-version': 'latest' } } } },
      { verb: 'patch', resource: 'namespaces', name: 'shop', ...ALICE,
        requestObject: [{ op: 'replace', path: '/metadata/labels/pod-security.kubernetes.io~1enforce', value: 'restricted' }] },
      { verb: 'update', resource: 'namespaces', subresource: 'finalize', name: 'shop', ...sa('kube-system', 'namespace-controller'),
        requestObject: { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'shop', labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } } } },
    ],
  },

  // --- secrets --------------------------------------------------------------------------
  {
    rule: 'K8s Secret Read Forbidden',
    fire: [
      secretRead('get', 'kube-system', APP_SA, { responseCode: 403 }),
      secretRead('list', undefined, ALICE, { responseCode: 403 }),
      secretRead('watch', 'shop', APP_SA, { responseCode: 403, userAgent: 'curl/8.5.0' }),
    ],
    nearMiss: [
      secretRead('get', 'shop', APP_SA),
      secretRead('get', 'shop', KUBELET, { responseCode: 403 }),
      { verb: 'get', resource: 'configmaps', namespace: 'shop', name: 'web', ...APP_SA, responseCode: 403 },
    ],
  },
  {
    rule: 'K8s Secrets Listed Across All Namespaces',
    fire: [
      secretRead('list', undefined, ALICE),
      secretRead('watch', undefined, CERT_MANAGER, { userAgent: CLIENT_GO }),
      secretRead('list', undefined, APP_SA, { userAgent: 'curl/8.5.0' }),
    ],
    nearMiss: [
      secretRead('list', 'shop', ALICE),
      secretRead('list', undefined, KCM),
      secretRead('list', undefined, sa('kube-system', 'namespace-controller')),
      secretRead('list', undefined, ALICE, { responseCode: 403 }),
      secretRead('list', undefined, ALICE, { query: { labelSelector: 'owner=helm' }, userAgent: 'Helm/3.16.2' }),
    ],
  },
  {
    rule: 'K8s kube-system Secret Read By Non-System Identity',
    fire: [
      secretRead('get', 'kube-system', ALICE),
      secretRead('list', 'kube-system', APP_SA),
    ],
    nearMiss: [
      secretRead('get', 'kube-system', sa('kube-system', 'coredns')),
      secretRead('get', 'kube-system', KUBELET),
      secretRead('get', 'kube-system', ALICE, { responseCode: 403 }),
      secretRead('get', 'shop', ALICE),
    ],
  },
  {
    rule: 'K8s Person Lists Secrets',
    fire: [
      secretRead('list', 'shop', ALICE),
      secretRead('watch', 'payments', BOB),
    ],
    nearMiss: [
      secretRead('get', 'shop', ALICE),
      secretRead('list', 'shop', APP_SA),
      secretRead('list', 'shop', KCM),
      secretRead('list', 'shop', ALICE, { query: { labelSelector: 'owner=helm,name=web' }, userAgent: 'Helm/3.16.2' }),
      // Cluster-wide and kube-system listings are reported, at higher priority, by other rules.
      secretRead('list', undefined, ALICE),
      secretRead('list', 'kube-system', ALICE),
    ],
  },

  // --- interactive access ---------------------------------------------------------------
  {
    rule: 'K8s Session Into Control-Plane Pod',
    fire: [
      exec('kube-system', 'etcd-cp-1', ['sh'], { tty: true, stdin: true }),
      exec('kube-system', 'coredns-7db6d8ff4d-8hx2q', ['cat', '/etc/resolv.conf'], { verb: 'get' }),
      exec('openshift-etcd', 'etcd-master-0', ['etcdctl', 'get', '/', '--prefix']),
      { verb: 'create', resource: 'pods', subresource: 'attach', namespace: 'kube-system', name: 'kube-apiserver-cp-1', responseCode: 101, query: { container: 'kube-apiserver', stdin: 'true', stdout: 'true' } },
      { verb: 'create', resource: 'pods', subresource: 'portforward', namespace: 'kube-system', name: 'etcd-cp-1', responseCode: 101, query: { ports: '2379' } },
      { verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', namespace: 'kube-system', name: 'kube-controller-manager-cp-1', ...ADMIN,
        requestObject: { spec: { ephemeralContainers: [{ name: 'debugger-x7k2p', image: 'busybox:1.36', stdin: true, tty: true, targetContainerName: 'kube-controller-manager' }] } } },
    ],
    nearMiss: [
      exec('shop', 'web-5d8f7c9b6-abcde', ['sh'], { tty: true, stdin: true }),
      { verb: 'get', resource: 'pods', namespace: 'kube-system', name: 'etcd-cp-1', ...ALICE },
      { verb: 'get', resource: 'pods', subresource: 'log', namespace: 'kube-system', name: 'etcd-cp-1', ...ALICE },
      { verb: 'get', resource: 'pods', subresource: 'ephemeralcontainers', namespace: 'kube-system', name: 'etcd-cp-1', ...ALICE },
    ],
  },
  {
    rule: 'K8s Files Copied Through Exec',
    fire: [
      exec('shop', 'web-5d8f7c9b6-abcde', ['tar', 'cf', '-', '/var/lib/app/data']),
      exec('shop', 'web-5d8f7c9b6-abcde', ['tar', '-xmf', '-', '-C', '/tmp'], { stdin: true, verb: 'get' }),
    ],
    nearMiss: [
      exec('shop', 'web-5d8f7c9b6-abcde', ['test', '-d', '/tmp']),
      exec('shop', 'web-5d8f7c9b6-abcde', ['sh', '-c', 'tar cf - /data']),
      exec('kube-system', 'etcd-cp-1', ['tar', 'cf', '-', '/var/lib/etcd']),
    ],
  },
  {
    rule: 'K8s Interactive Shell In Pod',
    fire: [
      exec('shop', 'web-5d8f7c9b6-abcde', ['bash'], { tty: true, stdin: true }),
      exec('shop', 'web-5d8f7c9b6-abcde', ['/bin/sh'], { tty: true, stdin: true, verb: 'get' }),
      exec('shop', 'web-5d8f7c9b6-abcde', ['/usr/bin/zsh', '-l'], { tty: true, stdin: true, ...APP_SA }),
    ],
    nearMiss: [
      exec('shop', 'web-5d8f7c9b6-abcde', ['sh', '-c', 'cat /etc/hostname']),
      exec('shop', 'web-5d8f7c9b6-abcde', ['bash'], { stdin: true }),
      exec('shop', 'web-5d8f7c9b6-abcde', ['python3'], { tty: true, stdin: true }),
      exec('kube-system', 'etcd-cp-1', ['sh'], { tty: true, stdin: true }),
    ],
  },
  {
    rule: 'K8s One-Off Command In Pod',
    fire: [
      exec('shop', 'web-5d8f7c9b6-abcde', ['cat', '/etc/hostname']),
      exec('shop', 'web-5d8f7c9b6-abcde', ['sh', '-c', 'env'], { verb: 'get' }),
      exec('shop', 'web-5d8f7c9b6-abcde', ['bash'], { stdin: true }),
    ],
    nearMiss: [
      exec('shop', 'web-5d8f7c9b6-abcde', ['bash'], { tty: true, stdin: true }),
      exec('shop', 'web-5d8f7c9b6-abcde', ['tar', 'cf', '-', '/data']),
      exec('kube-system', 'coredns-7db6d8ff4d-8hx2q', ['cat', '/etc/resolv.conf']),
      { verb: 'get', resource: 'pods', subresource: 'log', namespace: 'shop', name: 'web-5d8f7c9b6-abcde', ...ALICE },
    ],
  },
  {
    rule: 'K8s Attach To Running Container',
    fire: [
      { verb: 'create', resource: 'pods', subresource: 'attach', namespace: 'shop', name: 'web-5d8f7c9b6-abcde', responseCode: 101, query: { container: 'app', stdin: 'true', stdout: 'true', tty: 'true' } },
      { verb: 'get', resource: 'pods', subresource: 'attach', namespace: 'shop', name: 'web-5d8f7c9b6-abcde', responseCode: 101, query: { container: 'app', stdout: 'true' } },
    ],
    nearMiss: [
      { verb: 'create', resource: 'pods', subresource: 'attach', namespace: 'kube-system', name: 'etcd-cp-1', responseCode: 101, query: { container: 'etcd', stdout: 'true' } },
      { verb: 'get', resource: 'pods', subresource: 'log', namespace: 'shop', name: 'web-5d8f7c9b6-abcde', query: { container: 'app', follow: 'true' } },
    ],
  },
  {
    rule: 'K8s Port Forward Into Pod',
    fire: [
      { verb: 'create', resource: 'pods', subresource: 'portforward', namespace: 'shop', name: 'db-0', responseCode: 101, query: { ports: '5432' } },
      { verb: 'get', resource: 'pods', subresource: 'portforward', namespace: 'shop', name: 'db-0', responseCode: 101, query: { ports: '5432' } },
    ],
    nearMiss: [
      { verb: 'create', resource: 'pods', subresource: 'portforward', namespace: 'kube-system', name: 'etcd-cp-1', responseCode: 101, query: { ports: '2379' } },
      { verb: 'get', resource: 'services', namespace: 'shop', name: 'db', ...ALICE },
    ],
  },
  {
    rule: 'K8s Debug Container Injected Into Pod',
    fire: [
      { verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', namespace: 'shop', name: 'web-5d8f7c9b6-abcde', ...ALICE,
        requestObject: { spec: { ephemeralContainers: [{ name: 'debugger-7rd5q', image: 'nicolaka/netshoot:v0.13', stdin: true, tty: true, targetContainerName: 'app' }] } } },
      { verb: 'update', resource: 'pods', subresource: 'ephemeralcontainers', namespace: 'shop', name: 'web-5d8f7c9b6-abcde', ...ALICE,
        requestObject: { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'web-5d8f7c9b6-abcde', namespace: 'shop' }, spec: { ...podSpec(), ephemeralContainers: [{ name: 'debugger', image: 'busybox:1.36' }] } } },
    ],
    nearMiss: [
      { verb: 'get', resource: 'pods', subresource: 'ephemeralcontainers', namespace: 'shop', name: 'web-5d8f7c9b6-abcde', ...ALICE },
      { verb: 'patch', resource: 'pods', subresource: 'status', namespace: 'shop', name: 'web-5d8f7c9b6-abcde', ...KUBELET,
        requestObject: { status: { ephemeralContainerStatuses: [{ name: 'debugger', state: { running: {} } }] } } },
      { verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', namespace: 'kube-system', name: 'etcd-cp-1', ...ADMIN,
        requestObject: { spec: { ephemeralContainers: [{ name: 'debugger', image: 'busybox:1.36' }] } } },
    ],
  },
  {
    rule: 'K8s Kubelet API Reached Through Node Proxy',
    fire: [
      { verb: 'create', resource: 'nodes', subresource: 'proxy', name: 'worker-1', subpath: 'run/shop/web-5d8f7c9b6-abcde/app', query: { cmd: 'id' } },
      { verb: 'get', resource: 'nodes', subresource: 'proxy', name: 'worker-1', subpath: 'pods', ...APP_SA, userAgent: 'curl/8.5.0' },
      { verb: 'get', resource: 'nodes', subresource: 'proxy', name: 'worker-1', subpath: 'exec/shop/web-5d8f7c9b6-abcde/app', query: { command: 'id', output: '1' } },
    ],
    nearMiss: [
      { verb: 'get', resource: 'nodes', subresource: 'proxy', name: 'worker-1', subpath: 'metrics/cadvisor', ...sa('monitoring', 'prometheus'), userAgent: 'Prometheus/2.54.1' },
      { verb: 'get', resource: 'nodes', subresource: 'proxy', name: 'worker-1', subpath: 'stats/summary', ...sa('monitoring', 'prometheus'), userAgent: 'Prometheus/2.54.1' },
      { verb: 'get', resource: 'nodes', name: 'worker-1', ...ALICE },
      { verb: 'patch', resource: 'nodes', subresource: 'status', name: 'worker-1', ...KUBELET, requestObject: { status: { conditions: [] } } },
    ],
  },
  {
    rule: 'K8s Service Or Pod Reached Through API Proxy',
    fire: [
      { verb: 'get', resource: 'services', subresource: 'proxy', namespace: 'monitoring', name: 'https:grafana:3000', subpath: 'api/datasources' },
      { verb: 'get', resource: 'pods', subresource: 'proxy', namespace: 'shop', name: 'web-5d8f7c9b6-abcde:8080', subpath: 'admin', ...APP_SA, userAgent: 'curl/8.5.0' },
    ],
    nearMiss: [
      { verb: 'get', resource: 'services', namespace: 'monitoring', name: 'grafana', ...ALICE },
      { verb: 'get', resource: 'nodes', subresource: 'proxy', name: 'worker-1', subpath: 'metrics', ...sa('monitoring', 'prometheus') },
    ],
  },

  // --- identity anomalies ---------------------------------------------------------------
  {
    rule: 'K8s Impersonation Of Privileged Identity',
    fire: [
      { verb: 'list', resource: 'secrets', namespace: 'kube-system', ...BOB, impersonatedUser: { username: 'system:kube-controller-manager' } },
      { verb: 'delete', resource: 'pods', namespace: 'shop', name: 'web-5d8f7c9b6-abcde', ...BOB, impersonatedUser: { username: 'bob', groups: ['system:masters'] } },
      { verb: 'get', resource: 'secrets', namespace: 'shop', name: 'db', ...APP_SA, impersonatedUser: { username: 'system:node:worker-1', groups: ['system:nodes'] } },
    ],
    nearMiss: [
      { verb: 'create', resource: 'selfsubjectaccessreviews', ...BOB, impersonatedUser: { username: 'system:kube-controller-manager' } },
      { verb: 'list', resource: 'pods', namespace: 'shop', ...BOB, impersonatedUser: { username: 'carol', groups: ['developers'] } },
      { verb: 'list', resource: 'secrets', namespace: 'kube-system', ...BOB },
    ],
  },
  {
    rule: 'K8s Request Made Through Impersonation',
    fire: [
      { verb: 'list', resource: 'pods', namespace: 'shop', ...BOB, impersonatedUser: { username: 'carol', groups: ['developers'] } },
      { verb: 'get', resource: 'configmaps', namespace: 'shop', name: 'web', ...BOB, impersonatedUser: { username: 'system:serviceaccount:shop:web' } },
    ],
    nearMiss: [
      { verb: 'create', resource: 'selfsubjectaccessreviews', ...BOB, impersonatedUser: { username: 'carol' } },
      { verb: 'list', resource: 'pods', namespace: 'shop', ...BOB },
      { verb: 'list', resource: 'pods', namespace: 'shop', ...BOB, impersonatedUser: { username: 'system:admin', groups: ['system:masters'] } },
    ],
  },
  {
    rule: 'K8s Service Account Token Used From CLI Tool',
    fire: [
      { verb: 'list', resource: 'pods', namespace: 'shop', ...APP_SA, userAgent: CTL },
      { verb: 'get', resource: 'secrets', namespace: 'shop', name: 'db', ...APP_SA, userAgent: 'curl/7.88.1' },
      { verb: 'list', resource: 'nodes', ...sa('default', 'default'), userAgent: 'kubectl.exe/v1.30.1 (windows/amd64) kubernetes/abc1234', responseCode: 403 },
    ],
    nearMiss: [
      { verb: 'list', resource: 'pods', namespace: 'shop', ...APP_SA, userAgent: 'web/1.4.2 (linux/amd64) kubernetes/$Format' },
      { verb: 'list', resource: 'pods', namespace: 'shop', ...ALICE, userAgent: CTL },
      { verb: 'list', resource: 'endpoints', namespace: 'kube-system', ...sa('kube-system', 'cluster-autoscaler'), userAgent: CTL },
    ],
  },
  {
    rule: 'K8s Authentication Failed',
    fire: [
      { verb: 'list', resource: 'secrets', namespace: 'kube-system', responseCode: 401, userAgent: 'python-requests/2.31.0', sourceIP: '198.51.100.23' },
      { verb: 'get', uri: '/api', responseCode: 401, user: undefined },
    ],
    nearMiss: [
      { verb: 'list', resource: 'secrets', namespace: 'kube-system', responseCode: 403 },
      { verb: 'list', resource: 'secrets', namespace: 'kube-system', responseCode: 401, stage: 'RequestReceived' },
    ],
  },
];

// ---------------------------------------------------------------------------------------------
// Running events through the engine

function newEngine(): Engine {
  const engine = new Engine({ tables: defaultTables(), ruleMatching: 'all', hostname: 'test' });
  const res = engine.loadFiles([PACK]);
  assert.ok(res.ok, res.diagnostics.map(formatDiagnostic).join('\n'));
  return engine;
}

function toEvent(raw: Record<string, unknown>): AuditEvent {
  const t = parseRfc3339Ns(raw.stageTimestamp);
  assert.ok(t !== undefined, 'test event has a valid stageTimestamp');
  return new AuditEvent(raw, t);
}

function label(s: Spec): string {
  const r = s.resource ? `${s.resource}${s.subresource ? '/' + s.subresource : ''}` : s.uri;
  return `${s.user ?? ALICE.user} ${s.verb} ${r} ${s.namespace ?? ''}/${s.name ?? ''}`;
}

test('the pack loads with no error and no warning', () => {
  const engine = new Engine({ tables: defaultTables() });
  const res = engine.loadFiles([PACK]);
  assert.deepEqual(res.diagnostics.map(formatDiagnostic), []);
  assert.ok(res.ok);
  assert.ok(res.rules.length >= 30, `only ${res.rules.length} rules`);
});

test('every rule is documented, tagged with MITRE techniques and prints the client', () => {
  const engine = newEngine();
  const upstreamPath = sharedPath('falco', 'rules', 'k8s_audit_rules.yaml');
  const upstream = existsSync(upstreamPath)
    ? new Set([...readFileSync(upstreamPath, 'utf8').matchAll(/^- rule: (.+)$/gm)].map((m) => m[1]!.trim()))
    : new Set<string>();
  for (const r of engine.allRules) {
    assert.equal(r.source, 'k8s_audit', r.name);
    assert.ok(r.desc.includes('Mitigation:') || typeof r.extra.mitigation === 'string', `${r.name}: no mitigation`);
    assert.ok(r.tags.includes('k8s'), `${r.name}: no k8s tag`);
    assert.ok(r.tags.some((t) => /^T\d{4}(\.\d{3})?$/.test(t)), `${r.name}: no MITRE technique tag`);
    assert.ok(r.tags.every((t) => /^T\d{4}(\.\d{3})?$/.test(t) || /^[a-z0-9_]+$/.test(t)), `${r.name}: odd tag in ${r.tags.join(',')}`);
    assert.ok(!upstream.has(r.name), `${r.name}: same name as an upstream Falco rule`);
    assert.ok(r.outputText.includes('%jevt.value[/sourceIPs/0]'), `${r.name}: output lacks the client address`);
    assert.ok(r.outputText.includes('%ka.useragent'), `${r.name}: output lacks the user agent`);
    assert.ok(!r.outputText.includes('%ka.sourceips'), `${r.name}: ka.sourceips reads the wrong path`);
    assert.ok(r.outputText.length < 400, `${r.name}: output template too long for a terminal`);
  }
});

test('every rule of the pack has a table entry, and only those', () => {
  const engine = newEngine();
  const names = engine.allRules.map((r) => r.name).sort();
  assert.deepEqual([...new Set(CASES.map((c) => c.rule))].sort(), names);
});

for (const c of CASES) {
  test(`rule: ${c.rule}`, () => {
    const engine = newEngine();
    assert.ok(c.fire.length > 0 && c.nearMiss.length > 0, 'each rule needs fire and near-miss events');
    c.fire.forEach((spec, i) => {
      const alerts = engine.process(toEvent(auditEvent(spec)));
      const names = alerts.map((a) => a.rule);
      assert.ok(names.includes(c.rule), `fire[${i}] (${label(spec)}) did not raise it; raised: ${JSON.stringify(names)}`);
      const a = alerts.find((x) => x.rule === c.rule)!;
      assert.ok(!/%[a-z]+\.[a-z]/.test(a.message), `unexpanded field in: ${a.message}`);
      assert.ok(a.message.includes('ip=10.0.3.14') || a.message.includes(`ip=${spec.sourceIP}`), `no client address in: ${a.message}`);
    });
    c.nearMiss.forEach((spec, i) => {
      const names = engine.process(toEvent(auditEvent(spec))).map((a) => a.rule);
      assert.ok(!names.includes(c.rule), `nearMiss[${i}] (${label(spec)}) raised it`);
    });
  });
}

test('alerts read well: output carries user, verb, target and source', () => {
  const engine = newEngine();
  const [a] = engine.process(toEvent(auditEvent(exec('shop', 'web-5d8f7c9b6-abcde', ['bash'], { tty: true, stdin: true, verb: 'get' }))));
  assert.ok(a);
  assert.equal(a.rule, 'K8s Interactive Shell In Pod');
  assert.equal(a.priority, 'Warning');
  assert.equal(a.message,
    'Interactive shell in pod (user=alice@example.com verb=get pod=shop/web-5d8f7c9b6-abcde container=app shell=bash ' +
    'code=101 ip=10.0.3.14 ua=kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46)');
  assert.equal(typeof a.extra?.mitigation, 'string');
});

test('control-plane sessions rank above ordinary ones', () => {
  const engine = newEngine();
  const prio = (s: Spec) => engine.process(toEvent(auditEvent(s)))[0]?.priorityNum;
  const cp = prio(exec('kube-system', 'etcd-cp-1', ['sh'], { tty: true, stdin: true }));
  const shell = prio(exec('shop', 'web-1', ['sh'], { tty: true, stdin: true }));
  const oneOff = prio(exec('shop', 'web-1', ['date']));
  assert.ok(cp !== undefined && shell !== undefined && oneOff !== undefined);
  assert.ok(cp < shell && shell < oneOff, `${cp} < ${shell} < ${oneOff}`);
});

test('trusted-identity lists can be extended with override: items: append', () => {
  const engine = new Engine({ tables: defaultTables(), ruleMatching: 'all' });
  const res = engine.loadSources([
    { name: PACK, text: readFileSync(PACK, 'utf8') },
    { name: 'local.yaml', text: '- list: vigil_trusted_exec_users\n  items: [alice@example.com]\n  override:\n    items: append\n' },
  ]);
  assert.deepEqual(res.diagnostics.map(formatDiagnostic), []);
  const names = engine.process(toEvent(auditEvent(exec('shop', 'web-1', ['sh'], { tty: true, stdin: true })))).map((a) => a.rule);
  assert.deepEqual(names, []);
});

// Falco's own test traces: most are attacks by design; these are the ordinary operations.
const BENIGN_TRACES = [
  'create_clusterrole.json', 'create_clusterrolebinding.json', 'create_configmap.json', 'create_configmap_no_sensitive_values.json',
  'create_deployment.json', 'create_kube_system_secret.json', 'create_nginx_pod_nohostnetwork.json',
  'create_nginx_pod_unprivileged.json', 'create_nginx_pod_unsensitive_mount.json', 'create_nginx_service_nonodeport.json',
  'create_pod_kube_public_namespace.json', 'create_pod_kube_system_namespace.json', 'create_secret.json', 'create_service.json',
  'create_service_account_token_secret.json', 'create_serviceaccount.json', 'delete_clusterrole.json',
  'delete_clusterrolebinding.json', 'delete_configmap.json', 'delete_deployment.json', 'delete_namespace_foo.json',
  'delete_secret.json', 'delete_service.json', 'delete_serviceaccount.json', 'minikube_creates_namespace_foo.json',
  'some-user_creates_namespace_foo.json',
];

test('Falco\'s benign k8s audit traces raise few alerts', (t) => {
  const dir = sharedPath('falco', 'k8s_audit_traces');
  if (!existsSync(dir)) {
    t.skip(`${dir} is missing`);
    return;
  }
  const engine = newEngine();
  const present = new Set(readdirSync(dir));
  let events = 0;
  const alerts: string[] = [];
  for (const f of BENIGN_TRACES.filter((x) => present.has(x))) {
    for (const ev of decodeAuditText(readFileSync(path.join(dir, f), 'utf8'), f)) {
      if (isDecodeError(ev)) continue;
      events++;
      for (const a of engine.process(ev)) alerts.push(`${f}: ${a.rule}`);
    }
  }
  console.log(`benign traces: ${events} events, ${alerts.length} alerts${alerts.length ? '\n  ' + alerts.join('\n  ') : ''}`);
  assert.ok(events > 0);
  assert.ok(alerts.length <= Math.ceil(events / 10), `too many alerts on benign traces: ${alerts.join('; ')}`);
});
