import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { createCampaign } from '../src/campaigns/campaign.service';
import { createDataSource, runMigrations } from '../src/db/data-source';
import { upsertDonor } from '../src/donors/donor.service';
import { keptTotals, LedgerError, recomputeTotals, recordLedgerEntry, verifyAllTotals } from '../src/ledger/ledger.service';
import { TotalsAccumulator } from '../src/ledger/totals-accumulator';
import { createTestDatabase, type TestDatabase } from './helpers/database';

let db: TestDatabase;
let dataSource: DataSource;

beforeAll(async () => {
  db = await createTestDatabase();
  dataSource = createDataSource(db.url, 5);
  await dataSource.initialize();
  await runMigrations(dataSource);
});

afterAll(async () => {
  await dataSource?.destroy();
  await db?.drop();
});

let n = 0;
const newCampaign = (currency = 'usd') => {
  n += 1;
  return createCampaign(dataSource, { slug: `ledger-${n}`, title: 'Ledger test', currency, goalAmount: 100_000 });
};
const donor = (email: string) => dataSource.transaction((tx) => upsertDonor(tx, { email }));
const gift = (campaign: Campaign, donorId: string | null, amount: number, paymentIntent: string) =>
  dataSource.transaction((tx) => recordLedgerEntry(tx, {
    kind: 'gift', campaignId: campaign.id, donorId, amount, currency: campaign.currency, source: 'stripe',
    frequency: 'once', stripePaymentIntentId: paymentIntent, occurredAt: new Date(),
  }));
const refund = (giftEntryId: string, amount: number, refundId: string, kind: 'refund' | 'refund_reversal' = 'refund') =>
  dataSource.transaction((tx) => recordLedgerEntry(tx, {
    kind, giftEntryId, amount, currency: 'usd', stripeRefundId: refundId, occurredAt: new Date(),
  }));
const reverse = (giftEntryId: string, amount: number, refundId: string) => refund(giftEntryId, amount, refundId, 'refund_reversal');

describe('migrations', () => {
  it('run once when two instances start at the same time', async () => {
    const fresh = await createTestDatabase();
    const instances = [createDataSource(fresh.url, 2), createDataSource(fresh.url, 2)];
    try {
      await Promise.all(instances.map((ds) => ds.initialize()));
      const applied = await Promise.all(instances.map((ds) => runMigrations(ds)));
      expect(applied.flat().sort()).toEqual(instances[0].migrations.map((m) => m.name).sort());
      const [{ n }] = await instances[0].query(`SELECT COUNT(*)::int AS n FROM schema_migrations`);
      expect(n).toBe(instances[0].migrations.length);
    } finally {
      await Promise.all(instances.map((ds) => ds.isInitialized && ds.destroy()));
      await fresh.drop();
    }
  });
});

describe('the ledger', () => {
  it('migrations are idempotent: running them again applies nothing', async () => {
    expect(await runMigrations(dataSource)).toEqual([]);
  });

  it('records a gift once, however often the same Stripe object is recorded', async () => {
    const campaign = await newCampaign();
    const d = await donor('once@example.org');
    const first = await gift(campaign, d, 2500, 'pi_once');
    const again = await gift(campaign, d, 2500, 'pi_once');
    expect(first.created).toBe(true);
    expect(again).toEqual({ created: false, entryId: null });
    expect(await keptTotals(dataSource.manager, campaign.id)).toEqual({ raised: 2500, gifts: 1, donors: 1 });
  });

  it('subtracts partial and full refunds, and a fully refunded gift or donor stops counting', async () => {
    const campaign = await newCampaign();
    const alice = await donor('alice@example.org');
    const bob = await donor('bob@example.org');
    const a = await gift(campaign, alice, 5000, 'pi_alice');
    const b = await gift(campaign, bob, 3000, 'pi_bob');
    await refund(a.entryId!, 1000, 're_alice_1');
    expect(await keptTotals(dataSource.manager, campaign.id)).toEqual({ raised: 7000, gifts: 2, donors: 2 });
    await refund(b.entryId!, 3000, 're_bob_full');
    await refund(b.entryId!, 3000, 're_bob_full');
    expect(await keptTotals(dataSource.manager, campaign.id)).toEqual({ raised: 4000, gifts: 1, donors: 1 });
    expect(await recomputeTotals(dataSource.manager, campaign.id)).toEqual({ raised: 4000, gifts: 1, donors: 1 });
  });

  it('counts a donor once across several gifts', async () => {
    const campaign = await newCampaign();
    const d = await donor('Repeat@Example.org');
    expect(await donor('repeat@example.ORG')).toBe(d);
    await gift(campaign, d, 1000, 'pi_r1');
    await gift(campaign, d, 1000, 'pi_r2');
    expect(await keptTotals(dataSource.manager, campaign.id)).toEqual({ raised: 2000, gifts: 2, donors: 1 });
  });

  it('keeps totals equal to a recomputation under concurrent writers', async () => {
    const campaign = await newCampaign();
    const donors = await Promise.all(Array.from({ length: 5 }, (_, i) => donor(`conc${i}@example.org`)));
    await Promise.all(Array.from({ length: 20 }, (_, i) => gift(campaign, donors[i % 5], 100 + i, `pi_conc_${i}`)));
    const checks = await verifyAllTotals(dataSource.manager);
    expect(checks.every((c) => c.matches)).toBe(true);
    expect(await keptTotals(dataSource.manager, campaign.id)).toMatchObject({ gifts: 20, donors: 5 });
  });

  it('adds back a refund that failed after it succeeded, once, and the gift and donor count again', async () => {
    const campaign = await newCampaign();
    const d = await donor('reversal@example.org');
    const g = await gift(campaign, d, 4000, 'pi_reversal');
    await refund(g.entryId!, 4000, 're_bounced');
    expect(await keptTotals(dataSource.manager, campaign.id)).toEqual({ raised: 0, gifts: 0, donors: 0 });
    expect((await reverse(g.entryId!, 4000, 're_bounced')).created).toBe(true);
    expect(await reverse(g.entryId!, 4000, 're_bounced')).toEqual({ created: false, entryId: null });
    expect(await keptTotals(dataSource.manager, campaign.id)).toEqual({ raised: 4000, gifts: 1, donors: 1 });
    expect(await recomputeTotals(dataSource.manager, campaign.id)).toEqual({ raised: 4000, gifts: 1, donors: 1 });
  });

  it('refuses to reverse a refund it never recorded, or for another amount', async () => {
    const campaign = await newCampaign();
    const g = await gift(campaign, null, 3000, 'pi_no_reversal');
    await expect(reverse(g.entryId!, 3000, 're_never_recorded')).rejects.toThrow(/No recorded refund/);
    await refund(g.entryId!, 1000, 're_partial');
    await expect(reverse(g.entryId!, 3000, 're_partial')).rejects.toThrow(/its reversal gives back 3000/);
    expect(await keptTotals(dataSource.manager, campaign.id)).toEqual({ raised: 2000, gifts: 1, donors: 0 });
  });

  it('moves kept totals once per campaign when a transaction gathers its entries, equal to a recomputation at commit', async () => {
    const campaign = await newCampaign();
    const d = await donor('batch@example.org');
    await dataSource.transaction(async (tx) => {
      const totals = new TotalsAccumulator();
      for (let i = 0; i < 5; i++) {
        await recordLedgerEntry(tx, {
          kind: 'gift', campaignId: campaign.id, donorId: d, amount: 1000, currency: 'usd', source: 'stripe',
          frequency: 'once', stripePaymentIntentId: `pi_batch_${i}`, occurredAt: new Date(),
        }, totals);
      }
      // Nothing moved yet: the caller flushes just before its commit.
      expect(await keptTotals(tx, campaign.id)).toEqual({ raised: 0, gifts: 0, donors: 0 });
      await totals.flush(tx);
    });
    expect(await keptTotals(dataSource.manager, campaign.id)).toEqual({ raised: 5000, gifts: 5, donors: 1 });
    expect((await verifyAllTotals(dataSource.manager)).every((c) => c.matches)).toBe(true);
  });

  it('refuses a different payment that collides on a Stripe id instead of dropping it as a replay', async () => {
    const campaign = await newCampaign();
    const record = (session: string) => dataSource.transaction((tx) => recordLedgerEntry(tx, {
      kind: 'gift', campaignId: campaign.id, donorId: null, amount: 700, currency: 'usd', source: 'stripe', frequency: 'once',
      stripeCheckoutSessionId: session, stripePaymentIntentId: 'pi_shared', occurredAt: new Date(),
    }));
    await record('cs_first');
    await expect(record('cs_first')).resolves.toEqual({ created: false, entryId: null });
    await expect(record('cs_second')).rejects.toThrow(/conflicts with a different entry/);
  });

  it('refuses money in the wrong currency, non-integer or non-positive amounts, and writes outside a transaction', async () => {
    const campaign = await newCampaign('eur');
    await expect(dataSource.transaction((tx) => recordLedgerEntry(tx, {
      kind: 'gift', campaignId: campaign.id, donorId: null, amount: 100, currency: 'usd', source: 'stripe', frequency: 'once', occurredAt: new Date(),
    }))).rejects.toThrow(LedgerError);
    await expect(dataSource.transaction((tx) => recordLedgerEntry(tx, {
      kind: 'gift', campaignId: campaign.id, donorId: null, amount: 10.5, currency: 'eur', source: 'stripe', frequency: 'once', occurredAt: new Date(),
    }))).rejects.toThrow(/integers/);
    await expect(recordLedgerEntry(dataSource.manager, {
      kind: 'gift', campaignId: campaign.id, donorId: null, amount: 100, currency: 'eur', source: 'stripe', frequency: 'once', occurredAt: new Date(),
    })).rejects.toThrow(/inside a transaction/);
    expect(await keptTotals(dataSource.manager, campaign.id)).toEqual({ raised: 0, gifts: 0, donors: 0 });
  });

  describe('offline gifts and voids', () => {
    const offlineGift = (campaign: Campaign, donorId: string | null, amount: number, offlineKey: string) =>
      dataSource.transaction((tx) => recordLedgerEntry(tx, {
        kind: 'gift', campaignId: campaign.id, donorId, amount, currency: campaign.currency, source: 'offline',
        frequency: 'once', offlineKey, occurredAt: new Date(),
      }));
    const voidOf = (giftEntryId: string, amount: number) =>
      dataSource.transaction((tx) => recordLedgerEntry(tx, { kind: 'void', giftEntryId, amount, currency: 'usd', occurredAt: new Date() }));

    it('records an offline gift once per offline key, counted like any gift', async () => {
      const campaign = await newCampaign();
      const ada = await donor('offline-ada@example.org');
      const first = await offlineGift(campaign, ada, 300_00, 'form:ledger-a');
      expect(first.created).toBe(true);
      expect(await offlineGift(campaign, ada, 300_00, 'form:ledger-a')).toEqual({ created: false, entryId: null });
      expect(await keptTotals(dataSource.manager, campaign.id)).toEqual({ raised: 300_00, gifts: 1, donors: 1 });
      expect(await recomputeTotals(dataSource.manager, campaign.id)).toEqual({ raised: 300_00, gifts: 1, donors: 1 });
    });

    it('refuses an offline gift without its key or with Stripe ids, and a Stripe gift with an offline key', async () => {
      const campaign = await newCampaign();
      const base = { kind: 'gift' as const, campaignId: campaign.id, donorId: null, amount: 100, currency: 'usd', frequency: 'once' as const, occurredAt: new Date() };
      await expect(dataSource.transaction((tx) => recordLedgerEntry(tx, { ...base, source: 'offline' }))).rejects.toThrow(/offline key/);
      await expect(dataSource.transaction((tx) => recordLedgerEntry(tx, { ...base, source: 'offline', offlineKey: 'form:x1', stripePaymentIntentId: 'pi_offline_x1' }))).rejects.toThrow(/no Stripe ids/);
      await expect(dataSource.transaction((tx) => recordLedgerEntry(tx, { ...base, source: 'stripe', offlineKey: 'form:x2', stripePaymentIntentId: 'pi_offline_x2' }))).rejects.toThrow(/Only an offline gift/);
      expect(await keptTotals(dataSource.manager, campaign.id)).toEqual({ raised: 0, gifts: 0, donors: 0 });
    });

    it('voids an offline gift for exactly its net, once, and the gift and donor stop counting as after a full refund', async () => {
      const campaign = await newCampaign();
      const bea = await donor('offline-bea@example.org');
      const voided = (await offlineGift(campaign, bea, 120_00, 'form:ledger-b')).entryId!;
      await offlineGift(campaign, null, 5_00, 'form:ledger-c');
      await expect(voidOf(voided, 100_00)).rejects.toThrow(/counts for 12000, a void of it takes back 10000/);
      await expect(voidOf(voided, 130_00)).rejects.toThrow(LedgerError);
      const [a, b] = await Promise.all([voidOf(voided, 120_00), voidOf(voided, 120_00)]);
      expect([a.created, b.created].sort()).toEqual([false, true]);
      expect(await voidOf(voided, 120_00)).toEqual({ created: false, entryId: null });
      expect(await keptTotals(dataSource.manager, campaign.id)).toEqual({ raised: 5_00, gifts: 1, donors: 0 });
      expect(await recomputeTotals(dataSource.manager, campaign.id)).toEqual({ raised: 5_00, gifts: 1, donors: 0 });
      const rows = await dataSource.query(`SELECT kind, amount, source, donor_id FROM ledger_entries WHERE gift_entry_id = $1`, [voided]);
      expect(rows).toEqual([{ kind: 'void', amount: '-12000', source: 'offline', donor_id: bea }]);
    });

    it('voids only offline gifts, and Stripe\'s adjustments only Stripe gifts', async () => {
      const campaign = await newCampaign();
      const card = (await gift(campaign, null, 50_00, 'pi_void_refused')).entryId!;
      await expect(voidOf(card, 50_00)).rejects.toThrow(/Only an offline gift can be voided/);
      const cheque = (await offlineGift(campaign, null, 50_00, 'form:ledger-d')).entryId!;
      await expect(refund(cheque, 10_00, 're_offline_refused')).rejects.toThrow(/offline: Stripe cannot adjust it/);
      expect(await keptTotals(dataSource.manager, campaign.id)).toEqual({ raised: 100_00, gifts: 2, donors: 0 });
    });

    it('holds the same rules in the table: one void per gift, voids offline and negative, offline rows without Stripe ids, keys only on offline gifts', async () => {
      const campaign = await newCampaign();
      const cheque = (await offlineGift(campaign, null, 40_00, 'form:ledger-e')).entryId!;
      await voidOf(cheque, 40_00);
      const insert = (kind: string, amount: number, source: string, extra = '') => dataSource.query(
        `INSERT INTO ledger_entries (campaign_id, kind, amount, currency, source, gift_entry_id, occurred_at${extra ? ', stripe_refund_id' : ''})
         VALUES ($1, $2, $3, 'usd', $4, $5, now()${extra ? `, '${extra}'` : ''})`, [campaign.id, kind, amount, source, cheque]);
      await expect(insert('void', -1, 'offline')).rejects.toThrow(/ledger_entries_one_void_per_gift/);
      await expect(insert('void', -1, 'stripe')).rejects.toThrow(/ledger_entries_void_check/);
      await expect(insert('void', 1, 'offline')).rejects.toThrow(/ledger_entries_sign_check/);
      await expect(insert('refund', -1, 'offline', 're_table_check')).rejects.toThrow(/ledger_entries_offline_check/);
      await expect(dataSource.query(
        `INSERT INTO ledger_entries (campaign_id, kind, amount, currency, source, offline_key, occurred_at) VALUES ($1, 'gift', 1, 'usd', 'stripe', 'form:y', now())`,
        [campaign.id])).rejects.toThrow(/ledger_entries_offline_key_check/);
    });
  });
});
