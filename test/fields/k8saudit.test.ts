import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditEvent, decodeAuditText, parseRfc3339Ns } from '../../src/events/k8saudit.ts';
import { k8sAuditFields } from '../../src/fields/k8saudit/table.ts';
import { isFieldError, type ResolvedField } from '../../src/fields/types.ts';
import { setHostname, getHostname } from '../../src/fields/generic.ts';

process.env.TZ = 'UTC';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHARED = join(ROOT, '..', 'shared', 'falco');
const FIELDS_JSON = join(SHARED, 'k8saudit-fields.json');
const TRACES = join(SHARED, 'k8s_audit_traces');
const ORACLE = join(SHARED, 'oracle-falco-0.44.1');
const HAVE_FIELDS = existsSync(FIELDS_JSON);
const HAVE_ORACLE = existsSync(ORACLE) && existsSync(TRACES);
if (!HAVE_FIELDS) console.warn(`!!! SKIPPING field-list test: ${FIELDS_JSON} is missing`);
if (!HAVE_ORACLE) console.warn(`!!! SKIPPING Falco oracle cross-check: ${ORACLE} or ${TRACES} is missing`);

const T0 = parseRfc3339Ns('2024-05-06T07:08:09.123456789Z')!;

function event(raw: Record<string, unknown>, timeNs = T0): AuditEvent {
  return new AuditEvent(raw, timeNs);
}

function field(name: string, arg?: string): ResolvedField<AuditEvent> {
  const r = k8sAuditFields.resolve(name, arg);
  if (isFieldError(r)) throw new Error(`${name}[${arg}]: ${r.error}`);
  return r;
}

/** Extract `name[arg]` from an event made of `raw` (auditID added unless raw says otherwise). */
function x(name: string, arg: string | undefined, raw: Record<string, unknown>): unknown {
  return field(name, arg).extract(event({ auditID: 'id-1', ...raw }));
}

function pod(spec: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { objectRef: { resource: 'pods', namespace: 'default', name: 'p' }, requestObject: { kind: 'Pod', spec }, ...extra };
}

// ---------------------------------------------------------------------------------------------
// The field list

test('the table is for k8s_audit and lists evt.*, ka.*, json.*, jevt.* and vigil', () => {
  assert.equal(k8sAuditFields.source, 'k8s_audit');
  const names = k8sAuditFields.fields().map((f) => f.name);
  for (const n of ['evt.time', 'evt.time.s', 'evt.time.iso8601', 'evt.datetime', 'evt.datetime.s', 'evt.rawtime',
    'evt.rawtime.s', 'evt.rawtime.ns', 'evt.num', 'evt.source', 'evt.hostname', 'evt.pluginname', 'evt.plugininfo',
    'evt.is_async', 'evt.asynctype', 'ka.auditid', 'json.value', 'jevt.rawtime', 'vigil']) {
    assert.ok(names.includes(n), n);
  }
  assert.equal(new Set(names).size, names.length, 'no duplicates');
  for (const f of k8sAuditFields.fields()) assert.ok(f.description.length > 0 && f.description !== f.name, f.name);
});

test('every field of k8saudit-fields.json exists with its list-ness and argument kind', { skip: !HAVE_FIELDS && 'fields JSON missing' }, () => {
  const spec = JSON.parse(readFileSync(FIELDS_JSON, 'utf8')) as { fields: Array<{ name: string; isList: boolean; arg: string; argRequired: boolean }> };
  const ours = new Map(k8sAuditFields.fields().map((f) => [f.name, f]));
  assert.equal(spec.fields.length, 106);
  for (const s of spec.fields) {
    const f = ours.get(s.name);
    assert.ok(f, `missing ${s.name}`);
    assert.equal(f.type, 'string', s.name);
    assert.equal(f.isList === true, s.isList, `${s.name} isList`);
    const mode = f.arg ?? 'none';
    if (s.arg === 'none') assert.equal(mode, 'none', s.name);
    if (s.arg === 'index') assert.deepEqual([mode, f.argKind], ['optional', 'index'], s.name);
    if (s.arg === 'key') assert.deepEqual([mode, f.argKind], [s.argRequired ? 'required' : 'optional', 'key'], s.name);
    // it resolves
    const r = k8sAuditFields.resolve(s.name, s.arg === 'key' ? 'k' : undefined);
    assert.ok(!isFieldError(r), s.name);
  }
  const ka = [...ours.keys()].filter((n) => /^(ka|json|jevt)\./.test(n));
  assert.equal(ka.length, 106, 'no ka/json field beyond the spec');
});

// ---------------------------------------------------------------------------------------------
// Resolution

test('resolve: names, arguments and errors', () => {
  const r = field('ka.uri.param', 'command');
  assert.equal(r.text, 'ka.uri.param[command]');
  assert.equal(r.arg, 'command');
  assert.equal(r.type, 'string');
  assert.equal(r.isList, false);
  const l = field('ka.req.pod.containers.image', '1');
  assert.equal(l.text, 'ka.req.pod.containers.image[1]');
  assert.equal(l.isList, true);
  assert.equal(field('ka.user.name').text, 'ka.user.name');
  assert.equal(field('json.value', '').text, 'json.value[]');

  const err = (name: string, arg?: string): string => {
    const e = k8sAuditFields.resolve(name, arg);
    assert.ok(isFieldError(e), `${name}[${arg}] should not resolve`);
    return e.error;
  };
  assert.equal(err('ka.nope'), 'filter_check called with nonexistent field ka.nope');
  assert.equal(err('ka.req.pod.containers'), 'filter_check called with nonexistent field ka.req.pod.containers');
  assert.equal(err('evt.type'), 'filter_check called with nonexistent field evt.type');
  assert.match(err('ka.uri.param'), /requires an argument/);
  assert.match(err('json.value'), /requires an argument/);
  assert.match(err('jevt.value'), /requires an argument/);
  assert.match(err('ka.req.volume.hostpath'), /requires an argument/);
  assert.match(err('ka.req.binding.subject.has_name'), /requires an argument/);
  assert.match(err('ka.user.name', '0'), /does not allow nor require an argument/);
  assert.match(err('evt.time', '1'), /does not allow nor require an argument/);
  assert.match(err('ka.req.pod.containers.image', 'x'), /invalid index/);
  assert.match(err('ka.req.pod.containers.image', '-1'), /invalid index/);
  assert.match(err('ka.req.pod.containers.image', '01'), /invalid index/);
  assert.match(err('ka.req.pod.containers.image', ''), /invalid index/);
  assert.match(err('vigil'), /requires an argument/);
  assert.equal(err('vigil.cluster', 'x'), 'filter_check called with nonexistent field vigil.cluster');
});

test('resolution is lazy: nothing is read until extract is called', () => {
  const r = field('ka.req.pod.containers.image', '0');
  let reads = 0;
  const raw = new Proxy({ auditID: 'a' } as Record<string, unknown>, { get: (t, k) => { reads++; return t[k as string]; } });
  assert.equal(reads, 0);
  r.extract(event(raw));
  assert.ok(reads > 0);
});

// ---------------------------------------------------------------------------------------------
// Table tests: [field, arg, raw event (auditID added), expected]

type Case = [string, string | undefined, Record<string, unknown>, unknown];

const CONTAINERS = [
  { name: 'web', image: 'nginx:1.25', command: ['nginx', '-g', 'daemon off;'], ports: [{ containerPort: 80 }, { containerPort: 443, hostPort: 8443 }],
    securityContext: { privileged: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsUser: 1000, runAsGroup: 3000,
      procMount: 'Unmasked', capabilities: { add: ['NET_ADMIN', 'SYS_TIME'] } } },
  { name: 'side', image: 'registry:5000/team/sidecar@sha256:abc', args: ['--v', '2'], runAsUser: 42 },
  { name: 'plain', image: 'busybox', securityContext: {} },
];

const CASES: Case[] = [
  // scalars: strings as-is, other JSON as compact text, absent when missing
  ['ka.auditid', undefined, {}, 'id-1'],
  ['ka.auditid', undefined, { auditID: 12 }, '12'],
  ['ka.stage', undefined, { stage: 'ResponseComplete' }, 'ResponseComplete'],
  ['ka.stage', undefined, {}, undefined],
  ['ka.auth.decision', undefined, { annotations: { 'authorization.k8s.io/decision': 'allow' } }, 'allow'],
  ['ka.auth.reason', undefined, { annotations: { 'authorization.k8s.io/reason': '' } }, ''],
  ['ka.auth.openshift.decision', undefined, { annotations: { 'authentication.openshift.io/decision': 'allow' } }, 'allow'],
  ['ka.auth.openshift.username', undefined, { annotations: { 'authentication.openshift.io/username': 'kube:admin' } }, 'kube:admin'],
  ['ka.validations.admission.policy.failure', undefined,
    { annotations: { 'validation.policy.admission.k8s.io/validation_failure': '[{"message":"no"}]' } }, '[{"message":"no"}]'],
  ['ka.security.pod.violations', undefined, { annotations: { 'pod-security.kubernetes.io/audit-violations': 'privileged' } }, 'privileged'],
  ['ka.cluster.name', undefined, { annotations: { cluster_name: 'prod-eu' } }, 'prod-eu'],
  ['ka.user.name', undefined, { user: { username: 'alice' } }, 'alice'],
  ['ka.user.name', undefined, { user: 'alice' }, undefined],
  ['ka.impuser.name', undefined, { impersonatedUser: { username: 'bob' } }, 'bob'],
  ['ka.verb', undefined, { verb: 'create' }, 'create'],
  ['ka.uri', undefined, { requestURI: '/api/v1/pods?watch=true' }, '/api/v1/pods?watch=true'],
  ['ka.target.name', undefined, { objectRef: { name: 'n' } }, 'n'],
  ['ka.target.namespace', undefined, { objectRef: { name: 'n' } }, undefined],
  ['ka.target.resource', undefined, { objectRef: { resource: 'secrets' } }, 'secrets'],
  ['ka.target.subresource', undefined, { objectRef: { subresource: 'exec' } }, 'exec'],
  ['ka.resp.name', undefined, { responseObject: { metadata: { name: 'r' } } }, 'r'],
  ['ka.response.code', undefined, { responseStatus: { code: 201 } }, '201'],
  ['ka.response.code', undefined, { responseStatus: { code: 4.5 } }, '4.5'],
  ['ka.response.reason', undefined, { responseStatus: { reason: 'Forbidden' } }, 'Forbidden'],
  ['ka.useragent', undefined, { userAgent: 'kubectl/v1.29' }, 'kubectl/v1.29'],
  ['ka.req.binding.role', undefined, { requestObject: { roleRef: { name: 'cluster-admin' } } }, 'cluster-admin'],
  ['ka.req.configmap.name', undefined, { objectRef: { name: 'cm' } }, 'cm'],
  ['ka.req.configmap.obj', undefined, { requestObject: { data: { 'a.b': 'x\ny', n: 1, t: true, z: null } } }, '{"a.b":"x\\ny","n":1,"t":true,"z":null}'],
  ['ka.req.pod.host_ipc', undefined, pod({ hostIPC: false }), 'false'],
  ['ka.req.pod.host_network', undefined, pod({ hostNetwork: true }), 'true'],
  ['ka.req.container.host_network', undefined, pod({ hostNetwork: true }), 'true'],
  ['ka.req.pod.host_pid', undefined, pod({ hostPID: null }), 'null'],
  ['ka.req.pod.host_pid', undefined, pod({}), undefined],
  ['ka.req.pod.run_as_user', undefined, pod({ securityContext: { runAsUser: 0 } }), '0'],
  ['ka.req.pod.run_as_group', undefined, pod({ securityContext: { runAsGroup: 2000 } }), '2000'],
  ['ka.req.pod.fs_group', undefined, pod({ securityContext: { fsGroup: 2000 } }), '2000'],
  ['ka.req.service.type', undefined, { requestObject: { spec: { type: 'NodePort' } } }, 'NodePort'],

  // plain arrays at a path
  ['ka.user.groups', undefined, { user: { groups: ['system:masters', 'dev'] } }, ['system:masters', 'dev']],
  ['ka.user.groups', undefined, { user: { groups: 'system:masters' } }, undefined], // not an array: extraction error
  ['ka.user.groups', undefined, { user: { groups: [] } }, undefined], // no values: not extracted
  ['ka.user.groups', undefined, { user: { groups: [1, true, { a: 1 }] } }, ['1', 'true', '{"a":1}']],
  ['ka.req.pod.supplemental_groups', undefined, pod({ securityContext: { supplementalGroups: [1, 2] } }), ['1', '2']],
  ['ka.req.binding.subjects', undefined, { requestObject: { subjects: [{ kind: 'User', name: 'u' }, { kind: 'Group', name: 'g' }] } },
    ['{"kind":"User","name":"u"}', '{"kind":"Group","name":"g"}']],
  ['ka.req.role.rules', undefined, { requestObject: { rules: [{ verbs: ['get'] }, { verbs: ['*'], resources: ['pods'] }] } },
    ['{"verbs":["get"]}', '{"verbs":["*"],"resources":["pods"]}']],

  // binding subjects by kind
  ...((): Case[] => {
    const subjects = { requestObject: { subjects: [
      { kind: 'User', name: 'alice' }, { kind: 'User' }, { kind: 'Group', name: 'devs' },
      { kind: 'ServiceAccount', name: 'sa1', namespace: 'ns1' }, { kind: 'ServiceAccount', name: 'sa2' }, 'junk',
    ] } };
    return [
      ['ka.req.binding.subjects.user_names', undefined, subjects, ['alice']],
      ['ka.req.binding.subjects.group_names', undefined, subjects, ['devs']],
      ['ka.req.binding.subjects.serviceaccount_names', undefined, subjects, ['sa1', 'sa2']],
      ['ka.req.binding.subjects.serviceaccount_ns_names', undefined, subjects, ['ns1:sa1']],
      ['ka.req.binding.subjects.user_names', undefined, {}, undefined], // present but empty in the plugin: no value
      ['ka.req.binding.subjects.user_names', undefined, { requestObject: { subjects: { kind: 'User' } } }, undefined],
    ];
  })(),
  ['ka.req.binding.subject.has_name', 'anything', {}, 'true'],
  ['ka.req.binding.subject.has_name', 'x', { auditID: undefined }, undefined],

  // ka.target.pod.name
  ['ka.target.pod.name', undefined, { objectRef: { resource: 'pods' }, responseObject: { metadata: { name: 'p1' } } }, 'p1'],
  ['ka.target.pod.name', undefined, { objectRef: { resource: 'pods', subresource: '' }, responseObject: { metadata: { name: 'p1' } } }, 'p1'],
  ['ka.target.pod.name', undefined, { objectRef: { resource: 'pods', subresource: 'exec' }, responseObject: { metadata: { name: 'p1' } } }, undefined],
  ['ka.target.pod.name', undefined, { objectRef: { resource: 'secrets' }, responseObject: { metadata: { name: 's' } } }, undefined],
  ['ka.target.pod.name', undefined, { objectRef: { resource: 'pods' } }, undefined],

  // ka.uri.param
  ['ka.uri.param', 'command', { requestURI: '/api/v1/namespaces/d/pods/p/exec?command=bash&container=c&command=-i' }, 'bash'],
  ['ka.uri.param', 'container', { requestURI: '/api/v1/namespaces/d/pods/p/exec?command=bash&container=c' }, 'c'],
  ['ka.uri.param', 'q', { requestURI: '/x?q=a+b%2Fc%C3%A9' }, 'a b/cé'],
  ['ka.uri.param', 'flag', { requestURI: '/x?flag&y=1' }, ''],
  ['ka.uri.param', 'q', { requestURI: '/x?q=1#frag' }, '1'],
  ['ka.uri.param', 'missing', { requestURI: '/x?q=1' }, undefined],
  ['ka.uri.param', 'q', { requestURI: '/x' }, undefined],
  ['ka.uri.param', 'q', { requestURI: '/x?q=1;r=2' }, undefined], // Go rejects ';' separators
  ['ka.uri.param', 'q', { requestURI: '/x?q=%zz' }, undefined], // bad escape
  ['ka.uri.param', 'q', { requestURI: '/x?a=%zz&q=1' }, undefined], // any bad pair fails the whole query
  ['ka.uri.param', 'q', { requestURI: '/x%zz?q=1' }, undefined], // bad escape in the path
  ['ka.uri.param', 'q', {}, undefined],

  // containers, regular
  ['ka.req.pod.containers.name', undefined, pod({ containers: CONTAINERS }), ['web', 'side', 'plain']],
  ['ka.req.pod.containers.name', '1', pod({ containers: CONTAINERS }), ['side']],
  ['ka.req.pod.containers.name', '3', pod({ containers: CONTAINERS }), undefined], // out of range
  ['ka.req.pod.containers.name', undefined, pod({ containers: [{ name: 'a' }, { image: 'x' }] }), undefined], // error
  ['ka.req.pod.containers.image', undefined, pod({ containers: CONTAINERS }), ['nginx:1.25', 'registry:5000/team/sidecar@sha256:abc', 'busybox']],
  ['ka.req.pod.containers.image', undefined, pod({ containers: [{ image: 'a' }, { name: 'noimage' }] }), undefined],
  ['ka.req.pod.containers.image', '0', pod({ containers: [{ image: 'a' }, { name: 'noimage' }] }), ['a']],
  ['ka.req.pod.containers.image', '1', pod({ containers: [{ image: 'a' }, { name: 'noimage' }] }), undefined],
  ['ka.req.pod.containers.image', undefined, pod({}), undefined],
  ['ka.req.pod.containers.image', undefined, pod({ containers: [] }), undefined],
  ['ka.req.pod.containers.image.repository', undefined, pod({ containers: CONTAINERS }), ['nginx', 'registry', 'busybox']],
  ['ka.req.pod.containers.image.repository', undefined, pod({ containers: [{ image: 'repo@sha256:1' }] }), ['repo']],
  ['ka.req.pod.containers.image.repository', '0', pod({ containers: CONTAINERS }), ['nginx']],
  ['ka.req.pod.containers.command', undefined, pod({ containers: CONTAINERS }), ['nginx -g daemon off;']],
  ['ka.req.pod.containers.command', '1', pod({ containers: CONTAINERS }), undefined],
  ['ka.req.pod.containers.command', undefined, pod({ containers: [{ command: ['a', 1] }] }), undefined], // non-string: error
  ['ka.req.pod.containers.args', undefined, pod({ containers: CONTAINERS }), ['--v 2']],
  ['ka.req.pod.containers.args', undefined, pod({ containers: [{ name: 'x' }] }), undefined],
  ['ka.req.pod.containers.privileged', undefined, pod({ containers: CONTAINERS }), ['true']],
  ['ka.req.pod.containers.privileged', undefined, pod({ containers: [{ securityContext: { privileged: false } }, {}, { securityContext: { privileged: true } }] }), ['false', 'true']],
  ['ka.req.pod.containers.privileged', '1', pod({ containers: CONTAINERS }), undefined],
  ['ka.req.pod.containers.privileged', undefined, pod({}), undefined],
  ['ka.req.pod.containers.allow_privilege_escalation', undefined, pod({ containers: CONTAINERS }), ['false']],
  ['ka.req.pod.containers.read_only_fs', undefined, pod({ containers: CONTAINERS }), ['true']],
  ['ka.req.pod.containers.run_as_user', undefined, pod({ containers: CONTAINERS }), ['1000']],
  ['ka.req.pod.containers.run_as_group', undefined, pod({ containers: CONTAINERS }), ['3000']],
  ['ka.req.pod.containers.proc_mount', undefined, pod({ containers: CONTAINERS }), ['Unmasked']],
  ['ka.req.pod.containers.add_capabilities', undefined, pod({ containers: CONTAINERS }), ['["NET_ADMIN","SYS_TIME"]']],
  ['ka.req.pod.containers.add_capabilities', undefined,
    pod({ containers: [{ securityContext: { capabilities: { add: ['A'] } } }, { securityContext: { capabilities: { add: ['B', 'C'] } } }] }),
    ['["A"]', '["B","C"]']],
  ['ka.req.pod.containers.host_port', undefined, pod({ containers: CONTAINERS }), ['80', '8443']],
  ['ka.req.pod.containers.host_port', '1', pod({ containers: CONTAINERS }), undefined],
  ['ka.req.pod.containers.host_port', undefined, pod({ containers: [{ ports: { containerPort: 1 } }] }), undefined], // not an array: error
  ['ka.req.pod.containers.host_port', undefined, pod({ containers: [{ ports: [{ name: 'p' }, { containerPort: 9 }] }] }), ['9']],
  // upstream quirk: eff_run_as_* read containers[*].runAsUser and spec.runAsUser, not the securityContext
  ['ka.req.pod.containers.eff_run_as_user', undefined, pod({ containers: CONTAINERS, securityContext: { runAsUser: 5 } }), ['0', '42', '0']],
  ['ka.req.pod.containers.eff_run_as_user', undefined, pod({ containers: CONTAINERS, runAsUser: 7 }), ['7', '42', '7']],
  ['ka.req.pod.containers.eff_run_as_user', '1', pod({ containers: CONTAINERS }), ['42']],
  ['ka.req.pod.containers.eff_run_as_user', '9', pod({ containers: CONTAINERS }), undefined],
  ['ka.req.pod.containers.eff_run_as_group', undefined, pod({ containers: CONTAINERS, securityContext: { runAsGroup: 5 } }), ['0', '0', '0']],
  ['ka.req.pod.containers.eff_run_as_group', undefined, pod({ containers: [{ runAsGroup: 3 }, {}], runAsGroup: 8 }), ['3', '8']],
  ['ka.req.pod.containers.eff_run_as_user', undefined, pod({}), undefined],

  // init and ephemeral containers use their own arrays
  ['ka.req.pod.initContainers.image', undefined, pod({ containers: CONTAINERS, initContainers: [{ name: 'init', image: 'alpine:3' }] }), ['alpine:3']],
  ['ka.req.pod.initContainers.image', undefined, pod({ containers: CONTAINERS }), undefined],
  ['ka.req.pod.initContainers.name', undefined, pod({ initContainers: [{ name: 'i1' }, { name: 'i2' }] }), ['i1', 'i2']],
  ['ka.req.pod.initContainers.image.repository', '0', pod({ initContainers: [{ image: 'a/b:1' }] }), ['a/b']],
  ['ka.req.pod.initContainers.privileged', undefined, pod({ initContainers: [{ securityContext: { privileged: true } }] }), ['true']],
  ['ka.req.pod.initContainers.host_port', undefined, pod({ initContainers: [{ ports: [{ hostPort: 22 }] }] }), ['22']],
  ['ka.req.pod.initContainers.eff_run_as_user', undefined, pod({ initContainers: [{}] }), ['0']],
  ['ka.req.pod.ephemeralContainers.image', undefined, pod({ ephemeralContainers: [{ name: 'debugger', image: 'busybox:1' }] }), ['busybox:1']],
  ['ka.req.pod.ephemeralContainers.command', undefined, pod({ ephemeralContainers: [{ command: ['sh', '-c', 'id'] }] }), ['sh -c id']],
  ['ka.req.pod.ephemeralContainers.add_capabilities', '0', pod({ ephemeralContainers: [{ securityContext: { capabilities: { add: ['SYS_PTRACE'] } } }] }), ['["SYS_PTRACE"]']],
  ['ka.req.pod.ephemeralContainers.name', undefined, pod({ ephemeralContainers: [{ image: 'x' }] }), undefined],

  // deprecated single-container fields
  ['ka.req.container.image', undefined, pod({ containers: CONTAINERS }), 'nginx:1.25'],
  ['ka.req.container.image', undefined, pod({ containers: [{ name: 'x' }, { image: 'y' }] }), undefined],
  ['ka.req.container.image', undefined, pod({ containers: [{ image: 'a' }, { name: 'no-image' }] }), 'a'],
  ['ka.req.container.image', undefined, pod({ containers: [] }), undefined],
  ['ka.req.container.image.repository', undefined, pod({ containers: CONTAINERS }), 'nginx'],
  ['ka.req.container.privileged', undefined, pod({ containers: CONTAINERS }), 'true'],
  ['ka.req.container.privileged', undefined, pod({ containers: [{}, { securityContext: { privileged: 'true' } }] }), 'false'],
  ['ka.req.container.privileged', undefined, pod({ containers: [] }), 'false'],
  ['ka.req.container.privileged', undefined, pod({ initContainers: [{ securityContext: { privileged: true } }] }), undefined],

  // role rules, flattened, index selects a rule
  ...((): Case[] => {
    const role = { requestObject: { rules: [
      { apiGroups: [''], resources: ['pods', 'pods/exec'], verbs: ['get', 'create'] },
      { nonResourceURLs: ['/healthz', '/api/*'], verbs: ['get'] },
      { apiGroups: ['apps'], resources: ['*'], verbs: ['*'] },
    ] } };
    return [
      ['ka.req.role.rules.apiGroups', undefined, role, ['', 'apps']],
      ['ka.req.role.rules.resources', undefined, role, ['pods', 'pods/exec', '*']],
      ['ka.req.role.rules.verbs', undefined, role, ['get', 'create', 'get', '*']],
      ['ka.req.role.rules.verbs', '2', role, ['*']],
      ['ka.req.role.rules.verbs', '3', role, undefined],
      ['ka.req.role.rules.nonResourceURLs', undefined, role, ['/healthz', '/api/*']],
      ['ka.req.role.rules.nonResourceURLs', '0', role, undefined],
      ['ka.req.role.rules.resources', undefined, {}, undefined],
      // upstream quirk: ka.sourceips reads the rules, not the top-level sourceIPs
      ['ka.sourceips', undefined, { sourceIPs: ['10.0.0.1'] }, undefined],
      ['ka.sourceips', undefined, { sourceIPs: ['10.0.0.1'], ...role }, undefined],
      ['ka.sourceips', undefined, { sourceIPs: ['10.0.0.1'], requestObject: { rules: [{ sourceIPs: ['1.2.3.4'] }, {}, { sourceIPs: ['5.6.7.8'] }] } }, ['1.2.3.4', '5.6.7.8']],
      ['ka.sourceips', '2', { requestObject: { rules: [{ sourceIPs: ['1.2.3.4'] }, {}, { sourceIPs: ['5.6.7.8'] }] } }, ['5.6.7.8']],
    ];
  })(),

  // service ports: the whole array is one element, index or not (as Falco prints it)
  ['ka.req.service.ports', undefined, { requestObject: { spec: { ports: [{ port: 80 }, { port: 443, protocol: 'TCP' }] } } },
    ['[{"port":80},{"port":443,"protocol":"TCP"}]']],
  ['ka.req.service.ports', '1', { requestObject: { spec: { ports: [{ port: 80 }, { port: 443 }] } } }, ['[{"port":80},{"port":443}]']],
  ['ka.req.service.ports', undefined, { requestObject: { spec: { type: 'ClusterIP' } } }, undefined],

  // volumes
  ...((): Case[] => {
    const vols = pod({ volumes: [
      { name: 'etc', hostPath: { path: '/etc', type: '' } },
      { name: 'cfg', configMap: { name: 'c' } },
      { name: 'sock', hostPath: { path: '/var/run/docker.sock' } },
      { name: 'flex', flexVolume: { driver: 'acme/drv' }, emptyDir: {} },
    ] });
    return [
      ['ka.req.pod.volumes.hostpath', undefined, vols, ['/etc', '/var/run/docker.sock']],
      ['ka.req.pod.volumes.hostpath', '2', vols, ['/var/run/docker.sock']],
      ['ka.req.pod.volumes.hostpath', '1', vols, undefined],
      ['ka.req.pod.volumes.hostpath', '4', vols, undefined],
      ['ka.req.pod.volumes.flexvolume_driver', undefined, vols, ['acme/drv']],
      ['ka.req.pod.volumes.volume_type', undefined, vols, ['hostPath', 'configMap', 'hostPath', 'flexVolume', 'emptyDir']],
      ['ka.req.pod.volumes.volume_type', '3', vols, ['flexVolume', 'emptyDir']],
      ['ka.req.pod.volumes.volume_type', '9', vols, undefined],
      ['ka.req.volume.hostpath', '/etc', vols, 'true'],
      ['ka.req.volume.hostpath', '/et', vols, 'false'],
      ['ka.req.volume.hostpath', '/var/run/*', vols, 'true'],
      ['ka.req.volume.hostpath', '/var/lib*', vols, 'false'],
      ['ka.req.volume.hostpath', '*', vols, 'true'],
      ['ka.req.volume.hostpath', '/etc', pod({ volumes: [] }), 'false'],
      ['ka.req.volume.hostpath', '/etc', pod({}), undefined],
    ];
  })(),

  // json plugin fields: any pointer; not gated on auditID
  ['json.value', '/stage', { stage: 'ResponseComplete' }, 'ResponseComplete'],
  ['json.value', 'stage', { stage: 'ResponseComplete' }, 'ResponseComplete'],
  ['jevt.value', '/annotations/authorization.k8s.io~1decision', { annotations: { 'authorization.k8s.io/decision': 'allow' } }, 'allow'],
  ['json.value', '/a~0b', { 'a~b': 1 }, '1'],
  ['json.value', '/requestObject/spec/containers/1/image', pod({ containers: CONTAINERS }), 'registry:5000/team/sidecar@sha256:abc'],
  ['json.value', '/requestObject/spec/containers/3/image', pod({ containers: CONTAINERS }), undefined],
  ['json.value', '/user', { user: { username: 'u', groups: ['g'] } }, '{"username":"u","groups":["g"]}'],
  ['json.value', '/responseStatus/code', { responseStatus: { code: 403 } }, '403'],
  ['json.value', '/nope/deeper', {}, undefined],
  ['json.value', '/constructor', {}, undefined],
  ['json.value', '/__proto__', {}, undefined],
  ['json.value', '/stage', { auditID: undefined, stage: 'x' }, 'x'],
  ['json.value', '', { auditID: 'only' }, '{"auditID":"only"}'],
  ['jevt.value', '/requestObject/spec/volumes', pod({ volumes: [{ hostPath: { path: '/etc', type: '' }, name: 'etc' }] }),
    '[{"hostPath":{"path":"/etc","type":""},"name":"etc"}]'],
];

test('field extraction table', () => {
  for (const [name, arg, raw, expected] of CASES) {
    assert.deepEqual(x(name, arg, raw), expected, `${name}${arg === undefined ? '' : `[${arg}]`} on ${JSON.stringify(raw)}`);
  }
});

test('ka.* fields are absent on events without auditID; json.* still work', () => {
  const e = event({ stage: 'ResponseComplete', verb: 'get', user: { username: 'u' } });
  for (const f of k8sAuditFields.fields()) {
    if (!f.name.startsWith('ka.')) continue;
    const r = field(f.name, f.arg === 'required' ? 'k' : undefined);
    assert.equal(r.extract(e), undefined, f.name);
  }
  assert.equal(field('json.value', '/verb').extract(e), 'get');
  assert.equal(field('jevt.rawtime').extract(e), String(T0));
});

test('json.obj / jevt.obj pretty-print the event, json.rawtime / jevt.rawtime give the ns time', () => {
  const raw = { auditID: 'a', list: [], obj: {}, nested: { a: [1, 'x'] } };
  const e = event(raw);
  const expected = '{\n  "auditID": "a",\n  "list": [],\n  "obj": {},\n  "nested": {\n    "a": [\n      1,\n      "x"\n    ]\n  }\n}';
  assert.equal(field('json.obj').extract(e), expected);
  assert.equal(field('jevt.obj').extract(e), expected);
  assert.equal(field('json.rawtime').extract(e), '1714979289123456789');
  assert.equal(field('jevt.rawtime').extract(e), '1714979289123456789');
});

// ---------------------------------------------------------------------------------------------
// Generic fields

test('evt.* fields', () => {
  const e = event({ auditID: 'a', verb: 'get' }, T0);
  const text = (name: string): string => {
    const r = field(name);
    const v = r.extract(e);
    return r.toText ? r.toText(v) : String(v);
  };
  const json = (name: string): unknown => {
    const r = field(name);
    const v = r.extract(e);
    return r.toJson ? r.toJson(v) : v;
  };
  assert.equal(field('evt.time').type, 'abstime');
  assert.equal(field('evt.time').extract(e), T0);
  assert.equal(text('evt.time'), '07:08:09.123456789');
  assert.equal(json('evt.time'), T0);
  assert.equal(text('evt.time.s'), '07:08:09');
  assert.equal(json('evt.time.s'), T0);
  assert.equal(text('evt.time.iso8601'), '2024-05-06T07:08:09.123456789Z');
  assert.equal(text('evt.datetime'), '2024-05-06 07:08:09.123456789');
  assert.equal(text('evt.datetime.s'), '2024-05-06 07:08:09');
  assert.equal(field('evt.rawtime').extract(e), 1714979289123456789n);
  assert.equal(field('evt.rawtime.s').extract(e), 1714979289);
  assert.equal(field('evt.rawtime.ns').extract(e), 123456789);
  const small = event({ auditID: 'a' }, 1_000_000_005n);
  const ns = field('evt.rawtime.ns');
  assert.equal(ns.extract(small), 5);
  assert.equal(ns.toText!(ns.extract(small)), '000000005');
  assert.equal(field('evt.time').toText!(field('evt.time').extract(small)), '00:00:01.000000005');
  assert.equal(field('evt.source').extract(e), 'k8s_audit');
  assert.equal(field('evt.pluginname').extract(e), 'k8saudit');
  assert.equal(field('evt.plugininfo').extract(e), '{"auditID":"a","verb":"get"}');
  assert.equal(field('evt.is_async').extract(e), false);
  assert.equal(field('evt.is_async').type, 'bool');
  assert.equal(field('evt.asynctype').extract(e), undefined);
  // evt.num: assigned by the engine
  assert.equal(field('evt.num').extract(e), undefined);
  e.num = 17;
  assert.equal(field('evt.num').extract(e), 17);
  // evt.hostname: the host's name unless overridden
  const before = getHostname();
  assert.equal(field('evt.hostname').extract(e), before);
  setHostname('oracle');
  try {
    assert.equal(field('evt.hostname').extract(e), 'oracle');
  } finally {
    setHostname(before);
  }
});

test('vigil.<label> fields read the enrichment labels', () => {
  const e = new AuditEvent({ auditID: 'a' }, T0, { cluster: 'prod', region: 'eu-west-1', team: 'payments' });
  const dotted = field('vigil.cluster');
  assert.equal(dotted.text, 'vigil.cluster');
  assert.equal(dotted.arg, 'cluster');
  assert.equal(dotted.type, 'string');
  assert.equal(dotted.extract(e), 'prod');
  assert.equal(field('vigil.region').extract(e), 'eu-west-1');
  assert.equal(field('vigil', 'team').extract(e), 'payments');
  assert.equal(field('vigil', 'team').text, 'vigil[team]');
  assert.equal(field('vigil.owner').extract(e), undefined);
  assert.equal(field('vigil.toString').extract(e), undefined);
  assert.equal(field('vigil.cluster').extract(event({ auditID: 'a' })), undefined);
});

// ---------------------------------------------------------------------------------------------
// What Falco 0.44.1 printed for the real traces

test('matches Falco 0.44.1 output_fields on every oracle alert', { skip: !HAVE_ORACLE && 'oracle or traces missing' }, () => {
  let alerts = 0, checked = 0;
  for (const f of readdirSync(ORACLE).filter((n) => n.endsWith('.all.jsonl')).sort()) {
    const trace = f.replace(/\.all\.jsonl$/, '.json');
    const events = [...decodeAuditText(readFileSync(join(TRACES, trace), 'utf8'), trace)].filter((e): e is AuditEvent => e instanceof AuditEvent);
    for (const line of readFileSync(join(ORACLE, f), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      alerts++;
      const alert = JSON.parse(line) as { rule: string; output_fields: Record<string, unknown> };
      // evt.time exceeds 2^53: read it from the text
      const time = BigInt(/"evt\.time":(\d+)/.exec(line)![1]!);
      const candidates = events.filter((e) => e.timeNs === time);
      assert.ok(candidates.length > 0, `${f}: no event at ${time}`);
      const mismatches: string[] = [];
      const ok = candidates.some((ev) => {
        mismatches.length = 0;
        for (const [key, want] of Object.entries(alert.output_fields)) {
          const m = /^([^[]+)(?:\[(.*)\])?$/.exec(key)!;
          const r = field(m[1]!, m[2]);
          const v = r.extract(ev);
          if (key === 'evt.time') {
            if (r.toJson!(v) !== time) mismatches.push(key);
            continue;
          }
          checked++;
          try {
            assert.deepEqual(v ?? null, want);
          } catch {
            mismatches.push(`${key}: got ${JSON.stringify(v)} want ${JSON.stringify(want)}`);
          }
        }
        return mismatches.length === 0;
      });
      assert.ok(ok, `${f} rule ${alert.rule}: ${mismatches.join('; ')}`);
    }
  }
  assert.equal(alerts, 66);
  assert.ok(checked >= 384, `checked ${checked} values`);
});
