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
});
