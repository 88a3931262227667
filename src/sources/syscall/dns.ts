/**
 * Names for addresses (`fd.sip.name`, `fd.cip.name`, ...), the way libsinsp gets them: not by
 * reverse lookups, but by resolving a set of host names now and then and remembering which
 * addresses each resolved to. Falco's rules compare these fields with a few well-known names
 * (the Kubernetes API server's `kubernetes.default.svc.cluster.local`), so those are resolved
 * by default; more can be configured. Inside a pod, the API server's service address also
 * comes from KUBERNETES_SERVICE_HOST.
 */
import { lookup } from 'node:dns/promises';

export const DEFAULT_DNS_NAMES = ['kubernetes.default.svc.cluster.local', 'kubernetes.default.svc', 'kubernetes.default'];

export class AddressNames {
  private byIp = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly names: readonly string[] = DEFAULT_DNS_NAMES, private readonly refreshMs = 60_000) {
    const svc = process.env.KUBERNETES_SERVICE_HOST;
    if (svc && names.length) this.byIp.set(svc, names[0]!);
  }

  /** The name an address was last seen resolving from, if any. */
  name(ip: string | undefined): string | undefined {
    return ip === undefined ? undefined : this.byIp.get(ip);
  }

  /** Set an address's name by hand (tests, configuration). */
  set(ip: string, name: string): void {
    this.byIp.set(ip, name);
  }

  async refresh(): Promise<void> {
    await Promise.all(this.names.map(async (n) => {
      try {
        for (const a of await lookup(n, { all: true })) this.byIp.set(a.address, n);
      } catch { /* not resolvable here: keep what was known */ }
    }));
  }

  start(): void {
    if (this.timer || this.names.length === 0) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
