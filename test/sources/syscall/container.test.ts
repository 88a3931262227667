/**
 * Container ids from cgroup paths, as Falco's container plugin derives them: the 64-hex id at
 * the end of the path in one of the runtimes' layouts, reported as its first 12 characters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerMeta } from '../../../src/events/syscall.ts';
import { ContainerRegistry, matchCgroup, matchCgroups } from '../../../src/sources/syscall/container.ts';

const ID = '3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e';
const UID = '3e41dc6b-08a8-44db-bc2a-3724b18ab19a';

test('container: the layouts of the kubelet and the runtimes', () => {
  const table: Array<[string, string | undefined, string | undefined, string | undefined]> = [
    // path, full id, runtime hint, pod uid hint
    [`/kubepods/besteffort/pod${UID}/${ID}`, ID, undefined, UID],
    [`/kubepods/pod${UID}/${ID}`, ID, undefined, UID],
    [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replace(/-/g, '_')}.slice/cri-containerd-${ID}.scope`, ID, 'containerd', UID],
    [`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replace(/-/g, '_')}.slice/crio-${ID}.scope`, ID, 'cri-o', UID],
    [`/kubepods/besteffort/pod${UID}/crio-${ID}`, ID, 'cri-o', UID],
    [`/system.slice/containerd.service/kubepods-besteffort-pod${UID.replace(/-/g, '_')}.slice:cri-containerd:${ID}`, ID, 'containerd', UID],
    [`/docker/${ID}`, ID, 'docker', undefined],
    [`/system.slice/docker-${ID}.scope`, ID, 'docker', undefined],
    [`/machine.slice/libpod-${ID}.scope`, ID, 'podman', undefined],
    [ID, ID, undefined, undefined], // a leaf name alone, as the kernel side reads it
    [`cri-containerd-${ID}.scope`, ID, 'containerd', undefined],
    ['/user.slice/user-1000.slice/session-2.scope', undefined, undefined, undefined],
    ['/', undefined, undefined, undefined],
    [`/kubepods/besteffort/pod${UID}/${ID.slice(1)}`, undefined, undefined, undefined], // 63 hex
    [`/kubepods/besteffort/pod${UID}/${ID.slice(0, 32)}`, undefined, undefined, undefined],
    [`/kubepods/besteffort/pod${UID}/${ID.slice(0, 63)}g`, undefined, undefined, undefined],
    [`/kubepods/besteffort/pod${UID}/${ID}/extra`, undefined, undefined, undefined],
  ];
  for (const [p, id, rt, pod] of table) {
    const m = matchCgroup(p);
    assert.equal(m?.fullId, id, p);
    assert.equal(m?.runtimeHint, rt, p);
    assert.equal(m?.podUidHint, pod, p);
  }
});

test('container: the first hierarchy that names a container wins; none means the host', () => {
  assert.equal(matchCgroups(['', '/', `/kubepods/besteffort/pod${UID}/${ID}`])?.fullId, ID);
  assert.equal(matchCgroups(['/', '/user.slice']), undefined);
  const reg = new ContainerRegistry();
  assert.equal(reg.resolve(['/', '']).id, 'host');
  const c = reg.resolve([ID]);
  assert.equal(c.id, ID.slice(0, 12));
  assert.equal(c.fullId, ID);
  assert.equal(c.meta, undefined, 'no runtime: no metadata');
  assert.equal(reg.resolve([`/docker/${ID}`]), c, 'one shared reference per container');
});

test('container: metadata from the runtime fills the shared reference once it answers', async () => {
  const asked: string[] = [];
  const reg = new ContainerRegistry(async (ref) => {
    asked.push(ref.fullId!);
    return { name: 'web', imageRepository: 'docker.io/library/nginx', podName: 'web-0', podNamespace: 'shop' };
  });
  const c = reg.resolve([ID]);
  reg.resolve([ID]);
  assert.equal(c.meta, undefined);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(asked, [ID], 'one lookup per container');
  const meta = (): ContainerMeta | undefined => c.meta; // read again: filled in asynchronously
  assert.equal(meta()?.name, 'web');
  assert.equal(meta()?.podNamespace, 'shop');
});

test('container: a failing lookup is counted and reported, not thrown', async () => {
  const errors: string[] = [];
  const reg = new ContainerRegistry(async () => { throw new Error('connection refused'); }, (m) => errors.push(m));
  const c = reg.resolve([ID]);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(c.meta, undefined);
  assert.equal(reg.lookupFailures, 1);
  assert.match(errors[0]!, /connection refused/);
});
