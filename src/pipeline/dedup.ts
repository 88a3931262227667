/**
 * A bounded set of recently seen identities (audit `auditID` + `stage`): a duplicate within
 * the window is dropped before detection. Oldest identities leave first, through a ring of
 * keys beside the Set. (Measured: evicting with `set.values().next()` walks the deleted
 * entries V8 keeps at the front of the table until it rehashes, and took a quarter of the
 * pipeline's time at 200k entries.) Capacity 0 turns it off.
 */
export class RecentIds {
  private set = new Set<string>();
  private ring: string[];
  private head = 0;

  constructor(private readonly max: number) {
    this.ring = new Array<string>(max);
  }

  /** True if `id` is new (and now remembered), false if it was seen recently. */
  add(id: string): boolean {
    if (this.max === 0) return true;
    if (this.set.has(id)) return false;
    if (this.set.size >= this.max) this.set.delete(this.ring[this.head]!);
    this.set.add(id);
    this.ring[this.head] = id;
    this.head = (this.head + 1) % this.max;
    return true;
  }

  get size(): number {
    return this.set.size;
  }
}
