import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { Campaign, Frequency } from '../../src/campaigns/campaign.entity';
import { upsertDonor } from '../../src/donors/donor.service';
import { recordLedgerEntry, type NewAdjustment } from '../../src/ledger/ledger.service';
import type { TestKettle } from './kettle';

/**
 * Money in the ledger as the webhook handlers put it there (through recordLedgerEntry, one
 * transaction each), at chosen dates: for statements of past years.
 */
export function ledgerSeed(kettle: TestKettle) {
  const inTx = <T>(work: (tx: EntityManager) => Promise<T>) => kettle.dataSource.transaction(work);
  return {
    donor: async (email: string, name: string | null = null) => (await inTx((tx) => upsertDonor(tx, { email, name })))!,

    /** A gift paid at `at`: one-off by PaymentIntent, or a plan's payment by invoice (renewal after the first). */
    async gift(campaign: Campaign, donorId: string, amount: number, at: string, plan?: { frequency: Exclude<Frequency, 'once'>; subscription: string; renewal: boolean }) {
      const result = await inTx((tx) => recordLedgerEntry(tx, {
        kind: 'gift', campaignId: campaign.id, donorId, amount, currency: campaign.currency, source: 'stripe',
        frequency: plan?.frequency ?? 'once', renewal: plan?.renewal ?? false, occurredAt: new Date(at),
        ...(plan ? { stripeInvoiceId: `in_${randomUUID()}`, stripeSubscriptionId: plan.subscription } : {}),
        stripePaymentIntentId: `pi_${randomUUID()}`,
      }));
      return result.entryId!;
    },

    /** A refund, lost dispute or refund reversal of a gift, at `at`. Returns the Stripe id it was recorded with. */
    async adjust(kind: NewAdjustment['kind'], giftEntryId: string, amount: number, currency: string, at: string, stripeRefundId?: string) {
      const refundId = stripeRefundId ?? `re_${randomUUID()}`;
      await inTx((tx) => recordLedgerEntry(tx, {
        kind, giftEntryId, amount, currency, occurredAt: new Date(at),
        ...(kind === 'dispute_lost' ? { stripeDisputeId: `dp_${randomUUID()}` } : { stripeRefundId: refundId }),
      }));
      return refundId;
    },
  };
}
