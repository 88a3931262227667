/**
 * The CRI client against a fake runtime: a gRPC server over HTTP/2 on a unix socket, answering
 * RuntimeService/ContainerStatus as containerd does (verbose info JSON included).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { criLookup, grpcFrame, pbDecode, pbEncode, splitImage } from '../../../src/sources/syscall/cri.ts';

const ID = '3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e';
const SANDBOX = 'aa'.repeat(32);

const entry = (k: string, v: string): Buffer => pbEncode([[1, k], [2, v]]);

function statusResponse(privileged: boolean): Buffer {
  const status = pbEncode([
    [1, ID],
    [2, pbEncode([[1, 'nginx'], [2, 0]])],
    [3, 1],
    [8, pbEncode([[1, 'docker.io/library/nginx:1.25.3']])],
    [9, 'docker.io/library/nginx@sha256:' + 'ab'.repeat(32)],
    [12, entry('io.kubernetes.pod.name', 'web-7c9d8-x2lqp')],
    [12, entry('io.kubernetes.pod.namespace', 'shop')],
    [12, entry('io.kubernetes.pod.uid', '3e41dc6b-08a8-44db-bc2a-3724b18ab19a')],
    [12, entry('app', 'web')],
    [14, pbEncode([[1, '/etc/nginx'], [2, '/var/lib/kubelet/pods/x/volumes/cm'], [3, true], [5, 0]])],
  ]);
  const info = JSON.stringify({ sandboxID: SANDBOX, config: { linux: { security_context: { privileged } } } });
  return pbEncode([[1, status], [2, entry('info', info)]]);
}

async function fakeRuntime(handler: (req: Buffer) => { body?: Buffer; status?: number; message?: string }): Promise<{ socket: string; close(): Promise<void>; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-cri-'));
  const socket = path.join(dir, 'containerd.sock');
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    assert.equal(headers[':path'], '/runtime.v1.RuntimeService/ContainerStatus');
    assert.equal(headers['content-type'], 'application/grpc');
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const raw = Buffer.concat(chunks);
      const r = handler(raw.subarray(5, 5 + raw.readUInt32BE(1)));
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(r.status ?? 0), ...(r.message ? { 'grpc-message': r.message } : {}) }));
      stream.end(r.body ? grpcFrame(r.body) : undefined);
    });
  });
  await new Promise<void>((res) => server.listen(socket, () => res()));
  return { socket, dir, close: () => new Promise<void>((res) => server.close(() => { rmSync(dir, { recursive: true, force: true }); res(); })) };
}

test('cri: ContainerStatus gives name, image, pod, namespace, labels, mounts and privileged', async () => {
  let asked: string | undefined;
  const rt = await fakeRuntime((req) => {
    const f = pbDecode(req);
    asked = (f.get(1)![0] as Buffer).toString();
    assert.equal(f.get(2)![0], 1n, 'verbose');
    return { body: statusResponse(true) };
  });
  try {
    const lookup = criLookup({ sockets: [rt.socket] })!;
    const meta = await lookup({ fullId: ID });
    assert.equal(asked, ID);
    assert.equal(meta?.name, 'nginx');
    assert.equal(meta?.image, 'docker.io/library/nginx:1.25.3');
    assert.equal(meta?.imageRepository, 'docker.io/library/nginx');
    assert.equal(meta?.imageTag, '1.25.3');
    assert.equal(meta?.imageDigest, 'sha256:' + 'ab'.repeat(32));
    assert.equal(meta?.podName, 'web-7c9d8-x2lqp');
    assert.equal(meta?.podNamespace, 'shop');
    assert.equal(meta?.podUid, '3e41dc6b-08a8-44db-bc2a-3724b18ab19a');
    assert.equal(meta?.podSandboxId, SANDBOX);
    assert.equal(meta?.privileged, true);
    assert.equal(meta?.type, 'containerd');
    assert.equal(meta?.labels?.app, 'web');
    assert.deepEqual(meta?.mounts, [{ source: '/var/lib/kubelet/pods/x/volumes/cm', dest: '/etc/nginx', mode: '', rdwr: false, propagation: 'private' }]);
  } finally {
    await rt.close();
  }
});

test('cri: an unknown container (NotFound) has no metadata; other errors are errors', async () => {
  const rt = await fakeRuntime(() => ({ status: 5, message: 'container not found' }));
  try {
    assert.equal(await criLookup({ sockets: [rt.socket] })!({ fullId: ID }), undefined);
  } finally {
    await rt.close();
  }
  const rt2 = await fakeRuntime(() => ({ status: 14, message: 'unavailable' }));
  try {
    await assert.rejects(criLookup({ sockets: [rt2.socket] })!({ fullId: ID }), /grpc-status 14: unavailable/);
  } finally {
    await rt2.close();
  }
});

test('cri: no socket, no lookup', () => {
  assert.equal(criLookup({ sockets: ['/nonexistent/containerd.sock'] }), undefined);
});

test('cri: image references', () => {
  assert.deepEqual(splitImage('docker.io/library/nginx:1.25'), { repository: 'docker.io/library/nginx', tag: '1.25', digest: '' });
  assert.deepEqual(splitImage('localhost:5000/app'), { repository: 'localhost:5000/app', tag: '', digest: '' });
  assert.deepEqual(splitImage('quay.io/x/y:v1@sha256:00'), { repository: 'quay.io/x/y', tag: 'v1', digest: 'sha256:00' });
});
