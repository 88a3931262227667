/**
 * Containers, as Falco's container plugin sees them: the id comes from the process's cgroups
 * (a path ending in a 64-hex container id, in one of the layouts container runtimes and the
 * kubelet use), the rest (name, image, pod, namespace, privileged) from the runtime's CRI
 * socket when one answers. Without an answer only `container.id` (and the start time) is
 * known; every other `container.*` and `k8s.*` field is missing (`<NA>`), as in Falco.
 *
 * Layouts recognised (the id is the 64 hex characters, reported as its first 12):
 *   /kubepods/<qos>/pod<uid>/<id>                      kubelet, cgroupfs driver (any CRI runtime)
 *   .../cri-containerd-<id>.scope  .../crio-<id>.scope  kubelet, systemd driver
 *   .../crio-<id>  ...:cri-containerd:<id>             other CRI-O / containerd setups
 *   /docker/<id>  .../docker-<id>.scope                Docker; .../libpod-<id>.scope Podman
 * The kernel side of the sensor only reads the last path component of a few hierarchies, so
 * matching works on the last component; a full path gives the pod uid hint as well.
 */
import { HOST_CONTAINER, type ContainerMeta, type ContainerRef } from '../../events/syscall.ts';

const ID_LEN = 64;
const SHORT_LEN = 12;
const HEX64 = /^[0-9a-fA-F]{64}$/;

/** [prefix, suffix, runtime hint] tried on the last path component, in order. */
const LAYOUTS: Array<[string, string, string | undefined]> = [
  ['cri-containerd-', '.scope', 'containerd'],
  ['crio-', '.scope', 'cri-o'],
  ['crio-', '', 'cri-o'],
  ['docker-', '.scope', 'docker'],
  ['libpod-', '.scope', 'podman'],
  ['', '', undefined],
];

export interface CgroupMatch {
  fullId: string;
  runtimeHint?: string;
  podUidHint?: string;
}

/** The container a cgroup path (or just its last component) belongs to, if any. */
export function matchCgroup(path: string): CgroupMatch | undefined {
  const slash = path.lastIndexOf('/');
  let leaf = path.slice(slash + 1);
  let hint: string | undefined;
  // containerd without systemd cgroups: `<parent>:cri-containerd:<id>`
  const cc = leaf.lastIndexOf(':cri-containerd:');
  if (cc >= 0) {
    leaf = leaf.slice(cc + ':cri-containerd:'.length);
    hint = 'containerd';
  }
  for (const [prefix, suffix, rt] of LAYOUTS) {
    if (!leaf.startsWith(prefix) || !leaf.endsWith(suffix)) continue;
    const id = leaf.slice(prefix.length, leaf.length - suffix.length);
    if (id.length !== ID_LEN || !HEX64.test(id)) continue;
    let runtimeHint = hint ?? rt;
    if (!runtimeHint && /(^|\/)docker(\/|$)/.test(path)) runtimeHint = 'docker';
    const m: CgroupMatch = { fullId: id.toLowerCase() };
    if (runtimeHint) m.runtimeHint = runtimeHint;
    const pod = /pod([0-9a-fA-F]{8}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{12})/.exec(path);
    if (pod) m.podUidHint = pod[1]!.replace(/_/g, '-').toLowerCase();
    return m;
  }
  return undefined;
}

/** First match among several cgroup paths (one per hierarchy), as the plugin iterates them. */
export function matchCgroups(paths: Iterable<string>): CgroupMatch | undefined {
  for (const p of paths) {
    if (!p) continue;
    const m = matchCgroup(p);
    if (m) return m;
  }
  return undefined;
}

export type MetaLookup = (ref: ContainerRef) => Promise<ContainerMeta | undefined>;

/**
 * One ContainerRef per container id, shared by every process snapshot of that container, so
 * metadata that arrives later is seen by all of them (as Falco's plugin fills its cache).
 */
export class ContainerRegistry {
  private byId = new Map<string, ContainerRef>();
  private pending = new Set<string>();
  lookups = 0;
  lookupFailures = 0;

  constructor(private readonly lookup?: MetaLookup, private readonly onError?: (msg: string) => void) {}

  get size(): number {
    return this.byId.size;
  }

  /** The container of a set of cgroup paths (or leaf names); HOST_CONTAINER when none matches. */
  resolve(paths: Iterable<string>): ContainerRef {
    const m = matchCgroups(paths);
    if (!m) return HOST_CONTAINER;
    const id = m.fullId.slice(0, SHORT_LEN);
    let ref = this.byId.get(id);
    if (ref) return ref;
    const r: { -readonly [K in keyof ContainerRef]: ContainerRef[K] } = { id, fullId: m.fullId };
    if (m.runtimeHint) r.runtimeHint = m.runtimeHint;
    if (m.podUidHint) r.podUidHint = m.podUidHint;
    ref = r as ContainerRef;
    this.byId.set(id, ref);
    if (this.byId.size > 65_536) this.byId.delete(this.byId.keys().next().value!);
    this.fetch(ref);
    return ref;
  }

  get(id: string): ContainerRef | undefined {
    return this.byId.get(id);
  }

  private fetch(ref: ContainerRef): void {
    if (!this.lookup || this.pending.has(ref.id)) return;
    this.pending.add(ref.id);
    this.lookups++;
    this.lookup(ref).then((meta) => {
      if (meta) ref.meta = meta;
      else this.lookupFailures++;
    }, (e: unknown) => {
      this.lookupFailures++;
      this.onError?.(`container ${ref.id}: runtime lookup failed: ${(e as Error).message}`);
    }).finally(() => this.pending.delete(ref.id));
  }
}
