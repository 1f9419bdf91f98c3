import type { EntityManager } from 'typeorm';
import { cancelConfirmationMail, paymentGaveUpMail, queueMails, type QueuedMail } from '../email/outbox';
import type { Stripe } from '../payments/stripe/stripe-client';
import { recordSubscriptionState } from './recurring-gift.service';

const secondsToDate = (unixSeconds: number) => new Date(unixSeconds * 1000);

/** The recurring gift a subscription is: its row and donor. */
interface Plan {
  id: string;
  donorId: string | null;
}

/**
 * Stores a subscription's state on its recurring gift (status, amount, card, pause, end) and, in
 * the same transaction, the mail its change owes the donor (webhooks and the donor's own plan
 * changes both store what Stripe answered through here): a confirmation when it is set to end
 * or ends at someone's request, a notice when Stripe gave up collecting it. A read older than the
 * one stored changes nothing and owes nothing; the mails' keys make a repeated read owe nothing twice.
 */
export async function applySubscriptionState(tx: EntityManager, plan: Plan, sub: Stripe.Subscription, readAt: Date): Promise<void> {
  const item = sub.items?.data?.[0];
  const paymentMethod = typeof sub.default_payment_method === 'object' ? sub.default_payment_method : null;
  const card = paymentMethod?.card;
  const applied = await recordSubscriptionState(tx, sub.id, {
    status: sub.status,
    amount: item?.price?.unit_amount != null ? item.price.unit_amount * (item.quantity ?? 1) : null,
    currency: item?.price?.currency ?? null,
    interval: item?.price?.recurring?.interval ?? null,
    cancelAtPeriodEnd: sub.cancel_at_period_end ?? false,
    paused: sub.pause_collection != null,
    currentPeriodEnd: item?.current_period_end ? secondsToDate(item.current_period_end) : null,
    card: paymentMethod && card
      ? { paymentMethodId: paymentMethod.id, brand: card.brand, last4: card.last4, expMonth: card.exp_month, expYear: card.exp_year }
      : null,
    pauseResumesAt: sub.pause_collection?.resumes_at ? secondsToDate(sub.pause_collection.resumes_at) : null,
    cancelAt: sub.cancel_at ? secondsToDate(sub.cancel_at) : null,
    canceledAt: sub.canceled_at ? secondsToDate(sub.canceled_at) : null,
    readAt,
  });
  const mail = applied && plan.donorId ? mailOwed({ id: plan.id, donorId: plan.donorId }, sub) : null;
  if (mail) await queueMails(tx, [mail]);
}

function mailOwed(plan: { id: string; donorId: string }, sub: Stripe.Subscription): QueuedMail | null {
  const reason = sub.cancellation_details?.reason ?? null;
  const about = { recurringGiftId: plan.id, donorId: plan.donorId, subscriptionId: sub.id };
  // Stripe's retries failed and its settings say cancel: the plan ended unpaid.
  if (sub.status === 'canceled' && reason === 'payment_failed') return paymentGaveUpMail(about);
  // Ended by Stripe (payment failure, a dispute), not at anyone's request: no confirmation.
  if (reason === 'payment_failed' || reason === 'payment_disputed') return null;
  // canceled_at is when the cancellation was asked for (set with cancel_at_period_end too, and
  // kept when the period ends): a cancel, undo, cancel again is two requests, two mails.
  const requestedAt = sub.canceled_at ?? sub.cancel_at;
  const ending = sub.status === 'canceled' || sub.cancel_at_period_end || sub.cancel_at != null;
  return ending && requestedAt ? cancelConfirmationMail({ ...about, requestedAt }) : null;
}
