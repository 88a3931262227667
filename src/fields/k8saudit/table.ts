/**
 * Field table of the `k8s_audit` source: the fields of Falco's k8saudit plugin (`ka.*`), of its
 * json plugin (`json.*`, `jevt.*`), the generic `evt.*` fields and Vigil's `vigil.<label>`.
 *
 * Faithful to Falco (k8saudit plugin 0.18.0, json plugin 0.7.4, as run by Falco 0.44.1):
 * - every ka/json field is a string (lists are arrays of strings); JSON strings are returned
 *   as-is, any other JSON value as its compact JSON text (`201`, `true`, `{"a":1}`);
 * - ka.* fields are only extracted from events whose top-level object has an `auditID`;
 * - list fields walk arrays the way the plugin does: along a path, every array met before
 *   the last key is expanded (or, with an index argument, only element N of the FIRST array
 *   is kept; out of range means missing); a value that is itself an array at the END of the
 *   path is not expanded. Hence `ka.req.service.ports` is ONE element holding the whole ports
 *   array as JSON text, with or without an index, exactly as Falco prints it;
 * - an extraction error in the plugin (a container without image/name, a `ports` that is not
 *   an array, a non-array `user.groups`, ...) makes the field missing (undefined);
 * - a list that comes out empty is missing too: libsinsp treats a plugin extraction with no
 *   values as "not extracted" (so `exists` is false and outputs print <NA>);
 * - upstream quirks kept: `ka.sourceips` reads `/requestObject/rules/*\/sourceIPs`,
 *   `*.eff_run_as_user|group` read `containers[*].runAsUser|Group` (not the securityContext)
 *   and default to `/requestObject/spec/runAsUser|Group`, then "0";
 *   `ka.req.binding.subject.has_name[...]` is always "true"; `ka.req.volume.hostpath[p*]`
 *   prefix-matches, `[p]` compares, and yields "true"/"false".
 * Known differences: compact JSON text is JSON.stringify of the parsed value, so numbers print
 * as JS prints them (`1.0` becomes `1`, huge integers lose digits), escapes are JSON.stringify's
 * (Go's encoder writes `<` as `\u003c`, fastjson would echo that text) and object keys that look
 * like array indexes come first. Duplicate keys keep the last value (fastjson: the first).
 *
 * Everything is resolved once (paths split, arguments checked) and extraction computes straight
 * from `ev.raw` when a rule asks; nothing is done per event ahead of time.
 */
import type { FieldInfo, FieldTable, ResolvedField, FieldError } from '../types.ts';
import type { AuditEvent } from '../../events/k8saudit.ts';
import { genericEventFields, LABEL_FIELD_INFO, labelExtractor, dottedLabel, type FieldDef } from '../generic.ts';

type Extractor = (ev: AuditEvent) => unknown;
type RawExtractor = (raw: Record<string, unknown>, ev: AuditEvent) => unknown;

interface Def {
  info: FieldInfo;
  /** Build the extractor for a validated argument (undefined when none was given). */
  bind(arg: string | undefined): Extractor;
  toText?(v: unknown): string;
  toJson?(v: unknown): unknown;
}

// ---------------------------------------------------------------------------------------------
// JSON access, fastjson style

/** Member of an object or element of an array (key is a decimal index), else undefined. */
function child(v: unknown, key: string): unknown {
  if (v === null || typeof v !== 'object') return undefined;
  if (Array.isArray(v)) {
    if (!/^[+-]?\d+$/.test(key)) return undefined;
    const n = Number(key);
    return n >= 0 && n < v.length ? v[n] : undefined;
  }
  const x = (v as Record<string, unknown>)[key];
  // Inherited members (`constructor`, `toString`, `__proto__`) are not JSON.
  if (typeof x === 'function' || x === Object.prototype) return undefined;
  return x;
}

function getPath(v: unknown, keys: readonly string[]): unknown {
  for (let i = 0; i < keys.length && v !== undefined; i++) v = child(v, keys[i]!);
  return v;
}

/** Strings as they are; anything else as compact JSON text. */
function str(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function nonEmpty(a: string[]): string[] | undefined {
  return a.length > 0 ? a : undefined;
}

/**
 * Walk `keys` from `v`, expanding arrays met before a key: every element with index < 0,
 * element `index` otherwise. Appends one entry per leaf (undefined where an element lacks the
 * rest of the path). Returns false when the path is not available at all.
 */
function collect(v: unknown, keys: readonly string[], i: number, index: number, out: unknown[]): boolean {
  for (; i < keys.length; i++) {
    if (Array.isArray(v)) {
      if (index < 0) {
        for (let k = 0; k < v.length; k++) {
          const before = out.length;
          if (!collect(v[k], keys, i, index, out)) {
            out.length = before;
            out.push(undefined);
          }
        }
        return true;
      }
      if (index >= v.length) return false;
      v = v[index];
    }
    const key = keys[i]!;
    if (key !== '') v = child(v, key);
    if (v === undefined) return false;
  }
  out.push(v);
  return true;
}

function values(raw: unknown, keys: readonly string[], index: number): unknown[] | undefined {
  const out: unknown[] = [];
  return collect(raw, keys, 0, index, out) ? out : undefined;
}

function indexOf(arg: string | undefined): number {
  return arg === undefined ? -1 : Number(arg);
}

// ---------------------------------------------------------------------------------------------
// Extraction kinds

/** Value at a fixed path. */
function scalarAt(keys: readonly string[]): RawExtractor {
  return (raw) => {
    const v = getPath(raw, keys);
    return v === undefined ? undefined : str(v);
  };
}

/** Array at a fixed path, elements as strings; not an array = error. */
function arrayAt(keys: readonly string[]): RawExtractor {
  return (raw) => {
    const v = getPath(raw, keys);
    if (!Array.isArray(v)) return undefined;
    return nonEmpty(v.map(str));
  };
}

/** Leaves along the path, unset ones skipped. */
function leaves(keys: readonly string[], index: number): RawExtractor {
  return (raw) => {
    const vs = values(raw, keys, index);
    if (vs === undefined) return undefined;
    const res: string[] = [];
    for (const v of vs) if (v !== undefined) res.push(str(v));
    return nonEmpty(res);
  };
}

/** Leaves along the path; one unset leaf = error. */
function strictLeaves(keys: readonly string[], index: number): (raw: unknown) => string[] | undefined {
  return (raw) => {
    const vs = values(raw, keys, index);
    if (vs === undefined) return undefined;
    const res: string[] = [];
    for (const v of vs) {
      if (v === undefined) return undefined;
      res.push(str(v));
    }
    return nonEmpty(res);
  };
}

/** Image without tag or digest, the plugin's way: cut at the first ':' then at the first '@'. */
function repository(image: string): string {
  let c = image.indexOf(':');
  if (c >= 0) image = image.slice(0, c);
  c = image.indexOf('@');
  return c >= 0 ? image.slice(0, c) : image;
}

/** Each container's string array joined with spaces; containers without it skipped. */
function joinedArrays(keys: readonly string[], index: number): RawExtractor {
  return (raw) => {
    const vs = values(raw, keys, index);
    if (vs === undefined) return undefined;
    const res: string[] = [];
    for (const v of vs) {
      if (v === undefined) continue;
      if (!Array.isArray(v)) return undefined;
      for (const e of v) if (typeof e !== 'string') return undefined;
      res.push(v.join(' '));
    }
    return nonEmpty(res);
  };
}

/** `eff_run_as_*`, upstream quirk included: reads `<family>[*].<key>`, default `spec.<key>`, else "0". */
function effective(family: string, key: string, index: number): RawExtractor {
  const podKeys = ['requestObject', 'spec', key];
  const keys = ['requestObject', 'spec', family, key];
  return (raw) => {
    const pod = getPath(raw, podKeys);
    const dflt = pod === undefined ? '0' : str(pod);
    const vs = values(raw, keys, index);
    if (vs === undefined) return undefined;
    return nonEmpty(vs.map((v) => (v === undefined ? dflt : str(v))));
  };
}

/** hostPort of every port, else its containerPort. */
function hostPorts(family: string, index: number): RawExtractor {
  const keys = ['requestObject', 'spec', family, 'ports'];
  return (raw) => {
    const vs = values(raw, keys, index);
    if (vs === undefined) return undefined;
    const res: string[] = [];
    for (const ports of vs) {
      if (ports === undefined) continue;
      if (!Array.isArray(ports)) return undefined;
      for (const port of ports) {
        const hp = child(port, 'hostPort');
        if (hp !== undefined) {
          res.push(str(hp));
          continue;
        }
        const cp = child(port, 'containerPort');
        if (cp !== undefined) res.push(str(cp));
      }
    }
    return nonEmpty(res);
  };
}

/** Flattened arrays under `/requestObject/rules/*\/<key>`. */
function rulesField(key: string, index: number): RawExtractor {
  const keys = ['requestObject', 'rules', key];
  return (raw) => {
    const vs = values(raw, keys, index);
    if (vs === undefined) return undefined;
    const res: string[] = [];
    for (const v of vs) if (Array.isArray(v)) for (const e of v) res.push(str(e));
    return nonEmpty(res);
  };
}

/** Names of binding subjects of one kind (`ns:name` for service accounts with a namespace). */
function subjectNames(kind: string, withNamespace: boolean): RawExtractor {
  const keys = ['requestObject', 'subjects'];
  return (raw) => {
    const subjects = getPath(raw, keys);
    if (subjects === undefined) return undefined; // present but empty: no value
    if (!Array.isArray(subjects)) return undefined;
    const res: string[] = [];
    for (const s of subjects) {
      const k = child(s, 'kind');
      if (k === undefined || str(k) !== kind) continue;
      const name = child(s, 'name');
      if (name === undefined) continue;
      if (withNamespace) {
        const ns = child(s, 'namespace');
        if (ns === undefined) continue;
        res.push(str(ns) + ':' + str(name));
      } else {
        res.push(str(name));
      }
    }
    return nonEmpty(res);
  };
}

// --- ka.uri.param: Go's url.Parse + url.ParseQuery, any error = missing

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function validEscapes(s: string): boolean {
  for (let i = s.indexOf('%'); i >= 0; i = s.indexOf('%', i + 3)) {
    if (i + 2 >= s.length || hexVal(s.charCodeAt(i + 1)) < 0 || hexVal(s.charCodeAt(i + 2)) < 0) return false;
  }
  return true;
}

/** Go's QueryUnescape: `+` is a space, `%XX` a byte; undefined on a bad escape. */
function queryUnescape(s: string): string | undefined {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  if (!validEscapes(s)) return undefined;
  if (s.indexOf('%') < 0) return s.replace(/\+/g, ' ');
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      bytes.push(hexVal(s.charCodeAt(i + 1)) * 16 + hexVal(s.charCodeAt(i + 2)));
      i += 2;
    } else if (c === 0x2b) {
      bytes.push(0x20);
    } else {
      const b = Buffer.from(s[i]! + (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? s[++i]! : ''), 'utf8');
      for (const x of b) bytes.push(x);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

// eslint-disable-next-line no-control-regex
const CTL = /[\x00-\x1f\x7f]/;

function uriParam(uri: string, name: string): string | undefined {
  if (CTL.test(uri)) return undefined;
  let rest = uri;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    if (!validEscapes(rest.slice(hash + 1))) return undefined;
    rest = rest.slice(0, hash);
  }
  const q = rest.indexOf('?');
  const path = q >= 0 ? rest.slice(0, q) : rest;
  if (!validEscapes(path)) return undefined;
  if (q < 0) return undefined;
  const query = rest.slice(q + 1);
  let found: string | undefined;
  for (const part of query.split('&')) {
    if (part === '') continue;
    if (part.indexOf(';') >= 0) return undefined; // Go rejects ';' separators: the whole parse fails
    const eq = part.indexOf('=');
    const k = queryUnescape(eq >= 0 ? part.slice(0, eq) : part);
    const v = queryUnescape(eq >= 0 ? part.slice(eq + 1) : '');
    if (k === undefined || v === undefined) return undefined;
    if (found === undefined && k === name) found = v;
  }
  return found;
}

// --- json.value pointers

function splitPointer(ptr: string): string[] {
  const p = ptr.charCodeAt(0) === 0x2f ? ptr.slice(1) : ptr;
  return p.split('/').map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
}

// ---------------------------------------------------------------------------------------------
// The ka.* / json.* field list

const DESCRIPTIONS: Record<string, string> = {
  'ka.auditid': 'Unique id of the audit event.',
  'ka.stage': 'Audit stage of the event (RequestReceived, ResponseStarted, ResponseComplete, Panic).',
  'ka.auth.decision': 'Authorization decision annotation set by the API server (e.g. allow, forbid).',
  'ka.auth.reason': 'Authorization reason annotation (e.g. which RBAC binding allowed the request).',
  'ka.auth.openshift.decision': 'OpenShift authentication decision annotation; only present on OpenShift clusters.',
  'ka.validations.admission.policy.failure': 'Failure annotation written by a ValidatingAdmissionPolicy.',
  'ka.security.pod.violations': 'Pod Security admission audit-violations annotation.',
  'ka.auth.openshift.username': 'User name from the OpenShift authentication annotation; only on OpenShift.',
  'ka.user.name': 'Name of the authenticated user who made the request.',
  'ka.user.groups': 'Groups the requesting user belongs to.',
  'ka.impuser.name': 'Name of the impersonated user, when impersonation was used.',
  'ka.verb': 'API verb of the request (get, list, create, update, patch, delete, ...).',
  'ka.uri': 'Request URI as sent by the client, including the query string.',
  'ka.uri.param': 'Value of one query parameter of the request URI, e.g. ka.uri.param[container].',
  'ka.target.name': 'Name of the object the request targets.',
  'ka.target.namespace': 'Namespace of the target object.',
  'ka.target.resource': 'Resource type of the target object (pods, secrets, clusterroles, ...).',
  'ka.target.subresource': 'Subresource of the target (exec, attach, portforward, status, ...).',
  'ka.target.pod.name': 'Name of the pod in the response object, for plain pod requests.',
  'ka.req.binding.subjects': 'Subjects (users, groups, service accounts) of a (cluster) role binding in the request.',
  'ka.req.binding.subjects.user_names': 'User names bound by a (cluster) role binding.',
  'ka.req.binding.subjects.serviceaccount_names': 'Service account names bound by a (cluster) role binding.',
  'ka.req.binding.subjects.serviceaccount_ns_names': 'Namespace-qualified service accounts bound by a binding, formatted namespace:name.',
  'ka.req.binding.subjects.group_names': 'Group names bound by a (cluster) role binding.',
  'ka.req.binding.role': 'Name of the role referenced by a binding (roleRef.name).',
  'ka.req.binding.subject.has_name': 'Deprecated compatibility field; do not use.',
  'ka.req.configmap.name': 'Name of the configmap targeted by the request (same source as ka.target.name).',
  'ka.req.configmap.obj': 'The data section of the configmap in the request, as JSON text.',
  'ka.req.container.image': 'Deprecated: image of the first container only.',
  'ka.req.container.image.repository': 'Deprecated: image repository of the first container only.',
  'ka.req.pod.host_ipc': 'hostIPC flag of the pod spec in the request.',
  'ka.req.pod.host_network': 'hostNetwork flag of the pod spec in the request.',
  'ka.req.container.host_network': 'Deprecated alias of ka.req.pod.host_network.',
  'ka.req.pod.host_pid': 'hostPID flag of the pod spec in the request.',
  'ka.req.container.privileged': 'Deprecated: true when any regular container is privileged.',
  'ka.req.pod.run_as_user': 'Pod-level securityContext.runAsUser.',
  'ka.req.pod.run_as_group': 'Pod-level securityContext.runAsGroup.',
  'ka.req.role.rules': 'Rules of a Role/ClusterRole in the request, one JSON text per rule.',
  'ka.req.role.rules.apiGroups': 'API groups named in the rules of a Role/ClusterRole (flattened).',
  'ka.req.role.rules.nonResourceURLs': 'Non-resource URLs named in the role rules (flattened).',
  'ka.req.role.rules.verbs': 'Verbs granted by the role rules (flattened).',
  'ka.req.role.rules.resources': 'Resources named in the role rules (flattened).',
  'ka.req.pod.fs_group': 'Pod-level securityContext.fsGroup.',
  'ka.req.pod.supplemental_groups': 'Pod-level securityContext.supplementalGroups.',
  'ka.req.service.type': 'Type of the Service in the request (ClusterIP, NodePort, LoadBalancer, ...).',
  'ka.req.service.ports': 'Ports of the Service in the request, one JSON text per port.',
  'ka.req.pod.volumes.hostpath': 'hostPath paths of all pod volumes.',
  'ka.req.volume.hostpath': 'Deprecated: "true" if any hostPath volume matches the given path (prefix match with trailing *).',
  'ka.req.pod.volumes.flexvolume_driver': 'flexVolume drivers of all pod volumes.',
  'ka.req.pod.volumes.volume_type': 'Volume types (the volume source keys) of all pod volumes.',
  'ka.resp.name': 'Name of the object in the response.',
  'ka.response.code': 'HTTP response status code.',
  'ka.response.reason': 'Response status reason (usually only on failures).',
  'ka.useragent': 'User agent of the client.',
  'ka.sourceips': 'Intended: client source IP addresses of the request.',
  'ka.cluster.name': 'Cluster name from the cluster_name annotation (set by some managed k8s distributions / forwarders).',
  'ka.req.pod.containers.name': 'For pod requests: names of the regular containers.',
  'ka.req.pod.containers.image': 'For pod requests: images of the regular containers.',
  'ka.req.pod.containers.image.repository': 'For pod requests: image repositories (image without tag/digest) of the regular containers.',
  'ka.req.pod.containers.command': 'For pod requests: commands of the regular containers.',
  'ka.req.pod.containers.args': 'For pod requests: args of the regular containers.',
  'ka.req.pod.containers.privileged': 'For pod requests: privileged flags of the regular containers.',
  'ka.req.pod.containers.allow_privilege_escalation': 'For pod requests: allowPrivilegeEscalation flags of the regular containers.',
  'ka.req.pod.containers.read_only_fs': 'For pod requests: readOnlyRootFilesystem flags of the regular containers.',
  'ka.req.pod.containers.run_as_user': 'For pod requests: runAsUser uids of the regular containers.',
  'ka.req.pod.containers.eff_run_as_user': 'For pod requests: effective uid per container (intended: container securityContext, else pod securityContext, else 0) of the regular containers.',
  'ka.req.pod.containers.run_as_group': 'For pod requests: runAsGroup gids of the regular containers.',
  'ka.req.pod.containers.eff_run_as_group': 'For pod requests: effective gid per container of the regular containers.',
  'ka.req.pod.containers.proc_mount': 'For pod requests: procMount types of the regular containers.',
  'ka.req.pod.containers.add_capabilities': 'For pod requests: added capabilities (one JSON array text per container) of the regular containers.',
  'ka.req.pod.containers.host_port': 'For pod requests: host ports (containerPort used when hostPort is absent) of the regular containers.',
  'ka.req.pod.initContainers.name': 'For pod requests: names of the init containers.',
  'ka.req.pod.initContainers.image': 'For pod requests: images of the init containers.',
  'ka.req.pod.initContainers.image.repository': 'For pod requests: image repositories (image without tag/digest) of the init containers.',
  'ka.req.pod.initContainers.command': 'For pod requests: commands of the init containers.',
  'ka.req.pod.initContainers.args': 'For pod requests: args of the init containers.',
  'ka.req.pod.initContainers.privileged': 'For pod requests: privileged flags of the init containers.',
  'ka.req.pod.initContainers.allow_privilege_escalation': 'For pod requests: allowPrivilegeEscalation flags of the init containers.',
  'ka.req.pod.initContainers.read_only_fs': 'For pod requests: readOnlyRootFilesystem flags of the init containers.',
  'ka.req.pod.initContainers.run_as_user': 'For pod requests: runAsUser uids of the init containers.',
  'ka.req.pod.initContainers.eff_run_as_user': 'For pod requests: effective uid per container (intended: container securityContext, else pod securityContext, else 0) of the init containers.',
  'ka.req.pod.initContainers.run_as_group': 'For pod requests: runAsGroup gids of the init containers.',
  'ka.req.pod.initContainers.eff_run_as_group': 'For pod requests: effective gid per container of the init containers.',
  'ka.req.pod.initContainers.proc_mount': 'For pod requests: procMount types of the init containers.',
  'ka.req.pod.initContainers.add_capabilities': 'For pod requests: added capabilities (one JSON array text per container) of the init containers.',
  'ka.req.pod.initContainers.host_port': 'For pod requests: host ports (containerPort used when hostPort is absent) of the init containers.',
  'ka.req.pod.ephemeralContainers.name': 'For pod requests: names of the ephemeral containers.',
  'ka.req.pod.ephemeralContainers.image': 'For pod requests: images of the ephemeral containers.',
  'ka.req.pod.ephemeralContainers.image.repository': 'For pod requests: image repositories (image without tag/digest) of the ephemeral containers.',
  'ka.req.pod.ephemeralContainers.command': 'For pod requests: commands of the ephemeral containers.',
  'ka.req.pod.ephemeralContainers.args': 'For pod requests: args of the ephemeral containers.',
  'ka.req.pod.ephemeralContainers.privileged': 'For pod requests: privileged flags of the ephemeral containers.',
  'ka.req.pod.ephemeralContainers.allow_privilege_escalation': 'For pod requests: allowPrivilegeEscalation flags of the ephemeral containers.',
  'ka.req.pod.ephemeralContainers.read_only_fs': 'For pod requests: readOnlyRootFilesystem flags of the ephemeral containers.',
  'ka.req.pod.ephemeralContainers.run_as_user': 'For pod requests: runAsUser uids of the ephemeral containers.',
  'ka.req.pod.ephemeralContainers.eff_run_as_user': 'For pod requests: effective uid per container (intended: container securityContext, else pod securityContext, else 0) of the ephemeral containers.',
  'ka.req.pod.ephemeralContainers.run_as_group': 'For pod requests: runAsGroup gids of the ephemeral containers.',
  'ka.req.pod.ephemeralContainers.eff_run_as_group': 'For pod requests: effective gid per container of the ephemeral containers.',
  'ka.req.pod.ephemeralContainers.proc_mount': 'For pod requests: procMount types of the ephemeral containers.',
  'ka.req.pod.ephemeralContainers.add_capabilities': 'For pod requests: added capabilities (one JSON array text per container) of the ephemeral containers.',
  'json.value': 'Value at an arbitrary JSON pointer inside the event, e.g. json.value[/stage].',
  'json.obj': 'Entire event as pretty-printed JSON text.',
  'json.rawtime': 'Event time (ns since epoch) as a string; identical to evt.rawtime.',
  'jevt.value': 'Value at an arbitrary JSON pointer inside the event, e.g. jevt.value[/stage].',
  'jevt.obj': 'Entire event as pretty-printed JSON text.',
  'jevt.rawtime': 'Event time (ns since epoch) as a string; identical to evt.rawtime.',
};

const RO_SPEC = ['requestObject', 'spec'];

function info(name: string, isList: boolean, arg: 'none' | 'index' | 'key'): FieldInfo {
  const i: FieldInfo = { name, type: 'string', description: DESCRIPTIONS[name] ?? name };
  if (isList) i.isList = true;
  if (arg === 'index') {
    i.arg = 'optional';
    i.argKind = 'index';
  } else if (arg === 'key') {
    i.arg = 'required';
    i.argKind = 'key';
  }
  return i;
}

/** ka.* fields: only on events with a top-level auditID. */
function gate(f: RawExtractor): Extractor {
  return (ev) => {
    const raw = ev.raw;
    return raw.auditID === undefined ? undefined : f(raw, ev);
  };
}

const KA: Def[] = [];

function ka(name: string, isList: boolean, arg: 'none' | 'index' | 'key', make: (arg: string | undefined) => RawExtractor): void {
  KA.push({ info: info(name, isList, arg), bind: (a) => gate(make(a)) });
}

function kaScalar(name: string, ...keys: string[]): void {
  const f = scalarAt(keys);
  ka(name, false, 'none', () => f);
}

function kaArray(name: string, ...keys: string[]): void {
  const f = arrayAt(keys);
  ka(name, true, 'none', () => f);
}

kaScalar('ka.auditid', 'auditID');
kaScalar('ka.stage', 'stage');
kaScalar('ka.auth.decision', 'annotations', 'authorization.k8s.io/decision');
kaScalar('ka.auth.reason', 'annotations', 'authorization.k8s.io/reason');
kaScalar('ka.auth.openshift.decision', 'annotations', 'authentication.openshift.io/decision');
kaScalar('ka.validations.admission.policy.failure', 'annotations', 'validation.policy.admission.k8s.io/validation_failure');
kaScalar('ka.security.pod.violations', 'annotations', 'pod-security.kubernetes.io/audit-violations');
kaScalar('ka.auth.openshift.username', 'annotations', 'authentication.openshift.io/username');
kaScalar('ka.user.name', 'user', 'username');
kaArray('ka.user.groups', 'user', 'groups');
kaScalar('ka.impuser.name', 'impersonatedUser', 'username');
kaScalar('ka.verb', 'verb');
kaScalar('ka.uri', 'requestURI');
ka('ka.uri.param', false, 'key', (arg) => (raw) => {
  const uri = raw.requestURI;
  if (uri === undefined) return undefined;
  return uriParam(str(uri), arg ?? '');
});
kaScalar('ka.target.name', 'objectRef', 'name');
kaScalar('ka.target.namespace', 'objectRef', 'namespace');
kaScalar('ka.target.resource', 'objectRef', 'resource');
kaScalar('ka.target.subresource', 'objectRef', 'subresource');
ka('ka.target.pod.name', false, 'none', () => (raw) => {
  const resource = getPath(raw, ['objectRef', 'resource']);
  if (resource === undefined || str(resource) !== 'pods') return undefined;
  const sub = getPath(raw, ['objectRef', 'subresource']);
  if (sub !== undefined && str(sub) !== '') return undefined;
  const name = getPath(raw, ['responseObject', 'metadata', 'name']);
  return name === undefined ? undefined : str(name);
});
kaArray('ka.req.binding.subjects', 'requestObject', 'subjects');
ka('ka.req.binding.subjects.user_names', true, 'none', () => subjectNames('User', false));
ka('ka.req.binding.subjects.serviceaccount_names', true, 'none', () => subjectNames('ServiceAccount', false));
ka('ka.req.binding.subjects.serviceaccount_ns_names', true, 'none', () => subjectNames('ServiceAccount', true));
ka('ka.req.binding.subjects.group_names', true, 'none', () => subjectNames('Group', false));
kaScalar('ka.req.binding.role', 'requestObject', 'roleRef', 'name');
ka('ka.req.binding.subject.has_name', false, 'key', () => () => 'true');
kaScalar('ka.req.configmap.name', 'objectRef', 'name');
kaScalar('ka.req.configmap.obj', 'requestObject', 'data');
{
  const images = strictLeaves([...RO_SPEC, 'containers', 'image'], 0);
  ka('ka.req.container.image', false, 'none', () => (raw) => images(raw)?.[0]);
  ka('ka.req.container.image.repository', false, 'none', () => (raw) => {
    const first = images(raw)?.[0];
    return first === undefined ? undefined : repository(first);
  });
}
kaScalar('ka.req.pod.host_ipc', 'requestObject', 'spec', 'hostIPC');
kaScalar('ka.req.pod.host_network', 'requestObject', 'spec', 'hostNetwork');
kaScalar('ka.req.container.host_network', 'requestObject', 'spec', 'hostNetwork');
kaScalar('ka.req.pod.host_pid', 'requestObject', 'spec', 'hostPID');
{
  const keys = [...RO_SPEC, 'containers', 'securityContext', 'privileged'];
  ka('ka.req.container.privileged', false, 'none', () => (raw) => {
    const vs = values(raw, keys, -1);
    if (vs === undefined) return undefined;
    return vs.some((v) => v === true) ? 'true' : 'false';
  });
}
kaScalar('ka.req.pod.run_as_user', 'requestObject', 'spec', 'securityContext', 'runAsUser');
kaScalar('ka.req.pod.run_as_group', 'requestObject', 'spec', 'securityContext', 'runAsGroup');
kaArray('ka.req.role.rules', 'requestObject', 'rules');
for (const key of ['apiGroups', 'nonResourceURLs', 'verbs', 'resources']) {
  ka(`ka.req.role.rules.${key}`, true, 'index', (arg) => rulesField(key, indexOf(arg)));
}
kaScalar('ka.req.pod.fs_group', 'requestObject', 'spec', 'securityContext', 'fsGroup');
kaArray('ka.req.pod.supplemental_groups', 'requestObject', 'spec', 'securityContext', 'supplementalGroups');
kaScalar('ka.req.service.type', 'requestObject', 'spec', 'type');
ka('ka.req.service.ports', true, 'index', (arg) => leaves([...RO_SPEC, 'ports'], indexOf(arg)));
ka('ka.req.pod.volumes.hostpath', true, 'index', (arg) => leaves([...RO_SPEC, 'volumes', 'hostPath', 'path'], indexOf(arg)));
ka('ka.req.volume.hostpath', false, 'key', (arg) => {
  const key = arg ?? '';
  const prefix = key.endsWith('*') ? key.slice(0, -1) : undefined;
  const keys = [...RO_SPEC, 'volumes', 'hostPath', 'path'];
  return (raw) => {
    const vs = values(raw, keys, -1);
    if (vs === undefined) return undefined;
    for (const v of vs) {
      if (v === undefined) continue;
      const p = str(v);
      if ((prefix !== undefined && p.startsWith(prefix)) || p === key) return 'true';
    }
    return 'false';
  };
});
ka('ka.req.pod.volumes.flexvolume_driver', true, 'index', (arg) => leaves([...RO_SPEC, 'volumes', 'flexVolume', 'driver'], indexOf(arg)));
ka('ka.req.pod.volumes.volume_type', true, 'index', (arg) => {
  const keys = [...RO_SPEC, 'volumes', ''];
  const index = indexOf(arg);
  return (raw) => {
    const vs = values(raw, keys, index);
    if (vs === undefined) return undefined;
    const res: string[] = [];
    for (const v of vs) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) continue;
      for (const k of Object.keys(v)) if (k !== 'name') res.push(k);
    }
    return nonEmpty(res);
  };
});
kaScalar('ka.resp.name', 'responseObject', 'metadata', 'name');
kaScalar('ka.response.code', 'responseStatus', 'code');
kaScalar('ka.response.reason', 'responseStatus', 'reason');
kaScalar('ka.useragent', 'userAgent');
ka('ka.sourceips', true, 'index', (arg) => rulesField('sourceIPs', indexOf(arg)));
kaScalar('ka.cluster.name', 'annotations', 'cluster_name');

for (const family of ['containers', 'initContainers', 'ephemeralContainers']) {
  const p = `ka.req.pod.${family}.`;
  const at = (...rest: string[]): string[] => [...RO_SPEC, family, ...rest];
  const strictList = (key: string) => (arg: string | undefined): RawExtractor => {
    const f = strictLeaves(at(key), indexOf(arg));
    return (raw) => f(raw);
  };
  ka(p + 'name', true, 'index', strictList('name'));
  ka(p + 'image', true, 'index', strictList('image'));
  ka(p + 'image.repository', true, 'index', (arg) => {
    const f = strictLeaves(at('image'), indexOf(arg));
    return (raw) => f(raw)?.map(repository);
  });
  ka(p + 'command', true, 'index', (arg) => joinedArrays(at('command'), indexOf(arg)));
  ka(p + 'args', true, 'index', (arg) => joinedArrays(at('args'), indexOf(arg)));
  ka(p + 'privileged', true, 'index', (arg) => leaves(at('securityContext', 'privileged'), indexOf(arg)));
  ka(p + 'allow_privilege_escalation', true, 'index', (arg) => leaves(at('securityContext', 'allowPrivilegeEscalation'), indexOf(arg)));
  ka(p + 'read_only_fs', true, 'index', (arg) => leaves(at('securityContext', 'readOnlyRootFilesystem'), indexOf(arg)));
  ka(p + 'run_as_user', true, 'index', (arg) => leaves(at('securityContext', 'runAsUser'), indexOf(arg)));
  ka(p + 'eff_run_as_user', true, 'index', (arg) => effective(family, 'runAsUser', indexOf(arg)));
  ka(p + 'run_as_group', true, 'index', (arg) => leaves(at('securityContext', 'runAsGroup'), indexOf(arg)));
  ka(p + 'eff_run_as_group', true, 'index', (arg) => effective(family, 'runAsGroup', indexOf(arg)));
  ka(p + 'proc_mount', true, 'index', (arg) => leaves(at('securityContext', 'procMount'), indexOf(arg)));
  ka(p + 'add_capabilities', true, 'index', (arg) => leaves(at('securityContext', 'capabilities', 'add'), indexOf(arg)));
  // Ephemeral containers may not declare ports: no host_port field for them.
  if (family !== 'ephemeralContainers') ka(p + 'host_port', true, 'index', (arg) => hostPorts(family, indexOf(arg)));
}

// json plugin fields (not gated on auditID)
for (const prefix of ['json', 'jevt']) {
  KA.push({
    info: info(prefix + '.value', false, 'key'),
    bind: (arg) => {
      if (arg === undefined || arg === '') return (ev) => str(ev.raw);
      const keys = splitPointer(arg);
      return (ev) => {
        const v = getPath(ev.raw, keys);
        return v === undefined ? undefined : str(v);
      };
    },
  });
  KA.push({ info: info(prefix + '.obj', false, 'none'), bind: () => (ev) => JSON.stringify(ev.raw, null, 2) });
  KA.push({ info: info(prefix + '.rawtime', false, 'none'), bind: () => (ev) => String(ev.timeNs) });
}

// ---------------------------------------------------------------------------------------------
// The table

function fromGeneric(d: FieldDef<AuditEvent>): Def {
  const def: Def = { info: d.info, bind: () => d.extract };
  if (d.toText) def.toText = d.toText;
  if (d.toJson) def.toJson = d.toJson;
  return def;
}

const GENERIC: Def[] = genericEventFields<AuditEvent>('k8s_audit', {
  pluginName: 'k8saudit',
  // The plugin prints an event as its JSON data.
  pluginInfo: (ev) => JSON.stringify(ev.raw),
}).map(fromGeneric);

const LABEL: Def = { info: LABEL_FIELD_INFO, bind: (arg) => labelExtractor(arg ?? '') };

const ALL: Def[] = [...GENERIC, ...KA, LABEL];
const BY_NAME = new Map<string, Def>(ALL.map((d) => [d.info.name, d]));
const INFOS: readonly FieldInfo[] = ALL.map((d) => d.info);

function validIndex(arg: string): string | undefined {
  if (arg.length === 0) return 'has an invalid index argument starting with 0';
  if (!/^\d+$/.test(arg)) return 'has an invalid index argument not composed only by digits';
  if (arg.length > 1 && arg[0] === '0') return 'has an invalid index argument starting with 0';
  return undefined;
}

function resolve(name: string, arg: string | undefined): ResolvedField<AuditEvent> | FieldError {
  let def = BY_NAME.get(name);
  let text = arg === undefined ? name : `${name}[${arg}]`;
  if (def === undefined) {
    const label = dottedLabel(name);
    if (label === undefined || arg !== undefined) {
      return { error: 'filter_check called with nonexistent field ' + name };
    }
    def = LABEL;
    arg = label;
    text = name;
  }
  const i = def.info;
  const mode = i.arg ?? 'none';
  if (arg === undefined) {
    if (mode === 'required') return { error: `filter '${text}': ${i.name} requires an argument but none provided` };
  } else {
    if (mode === 'none') {
      return { error: `filter '${text}': ${i.name} does not allow nor require an argument but one is provided: ${arg}` };
    }
    if (i.argKind === 'index') {
      const bad = validIndex(arg);
      if (bad !== undefined) return { error: `filter ${text} ${i.name} ${bad}: ${arg}` };
    }
  }
  const r: ResolvedField<AuditEvent> = {
    info: i,
    text,
    type: i.type,
    isList: i.isList === true,
    extract: def.bind(arg),
  };
  if (arg !== undefined) r.arg = arg;
  if (def.toText) r.toText = def.toText;
  if (def.toJson) r.toJson = def.toJson;
  return r;
}

export const k8sAuditFields: FieldTable<AuditEvent> = {
  source: 'k8s_audit',
  fields: () => INFOS,
  resolve,
};
