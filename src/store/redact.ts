/**
 * Secret payloads never reach storage. Before an audit event is written, the values of
 * Secret objects in its request and response bodies are replaced by a marker; the keys stay,
 * so an investigator still sees which keys a request touched.
 *
 * What counts as a Secret payload:
 * - any object with `kind: "Secret"` inside `requestObject` or `responseObject`, at any depth
 *   (a Secret, a SecretList's items, a List holding a Secret): its `data` and `stringData`
 *   values, and its `kubectl.kubernetes.io/last-applied-configuration` annotation (which
 *   holds the whole Secret as JSON text);
 * - for requests on the `secrets` resource, also the bodies that carry no `kind`: a merge or
 *   strategic patch (`{"data": {...}}`, `{"stringData": {...}}`) and a JSON patch
 *   (`[{"op": "add", "path": "/data/x", "value": "..."}]`: `value` of every operation whose
 *   path is under `/data`, `/stringData` or the last-applied annotation, or is `/`);
 * - any JSON pointer configured in `extraPointers` (`/requestObject/spec/token`; `*` matches
 *   every key or array element at that level): the value there is replaced whole.
 *
 * The event is never modified in place: objects on the path to a redacted value are copied,
 * everything else is shared. An event that needs nothing is returned as is (the fast path:
 * audit events of other resources at Metadata level have no bodies at all).
 */

export const REDACTED = '[REDACTED by vigil]';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export interface RedactOptions {
  /** Extra JSON pointers to redact (RFC 6901, with `*` as a wildcard segment). */
  extraPointers?: readonly string[];
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Replace every value of a data map by the marker, keys kept; other shapes replaced whole. */
function redactMap(v: unknown): unknown {
  if (!isObj(v)) return REDACTED;
  const out: Obj = {};
  for (const k of Object.keys(v)) out[k] = REDACTED;
  return out;
}

/** A Secret object with its payload redacted (copy), or the same object when it has none. */
function redactSecretObject(o: Obj, force: boolean): Obj {
  let out: Obj | undefined;
  const set = (k: string, v: unknown): void => {
    out ??= { ...o };
    out[k] = v;
  };
  if (force || o.kind === 'Secret') {
    if (o.data !== undefined) set('data', redactMap(o.data));
    if (o.stringData !== undefined) set('stringData', redactMap(o.stringData));
    const meta = o.metadata;
    if (isObj(meta) && isObj(meta.annotations) && meta.annotations[LAST_APPLIED] !== undefined) {
      set('metadata', { ...meta, annotations: { ...meta.annotations, [LAST_APPLIED]: REDACTED } });
    }
  }
  return out ?? o;
}

/** Walk a body: redact every Secret inside it. Returns the same value when nothing changed. */
function redactBody(v: unknown, depth: number): unknown {
  if (depth > 64 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x === null || typeof x !== 'object') continue;
      const y = redactBody(x, depth + 1);
      if (y !== x) {
        out ??= v.slice();
        out[i] = y;
      }
    }
    return out ?? v;
  }
  const o = v as Obj;
  let cur = o.kind === 'Secret' ? redactSecretObject(o, false) : o;
  for (const k of Object.keys(cur)) {
    if (cur.kind === 'Secret' && (k === 'data' || k === 'stringData')) continue;
    const x = cur[k];
    if (x === null || typeof x !== 'object') continue;
    const y = redactBody(x, depth + 1);
    if (y !== x) {
      if (cur === o) cur = { ...o };
      cur[k] = y;
    }
  }
  return cur;
}

/** The value a JSON patch operation on a Secret writes at `path`, redacted. */
function redactPatchValue(path: string, v: unknown): unknown {
  if (/^\/(data|stringData)\/?$/.test(path)) return redactMap(v);
  if (/^\/(data|stringData)\//.test(path)) return REDACTED;
  if (path === '' || path === '/') return isObj(v) ? redactSecretObject(v, true) : REDACTED;
  if (path === '/metadata/annotations/' + LAST_APPLIED.replace(/\//g, '~1')) return REDACTED;
  if (path === '/metadata/annotations' && isObj(v) && v[LAST_APPLIED] !== undefined) return { ...v, [LAST_APPLIED]: REDACTED };
  if (path === '/metadata' && isObj(v)) return redactSecretObject({ metadata: v }, true).metadata;
  return v;
}

/** A body sent to the `secrets` resource without a kind: a patch of some sort. */
function redactSecretRequest(body: unknown): unknown {
  if (Array.isArray(body)) {
    // JSON patch: redact the value of operations that write the payload.
    let out: unknown[] | undefined;
    body.forEach((op, i) => {
      if (!isObj(op) || typeof op.path !== 'string' || op.value === undefined) return;
      const value = redactPatchValue(op.path, op.value);
      if (value !== op.value) {
        out ??= body.slice();
        out[i] = { ...op, value };
      }
    });
    return out ?? body;
  }
  if (isObj(body)) return redactSecretObject(body, true);
  return body;
}

function splitPointer(p: string): string[] {
  if (p === '') return [];
  const s = p.startsWith('/') ? p.slice(1) : p;
  return s.split('/').map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Replace the value(s) at a pointer (with `*` wildcards); same value back when nothing is there. */
function redactPointer(v: unknown, keys: readonly string[], i: number): unknown {
  if (i === keys.length) return REDACTED;
  if (v === null || typeof v !== 'object') return v;
  const key = keys[i]!;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    const idx = key === '*' ? v.map((_, j) => j) : /^\d+$/.test(key) && Number(key) < v.length ? [Number(key)] : [];
    for (const j of idx) {
      const y = redactPointer(v[j], keys, i + 1);
      if (y !== v[j]) {
        out ??= v.slice();
        out[j] = y;
      }
    }
    return out ?? v;
  }
  const o = v as Obj;
  let out: Obj | undefined;
  for (const k of key === '*' ? Object.keys(o) : Object.prototype.hasOwnProperty.call(o, key) ? [key] : []) {
    const y = redactPointer(o[k], keys, i + 1);
    if (y !== o[k]) {
      out ??= { ...o };
      out[k] = y;
    }
  }
  return out ?? o;
}

export interface Redactor {
  /**
   * The event with Secret payloads (and configured pointers) redacted; the same object when
   * clean. `text`, the event's JSON text when the caller has it, lets clean events skip the
   * walk through their bodies: a body can only hold a Secret if the text says `Secret` (or
   * escapes characters with `\u`, which could spell it), or the event is about `secrets`.
   */
  (raw: Obj, text?: string): Obj;
}

/** Decide once what to redact; the returned function does only that per event. */
export function makeRedactor(opts: RedactOptions = {}): Redactor {
  const pointers = (opts.extraPointers ?? []).map(splitPointer).filter((k) => k.length > 0);
  return (raw, text) => {
    let out = raw;
    const isSecrets = isObj(raw.objectRef) && raw.objectRef.resource === 'secrets';
    const walk = isSecrets || text === undefined || text.includes('Secret') || text.includes('\\u');
    if (walk) for (const part of ['requestObject', 'responseObject'] as const) {
      const body = out[part];
      if (body === null || typeof body !== 'object') continue;
      let red = redactBody(body, 0);
      if (isSecrets && part === 'requestObject') red = redactSecretRequest(red);
      if (isSecrets && part === 'responseObject' && isObj(red) && red.kind === undefined) red = redactSecretObject(red, true);
      if (red !== body) {
        if (out === raw) out = { ...raw };
        out[part] = red;
      }
    }
    for (const keys of pointers) {
      const red = redactPointer(out, keys, 0) as Obj;
      if (red !== out) out = red;
    }
    return out;
  };
}

/** With the default options. */
export const redactEvent: Redactor = makeRedactor();
