import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { DONOR_WALL_QUERY, recentPublicGifts } from '../src/campaigns/campaign.service';
import { ShortCache } from '../src/campaigns/short-cache';
import { createDataSource, runMigrations } from '../src/db/data-source';
import { recordLedgerEntry } from '../src/ledger/ledger.service';
import { createTestDatabase } from './helpers/database';
import { makeCampaign, startTestKettle, totalsOf, type TestKettle } from './helpers/kettle';

let kettle: TestKettle;
beforeAll(async () => {
  kettle = await startTestKettle();
});
afterAll(() => kettle?.close());

/** Gifts made through Checkout, inserted set-based (as a bulk import would), oldest first; totals kept in step. */
async function loadGifts(campaign: Campaign, count: number, opts: { renewal?: boolean; startMinute?: number } = {}) {
  await kettle.dataSource.transaction(async (tx) => {
    await tx.query(
      `UPDATE campaign_totals SET raised_amount = raised_amount + 500 * $2, gift_count = gift_count + $2 WHERE campaign_id = $1`,
      [campaign.id, count]);
    await tx.query(
      `WITH intents AS (
         INSERT INTO checkout_intents (campaign_id, frequency, donation_amount, total_amount, currency, email, donor_name, status, completed_at)
         SELECT $1, 'once', 500, 500, 'usd', 'bulk' || n || '@example.org', 'Donor ' || n, 'completed',
                timestamptz '2026-01-01' + make_interval(mins => $3 + n)
           FROM generate_series(1, $2) n
         RETURNING id, completed_at)
       INSERT INTO ledger_entries (campaign_id, kind, amount, currency, source, frequency, renewal, checkout_intent_id, occurred_at)
       SELECT $1, 'gift', 500, 'usd', 'stripe', 'once', $4, id, completed_at FROM intents`,
      [campaign.id, count, opts.startMinute ?? 0, opts.renewal ?? false],
    );
  });
}

async function wallPlan(campaign: Campaign): Promise<string> {
  const rows: { 'QUERY PLAN': string }[] = await kettle.dataSource.query(`EXPLAIN (COSTS OFF) ${DONOR_WALL_QUERY}`, [campaign.id, 10]);
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

function expectIndexWalkWithLimit(plan: string) {
  expect(plan).toMatch(/Limit\n\s+->\s+Index Scan using ledger_entries_wall_idx on ledger_entries g\n/);
  expect(plan).not.toMatch(/Seq Scan|Sort|Hash/);
}

describe('the donor wall at scale', () => {
  it('walks the wall index under a LIMIT whether the ledger is empty, loaded without statistics, or analyzed', async () => {
    // Autovacuum must not refresh the statistics behind the test's back.
    await kettle.dataSource.query(`ALTER TABLE ledger_entries SET (autovacuum_enabled = false)`);
    await kettle.dataSource.query(`ALTER TABLE checkout_intents SET (autovacuum_enabled = false)`);
    const campaign = await makeCampaign(kettle);
    // Nothing to walk yet: the planner may read the empty table, but still stops at the LIMIT.
    expect(await wallPlan(campaign)).toMatch(/->\s+Limit\n/);

    await loadGifts(campaign, 20_000);
    expectIndexWalkWithLimit(await wallPlan(campaign));

    await kettle.dataSource.query('ANALYZE ledger_entries');
    await kettle.dataSource.query('ANALYZE checkout_intents');
    expectIndexWalkWithLimit(await wallPlan(campaign));

    // Statistics taken before a campaign's surge say it has no gifts at all.
    const surging = await makeCampaign(kettle);
    await loadGifts(surging, 20_000);
    expectIndexWalkWithLimit(await wallPlan(surging));
    const wall = await recentPublicGifts(kettle.dataSource, campaign.id);
    expect(wall.map((w) => w.displayName)).toEqual(Array.from({ length: 10 }, (_, i) => `Donor ${20_000 - i}`));
  });

  it('leaves out renewals and gifts refunded in full, and keeps a gift refunded in part', async () => {
    const campaign = await makeCampaign(kettle);
    await loadGifts(campaign, 3);
    await loadGifts(campaign, 1, { renewal: true, startMinute: 10 });
    const gifts: { id: string }[] = await kettle.dataSource.query(
      `SELECT id FROM ledger_entries WHERE campaign_id = $1 AND NOT renewal ORDER BY occurred_at DESC`, [campaign.id]);
    await kettle.dataSource.transaction(async (tx) => {
      const refund = (giftEntryId: string, amount: number, id: string) => recordLedgerEntry(tx, {
        kind: 'refund', giftEntryId, amount, currency: 'usd', stripeRefundId: id, occurredAt: new Date() });
      await refund(gifts[0].id, 500, 're_scale_full');
      await refund(gifts[1].id, 200, 're_scale_part');
    });
    const wall = await recentPublicGifts(kettle.dataSource, campaign.id);
    expect(wall.map((w) => w.displayName)).toEqual(['Donor 2', 'Donor 1']);
    const { kept, recomputed } = await totalsOf(kettle, campaign.id);
    expect(kept).toEqual(recomputed);
  });
});

describe('pages read through a short per-instance cache', () => {
  /** Loads the test settles by hand, to see what readers get meanwhile. */
  function manualLoads<V>() {
    const pending: { promise: Promise<V>; resolve(v: V): void }[] = [];
    const load = () => {
      let resolve!: (v: V) => void;
      const promise = new Promise<V>((r) => { resolve = r; });
      pending.push({ promise, resolve });
      return promise;
    };
    return { load, pending };
  }

  it('makes one load for 50 concurrent misses', async () => {
    const cache = new ShortCache<number>(1_000);
    const { load, pending } = manualLoads<number>();
    const readers = Promise.all(Array.from({ length: 50 }, () => cache.get('k', load)));
    expect(pending).toHaveLength(1);
    pending[0].resolve(7);
    expect(await readers).toEqual(Array(50).fill(7));
  });

  it('refreshes a value once it is a second old, serving the old one until the new one is read', async () => {
    let clock = 0;
    const cache = new ShortCache<number>(1_000, { now: () => clock });
    const { load, pending } = manualLoads<number>();
    const first = cache.get('k', load);
    pending[0].resolve(1);
    expect(await first).toBe(1);

    clock = 999;
    expect(await cache.get('k', load)).toBe(1);
    expect(pending).toHaveLength(1);

    clock = 1_000;
    expect(await cache.get('k', load)).toBe(1);
    expect(await cache.get('k', load)).toBe(1);
    expect(pending).toHaveLength(2);
    pending[1].resolve(2);
    // The cache's own handler was attached first, so it has stored the value once this resumes.
    await pending[1].promise;
    expect(await cache.get('k', load)).toBe(2);
  });

  // A reader after a quiet spell gets the fresh value (so a new gift shows at once): by default past twice the ttl.
  it.each([
    ['an explicit bound', { maxStaleMs: 5_000 }, 5_000],
    ['the default bound, twice the ttl', {}, 2_000],
  ])('makes readers wait for the database once the old value is too old to show (%s)', async (_label, opts, age) => {
    let clock = 0;
    const cache = new ShortCache<number>(1_000, { ...opts, now: () => clock });
    const { load, pending } = manualLoads<number>();
    const first = cache.get('k', load);
    pending[0].resolve(1);
    await first;
    clock = age;
    const reader = cache.get('k', load);
    pending[1].resolve(2);
    expect(await reader).toBe(2);
  });

  it('does not keep a failed load, and keeps the last good value when a refresh fails', async () => {
    let clock = 0;
    const cache = new ShortCache<string>(1_000, { now: () => clock });
    await expect(cache.get('k', () => Promise.reject(new Error('database away')))).rejects.toThrow('database away');
    expect(await cache.get('k', async () => 'back')).toBe('back');
    clock = 1_000;
    const failing = Promise.reject(new Error('away again'));
    expect(await cache.get('k', () => failing)).toBe('back');
    await failing.catch(() => {});
    const fresh = Promise.resolve('fresh');
    expect(await cache.get('k', () => fresh)).toBe('back');
    await fresh;
    expect(await cache.get('k', async () => 'unused')).toBe('fresh');
  });

  it('stays within its bound however many keys strangers try', async () => {
    let loads = 0;
    const cache = new ShortCache<null>(1_000, { maxEntries: 10 });
    const load = async () => { loads++; return null; };
    for (let i = 0; i < 100; i++) await cache.get(`nope-${i}`, load);
    await cache.get('nope-99', load);
    await cache.get('nope-0', load);
    expect(loads).toBe(101);
  });

  it('renders templates from the view cache whatever NODE_ENV says', () => {
    expect(kettle.app.enabled('view cache')).toBe(true);
  });

  it('migrates a fresh database with a pool of one connection', async () => {
    const fresh = await createTestDatabase();
    const dataSource = createDataSource(fresh.url, 1);
    try {
      await dataSource.initialize();
      expect(await runMigrations(dataSource)).toEqual(dataSource.migrations.map((m) => m.name));
    } finally {
      await dataSource.destroy();
      await fresh.drop();
    }
  });

  it('leaves the planner statistics fresh after migrating', async () => {
    // reltuples is -1 until a table is first analyzed.
    const [campaigns] = await kettle.dataSource.query(`SELECT reltuples FROM pg_class WHERE relname = 'campaigns'`);
    expect(Number(campaigns.reltuples)).toBeGreaterThanOrEqual(0);
  });
});
