import type { EntityManager } from 'typeorm';
import type { Frequency } from '../campaigns/campaign.entity';
import type { Stripe } from '../payments/stripe/stripe-client';
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

/** The card a plan is charged to, when Stripe gave the PaymentMethod (expanded), not only its id. */
export interface CardOnFile {
  paymentMethodId: string;
  brand: string | null;
  last4: string | null;
  expMonth: number | null;
  expYear: number | null;
}

export interface SubscriptionState {
  status: string;
  amount: number | null;
  currency: string | null;
  interval: string | null;
  cancelAtPeriodEnd: boolean;
  paused: boolean;
  currentPeriodEnd: Date | null;
  /** When a pause ends by itself (pause_collection.resumes_at); null when not paused or open-ended. */
  pauseResumesAt: Date | null;
  /** When a scheduled cancellation takes effect. */
  cancelAt: Date | null;
  /** When the cancellation was asked for (Stripe sets it for a scheduled one too). */
  canceledAt: Date | null;
  /** undefined: this read did not include the card (default_payment_method not expanded); the stored one stays. */
  card?: CardOnFile | null;
  /** When this state was read from Stripe: an older read never overwrites a newer one. */
  readAt: Date;
}

const dateOfSeconds = (seconds: number | null | undefined) => (seconds ? new Date(seconds * 1000) : null);

/** Kettle's view of a subscription as Stripe returned it (a webhook's re-read, or the answer to a plan change). */
export function subscriptionStateOf(sub: Stripe.Subscription, readAt: Date): SubscriptionState {
  const item = sub.items?.data?.[0];
  const method = sub.default_payment_method;
  return {
    status: sub.status,
    amount: item?.price?.unit_amount != null ? item.price.unit_amount * (item.quantity ?? 1) : null,
    currency: item?.price?.currency ?? null,
    interval: item?.price?.recurring?.interval ?? null,
    cancelAtPeriodEnd: sub.cancel_at_period_end ?? false,
    paused: sub.pause_collection != null,
    currentPeriodEnd: dateOfSeconds(item?.current_period_end),
    pauseResumesAt: dateOfSeconds(sub.pause_collection?.resumes_at),
    cancelAt: dateOfSeconds(sub.cancel_at),
    canceledAt: dateOfSeconds(sub.canceled_at),
    card: method === null ? null : typeof method === 'object' ? {
      paymentMethodId: method.id,
      brand: method.card?.brand ?? null,
      last4: method.card?.last4 ?? null,
      expMonth: method.card?.exp_month ?? null,
      expYear: method.card?.exp_year ?? null,
    } : undefined,
    readAt,
  };
}

/** Stores the newest state read, and never revives a canceled gift. */
export async function recordSubscriptionState(tx: EntityManager, subscriptionId: string, state: SubscriptionState): Promise<void> {
  const card = state.card;
  await tx.query(
    `UPDATE recurring_gifts
        SET status = $2, amount = COALESCE($3, amount), currency = COALESCE($4, currency), interval = COALESCE($5, interval),
            cancel_at_period_end = $6, paused = $7, current_period_end = COALESCE($8, current_period_end),
            pause_resumes_at = $10, cancel_at = $11, canceled_at = $12,
            stripe_payment_method_id = CASE WHEN $13 THEN $14 ELSE stripe_payment_method_id END,
            card_brand = CASE WHEN $13 THEN $15 ELSE card_brand END,
            card_last4 = CASE WHEN $13 THEN $16 ELSE card_last4 END,
            card_exp_month = CASE WHEN $13 THEN $17::integer ELSE card_exp_month END,
            card_exp_year = CASE WHEN $13 THEN $18::integer ELSE card_exp_year END,
            stripe_state_at = $9, updated_at = now()
      WHERE stripe_subscription_id = $1
        AND (stripe_state_at IS NULL OR stripe_state_at <= $9)
        AND (status <> 'canceled' OR $2 = 'canceled')`,
    [subscriptionId, state.status, state.amount, state.currency, state.interval, state.cancelAtPeriodEnd, state.paused,
      state.currentPeriodEnd, state.readAt, state.pauseResumesAt, state.cancelAt, state.canceledAt,
      card !== undefined, card?.paymentMethodId ?? null, card?.brand ?? null, card?.last4 ?? null, card?.expMonth ?? null, card?.expYear ?? null],
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
