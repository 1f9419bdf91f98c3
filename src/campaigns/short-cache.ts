/**
 * A tiny per-process cache for public reads that may be a moment stale (a campaign, its totals,
 * its donor wall). Single-flight: concurrent misses for one key share one load, so a burst of 50
 * page views makes one query, not 50. A failed load is not kept.
 */
export class ShortCache<V> {
  private readonly entries = new Map<string, { value: Promise<V>; expiresAt: number }>();

  constructor(private readonly ttlMs: number, private readonly maxEntries = 1_000, private readonly now: () => number = Date.now) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > this.now()) return hit.value;
    const value = load();
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    this.evictOverflow();
    return value;
  }

  // Unknown slugs are cached too (as null), so a stranger could try many: the size stays bounded.
  private evictOverflow() {
    if (this.entries.size <= this.maxEntries) return;
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
    // Map keeps insertion order: what is left over the bound goes oldest first.
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(key);
    }
  }
}
