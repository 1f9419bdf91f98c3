import type { EntityManager } from 'typeorm';
import type { Frequency } from '../campaigns/campaign.entity';
import { RecurringGift } from './recurring-gift.entity';

export interface RecurringGiftLink {
  campaignId: string;
  donorId: string | null;
  intentId: string | null;
  customerId: string | null;
}

/** Creates the recurring gift if needed and fills in any link still missing; never overwrites one. */
export async function linkRecurringGift(tx: EntityManager, subscriptionId: string, link: RecurringGiftLink): Promise<void> {
  await tx.query(
    `INSERT INTO recurring_gifts (stripe_subscription_id, campaign_id, donor_id, checkout_intent_id, stripe_customer_id)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (stripe_subscription_id) DO UPDATE
        SET campaign_id = COALESCE(recurring_gifts.campaign_id, EXCLUDED.campaign_id),
            donor_id = COALESCE(recurring_gifts.donor_id, EXCLUDED.donor_id),
            checkout_intent_id = COALESCE(recurring_gifts.checkout_intent_id, EXCLUDED.checkout_intent_id),
            stripe_customer_id = COALESCE(recurring_gifts.stripe_customer_id, EXCLUDED.stripe_customer_id)`,
    [subscriptionId, link.campaignId, link.donorId, link.intentId, link.customerId],
  );
}

export function findRecurringGift(tx: EntityManager, subscriptionId: string): Promise<RecurringGift | null> {
  return tx.getRepository(RecurringGift).findOneBy({ stripeSubscriptionId: subscriptionId });
}

export function frequencyOfInterval(interval: string | null | undefined): Frequency | null {
  return interval === 'year' ? 'annual' : interval === 'month' ? 'monthly' : null;
}

export interface SubscriptionState {
  status: string;
  amount: number | null;
  currency: string | null;
  interval: string | null;
  cancelAtPeriodEnd: boolean;
  paused: boolean;
  currentPeriodEnd: Date | null;
  /** When this state was read from Stripe: an older read never overwrites a newer one. */
  readAt: Date;
}

/** Stores the newest state read, and never revives a canceled gift. */
export async function recordSubscriptionState(tx: EntityManager, subscriptionId: string, state: SubscriptionState): Promise<void> {
  await tx.query(
    `UPDATE recurring_gifts
        SET status = $2, amount = COALESCE($3, amount), currency = COALESCE($4, currency), interval = COALESCE($5, interval),
            cancel_at_period_end = $6, paused = $7, current_period_end = COALESCE($8, current_period_end),
            stripe_state_at = $9, updated_at = now()
      WHERE stripe_subscription_id = $1
        AND (stripe_state_at IS NULL OR stripe_state_at <= $9)
        AND (status <> 'canceled' OR $2 = 'canceled')`,
    [subscriptionId, state.status, state.amount, state.currency, state.interval, state.cancelAtPeriodEnd, state.paused,
      state.currentPeriodEnd, state.readAt],
  );
}

/** Counts a failed renewal attempt. The inbox applies each event once, so this counts attempts seen. */
export async function recordFailedPayment(tx: EntityManager, subscriptionId: string, at: Date): Promise<void> {
  await tx.query(
    `UPDATE recurring_gifts SET failed_payment_count = failed_payment_count + 1,
            last_payment_failed_at = GREATEST(last_payment_failed_at, $2), updated_at = now()
      WHERE stripe_subscription_id = $1`,
    [subscriptionId, at],
  );
}
