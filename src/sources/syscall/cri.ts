/**
 * A minimal CRI client: `runtime.v1.RuntimeService/ContainerStatus` (verbose) over gRPC on the
 * runtime's unix socket (containerd, CRI-O), for the container and pod metadata Falco's container
 * plugin reports. No dependencies: HTTP/2 from node, and the few protobuf messages involved are
 * decoded by hand (field numbers from the CRI API, k8s.io/cri-api runtime/v1/api.proto).
 *
 * gRPC framing: each message is 1 byte (compressed = 0), 4 bytes big-endian length, payload.
 * The call fails on a non-zero `grpc-status`, on a timeout, or when the socket does not answer.
 */
import http2 from 'node:http2';
import { existsSync } from 'node:fs';
import net from 'node:net';
import type { ContainerMeta } from '../../events/syscall.ts';

/** Sockets tried in order, as the container plugin does. */
export const DEFAULT_CRI_SOCKETS = [
  '/run/containerd/containerd.sock',
  '/run/crio/crio.sock',
  '/run/k3s/containerd/containerd.sock',
  '/var/run/containerd/containerd.sock',
  '/var/run/crio/crio.sock',
];

// ---------------------------------------------------------------------------------------------
// Protobuf, just enough

type PbValue = bigint | Buffer;
type PbFields = Map<number, PbValue[]>;

function readVarint(b: Buffer, pos: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= b.length) throw new Error('truncated varint');
    const x = b[pos++]!;
    v |= BigInt(x & 0x7f) << shift;
    if ((x & 0x80) === 0) return [v, pos];
    shift += 7n;
    if (shift > 70n) throw new Error('varint too long');
  }
}

export function pbDecode(b: Buffer): PbFields {
  const out: PbFields = new Map();
  let pos = 0;
  while (pos < b.length) {
    const [key, p1] = readVarint(b, pos);
    pos = p1;
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    let v: PbValue;
    if (wire === 0) {
      [v, pos] = readVarint(b, pos);
    } else if (wire === 1) {
      v = b.readBigUInt64LE(pos);
      pos += 8;
    } else if (wire === 2) {
      const [len, p2] = readVarint(b, pos);
      const end = p2 + Number(len);
      if (end > b.length) throw new Error('truncated field');
      v = b.subarray(p2, end);
      pos = end;
    } else if (wire === 5) {
      v = BigInt(b.readUInt32LE(pos));
      pos += 4;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
    const list = out.get(field);
    if (list) list.push(v);
    else out.set(field, [v]);
  }
  return out;
}

function varint(n: bigint): Buffer {
  const bytes: number[] = [];
  do {
    let x = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) x |= 0x80;
    bytes.push(x);
  } while (n > 0n);
  return Buffer.from(bytes);
}

/** Encode a message from `[field, value]` pairs: strings/Buffers length-delimited, numbers/booleans as varints. */
export function pbEncode(fields: Array<[number, string | Buffer | number | boolean | bigint]>): Buffer {
  const parts: Buffer[] = [];
  for (const [f, v] of fields) {
    if (typeof v === 'string' || Buffer.isBuffer(v)) {
      const data = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
      parts.push(varint(BigInt((f << 3) | 2)), varint(BigInt(data.length)), data);
    } else {
      const n = typeof v === 'boolean' ? (v ? 1n : 0n) : BigInt(v);
      parts.push(varint(BigInt(f << 3)), varint(n));
    }
  }
  return Buffer.concat(parts);
}

const str = (f: PbFields, n: number): string | undefined => {
  const v = f.get(n)?.[0];
  return Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
};
const msg = (f: PbFields, n: number): PbFields | undefined => {
  const v = f.get(n)?.[0];
  return Buffer.isBuffer(v) ? pbDecode(v) : undefined;
};
function map(f: PbFields, n: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of f.get(n) ?? []) {
    if (!Buffer.isBuffer(v)) continue;
    const e = pbDecode(v);
    out[str(e, 1) ?? ''] = str(e, 2) ?? '';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// gRPC unary call

export function grpcFrame(payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

export async function grpcUnary(socketPath: string, method: string, request: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    const client = http2.connect('http://localhost', { createConnection: () => net.connect(socketPath) });
    const finish = (err: Error | undefined, value?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.close();
      client.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    client.on('error', (e) => finish(e));
    const req = client.request({
      ':method': 'POST', ':path': method, 'content-type': 'application/grpc', te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let message = '';
    req.on('response', (h) => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
    });
    req.on('trailers', (h) => {
      status = String(h['grpc-status'] ?? status ?? '');
      message = decodeURIComponent(String(h['grpc-message'] ?? ''));
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (e) => finish(e));
    req.on('end', () => {
      if (status !== undefined && status !== '0') return finish(new Error(`grpc-status ${status}${message ? ': ' + message : ''}`));
      const body = Buffer.concat(chunks);
      if (body.length < 5) return finish(new Error('empty gRPC response'));
      if (body[0] !== 0) return finish(new Error('compressed gRPC response'));
      finish(undefined, body.subarray(5, 5 + body.readUInt32BE(1)));
    });
    req.end(grpcFrame(request));
  });
}

// ---------------------------------------------------------------------------------------------
// ContainerStatus -> ContainerMeta

/** Split an image reference into repository, tag and digest (`repo:tag@sha256:...`). */
export function splitImage(image: string): { repository: string; tag: string; digest: string } {
  let rest = image;
  let digest = '';
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag = '';
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { repository: rest, tag, digest };
}

export function decodeContainerStatus(resp: Buffer): ContainerMeta | undefined {
  const top = pbDecode(resp);
  const st = msg(top, 1);
  if (!st) return undefined;
  const meta: ContainerMeta = {};
  const md = msg(st, 2);
  if (md) meta.name = str(md, 1);
  const imageSpec = msg(st, 8);
  const image = (imageSpec && str(imageSpec, 1)) || '';
  const imageRef = str(st, 9) ?? '';
  // containerd answers with the image id in `image` when the tag is gone; prefer a name.
  const named = image && !image.startsWith('sha256:') ? image : imageRef.includes('@') ? imageRef : image;
  meta.image = named;
  const { repository, tag, digest } = splitImage(named);
  meta.imageRepository = repository;
  meta.imageTag = tag;
  meta.imageDigest = digest || (imageRef.includes('@') ? imageRef.slice(imageRef.indexOf('@') + 1) : '');
  meta.imageId = image.startsWith('sha256:') ? image.slice(7, 19) : '';
  const labels = map(st, 12);
  meta.labels = labels;
  meta.podName = labels['io.kubernetes.pod.name'];
  meta.podNamespace = labels['io.kubernetes.pod.namespace'];
  meta.podUid = labels['io.kubernetes.pod.uid'];
  meta.mounts = (st.get(14) ?? []).filter(Buffer.isBuffer).map((b) => {
    const m = pbDecode(b);
    const ro = m.get(3)?.[0];
    const prop = Number(m.get(5)?.[0] ?? 0n);
    return {
      source: str(m, 2) ?? '', dest: str(m, 1) ?? '', mode: '', rdwr: ro !== 1n,
      propagation: ['private', 'rslave', 'rshared'][prop] ?? 'private',
    };
  });
  // The verbose `info` map carries runtime-specific JSON: sandbox id and privileged flag.
  const info = map(top, 2);
  try {
    const j = JSON.parse(info.info ?? '{}') as Record<string, unknown>;
    const sandbox = j.sandboxID ?? j.sandboxId ?? j.sandbox_id;
    if (typeof sandbox === 'string') meta.podSandboxId = sandbox;
    const cfg = j.config as { linux?: { security_context?: { privileged?: unknown } } } | undefined;
    const priv = cfg?.linux?.security_context?.privileged ?? j.privileged;
    meta.privileged = priv === true;
  } catch {
    meta.privileged = false;
  }
  meta.type = 'cri';
  return meta;
}

export interface CriOptions {
  sockets?: string[];
  timeoutMs?: number;
}

/** A metadata lookup for ContainerRegistry, or undefined when no CRI socket exists. */
export function criLookup(opts: CriOptions = {}): ((ref: { fullId?: string; runtimeHint?: string }) => Promise<ContainerMeta | undefined>) | undefined {
  const sockets = (opts.sockets ?? DEFAULT_CRI_SOCKETS).filter((s) => existsSync(s));
  if (sockets.length === 0) return undefined;
  const timeoutMs = opts.timeoutMs ?? 2_000;
  return async (ref) => {
    if (!ref.fullId) return undefined;
    const req = pbEncode([[1, ref.fullId], [2, true]]);
    let lastErr: Error | undefined;
    for (const sock of sockets) {
      try {
        const resp = await grpcUnary(sock, '/runtime.v1.RuntimeService/ContainerStatus', req, timeoutMs);
        const meta = decodeContainerStatus(resp);
        if (meta) {
          meta.type = sock.includes('crio') ? 'cri-o' : sock.includes('containerd') ? 'containerd' : 'cri';
          return meta;
        }
      } catch (e) {
        lastErr = e as Error;
      }
    }
    if (lastErr && !/NotFound|grpc-status 5/.test(lastErr.message)) throw lastErr;
    return undefined;
  };
}
