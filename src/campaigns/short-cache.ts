interface Entry<V> {
  /** The last value loaded, as a settled promise; null until the first load succeeds. */
  value: Promise<V> | null;
  /** When the load that produced value started: the moment the database said so. */
  readAt: number;
  loading: Promise<V> | null;
}

/**
 * A tiny per-process cache for public reads that may be a moment stale (a campaign, its totals,
 * its donor wall). Single-flight: concurrent misses for one key share one load, so a burst of 50
 * page views makes one query, not 50. Once a value is ttlMs old the next read starts a refresh and,
 * while it runs, readers still get the old value (up to maxStaleMs): they never queue behind the
 * database. A failed load is not kept.
 */
export class ShortCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly maxEntries: number;
  private readonly maxStaleMs: number;
  private readonly now: () => number;

  constructor(private readonly ttlMs: number, opts: { maxEntries?: number; maxStaleMs?: number; now?: () => number } = {}) {
    this.maxEntries = opts.maxEntries ?? 1_000;
    // Under steady traffic refreshes keep values about ttlMs old, so readers never wait; a reader after
    // a quiet spell (a value past twice the ttl) waits for the fresh one: a new gift shows at once.
    this.maxStaleMs = opts.maxStaleMs ?? ttlMs * 2;
    this.now = opts.now ?? Date.now;
  }

  get(key: string, load: () => Promise<V>): Promise<V> {
    const now = this.now();
    let entry = this.entries.get(key);
    if (entry?.value && now - entry.readAt < this.ttlMs) return entry.value;
    if (!entry) {
      entry = { value: null, readAt: 0, loading: null };
      this.entries.set(key, entry);
      this.evictOverflow();
    }
    const loading = entry.loading ?? this.startLoad(key, entry, load);
    return entry.value && now - entry.readAt < this.maxStaleMs ? entry.value : loading;
  }

  private startLoad(key: string, entry: Entry<V>, load: () => Promise<V>): Promise<V> {
    const startedAt = this.now();
    const loading = load();
    entry.loading = loading;
    loading.then(
      () => {
        entry.value = loading;
        entry.readAt = startedAt;
        entry.loading = null;
      },
      () => {
        entry.loading = null;
        if (!entry.value && this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return loading;
  }

  // Unknown slugs are cached too (as null), so a stranger could try many: the size stays bounded.
  private evictOverflow() {
    // Map keeps insertion order: the oldest keys go first.
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(key);
    }
  }
}
