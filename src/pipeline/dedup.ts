/**
 * A bounded set of recently seen identities (audit `auditID` + `stage`): a duplicate within
 * the window is dropped before detection. Oldest identities leave first (a Set keeps insertion
 * order, so eviction is O(1)). Capacity 0 turns it off.
 */
export class RecentIds {
  private set = new Set<string>();

  constructor(private readonly max: number) {}

  /** True if `id` is new (and now remembered), false if it was seen recently. */
  add(id: string): boolean {
    if (this.max === 0) return true;
    if (this.set.has(id)) return false;
    this.set.add(id);
    if (this.set.size > this.max) {
      const first = this.set.values().next().value as string;
      this.set.delete(first);
    }
    return true;
  }

  get size(): number {
    return this.set.size;
  }
}
