import type { EntityManager } from 'typeorm';
import type { Frequency } from '../campaigns/campaign.entity';
import { RecurringGift } from './recurring-gift.entity';

export interface RecurringGiftLink {
  campaignId: string;
  donorId: string | null;
  intentId: string | null;
  customerId: string | null;
}

/** Creates the recurring gift if needed and fills in any link still missing; never overwrites one. Returns its id and donor. */
export async function linkRecurringGift(tx: EntityManager, subscriptionId: string, link: RecurringGiftLink): Promise<{ id: string; donorId: string | null }> {
  const [row]: { id: string; donor_id: string | null }[] = await tx.query(
    `INSERT INTO recurring_gifts (stripe_subscription_id, campaign_id, donor_id, checkout_intent_id, stripe_customer_id)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (stripe_subscription_id) DO UPDATE
        SET campaign_id = COALESCE(recurring_gifts.campaign_id, EXCLUDED.campaign_id),
            donor_id = COALESCE(recurring_gifts.donor_id, EXCLUDED.donor_id),
            checkout_intent_id = COALESCE(recurring_gifts.checkout_intent_id, EXCLUDED.checkout_intent_id),
            stripe_customer_id = COALESCE(recurring_gifts.stripe_customer_id, EXCLUDED.stripe_customer_id)
     RETURNING id, donor_id`,
    [subscriptionId, link.campaignId, link.donorId, link.intentId, link.customerId],
  );
  return { id: row.id, donorId: row.donor_id };
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
  /** The card that pays it (the subscription's default payment method), when Stripe said which. */
  card: { paymentMethodId: string; brand: string; last4: string; expMonth: number; expYear: number } | null;
  /** Paused until then (pause_collection.resumes_at); null: not paused, or until resumed by hand. */
  pauseResumesAt: Date | null;
  /** When it ends or is set to end, and when that was asked for. */
  cancelAt: Date | null;
  canceledAt: Date | null;
  /** When this state was read from Stripe: an older read never overwrites a newer one. */
  readAt: Date;
}

/**
 * Stores the newest state read, and never revives a canceled gift. Returns false when a newer
 * read was stored already (this one changed nothing).
 */
export async function recordSubscriptionState(tx: EntityManager, subscriptionId: string, state: SubscriptionState): Promise<boolean> {
  const card = state.card;
  const [, updated] = await tx.query(
    `UPDATE recurring_gifts
        SET status = $2, amount = COALESCE($3, amount), currency = COALESCE($4, currency), interval = COALESCE($5, interval),
            cancel_at_period_end = $6, paused = $7, current_period_end = COALESCE($8, current_period_end),
            stripe_payment_method_id = COALESCE($10, stripe_payment_method_id),
            card_brand = CASE WHEN $10::text IS NULL THEN card_brand ELSE $11 END,
            card_last4 = CASE WHEN $10::text IS NULL THEN card_last4 ELSE $12 END,
            card_exp_month = CASE WHEN $10::text IS NULL THEN card_exp_month ELSE $13 END,
            card_exp_year = CASE WHEN $10::text IS NULL THEN card_exp_year ELSE $14 END,
            pause_resumes_at = $15, cancel_at = $16, canceled_at = $17,
            stripe_state_at = $9, updated_at = now()
      WHERE stripe_subscription_id = $1
        AND (stripe_state_at IS NULL OR stripe_state_at <= $9)
        AND (status <> 'canceled' OR $2 = 'canceled')`,
    [subscriptionId, state.status, state.amount, state.currency, state.interval, state.cancelAtPeriodEnd, state.paused,
      state.currentPeriodEnd, state.readAt, card?.paymentMethodId ?? null, card?.brand ?? null, card?.last4 ?? null,
      card?.expMonth ?? null, card?.expYear ?? null, state.pauseResumesAt, state.cancelAt, state.canceledAt],
  ) as [unknown, number];
  return updated > 0;
}

/** Why a charge was declined, as Stripe said it (decline_code, else the error code). */
export interface Decline {
  code: string | null;
  message: string | null;
  /** The card that was declined: the plan's card "was changed since" when it is another. */
  paymentMethodId?: string | null;
}

/**
 * Counts a failed renewal attempt and keeps the newest attempt's decline and when Stripe tries again. The inbox applies each
 * event once, so this counts attempts seen.
 */
export async function recordFailedPayment(tx: EntityManager, subscriptionId: string, at: Date, decline: Decline | null, nextAttemptAt: Date | null): Promise<void> {
  await tx.query(
    `UPDATE recurring_gifts SET failed_payment_count = failed_payment_count + 1,
            next_payment_attempt_at = CASE WHEN last_payment_failed_at IS NULL OR $2 >= last_payment_failed_at THEN $6 ELSE next_payment_attempt_at END,
            last_decline_code = CASE WHEN $3::boolean AND (last_payment_failed_at IS NULL OR $2 >= last_payment_failed_at) THEN $4 ELSE last_decline_code END,
            last_decline_message = CASE WHEN $3::boolean AND (last_payment_failed_at IS NULL OR $2 >= last_payment_failed_at) THEN $5 ELSE last_decline_message END,
            last_decline_payment_method_id = CASE WHEN $3::boolean AND (last_payment_failed_at IS NULL OR $2 >= last_payment_failed_at) THEN $7 ELSE last_decline_payment_method_id END,
            last_payment_failed_at = GREATEST(last_payment_failed_at, $2), updated_at = now()
      WHERE stripe_subscription_id = $1`,
    [subscriptionId, at, decline !== null, decline?.code ?? null, decline?.message ?? null, nextAttemptAt, decline?.paymentMethodId ?? null],
  );
}
