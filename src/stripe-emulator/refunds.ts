/** Refunds: created at once (card refunds succeed immediately), and failed later when a test says so. */
import type Stripe from 'stripe';
import { refundFailureTransaction, refundTransaction } from './balance';
import { invalidRequest, noSuch } from './errors';
import { formatAmount } from './money';
import { buildRefund } from './builders';
import { getOr404, type EmulatorStore } from './store';
import { clone } from './util';

/** Why a card refund can fail (Stripe's `failure_reason` values for cards). */
export type RefundFailureReason = 'expired_or_canceled_card' | 'lost_or_stolen_card' | 'unknown';
export const REFUND_FAILURE_REASONS: readonly RefundFailureReason[] = ['expired_or_canceled_card', 'lost_or_stolen_card', 'unknown'];

export function createRefund(
  store: EmulatorStore,
  p: { charge?: string; paymentIntent?: string; amount?: number; reason?: Stripe.Refund.Reason; metadata: Record<string, string> },
): Stripe.Refund {
  if (p.charge && p.paymentIntent) throw invalidRequest('You can only pass one of charge or payment_intent.', 'charge');
  let charge: Stripe.Charge | undefined;
  if (p.charge) {
    charge = store.charges.get(p.charge);
    if (!charge) throw noSuch('charge', p.charge, 'charge');
  } else if (p.paymentIntent) {
    const pi = store.paymentIntents.get(p.paymentIntent);
    if (!pi) throw noSuch('payment_intent', p.paymentIntent, 'payment_intent');
    charge = typeof pi.latest_charge === 'string' ? store.charges.get(pi.latest_charge) : undefined;
    if (!charge || pi.status !== 'succeeded') {
      throw invalidRequest(`This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, 'payment_intent', 'charge_not_refundable');
    }
  } else {
    throw invalidRequest('One of the following params should be provided for this request: payment_intent or charge.', undefined, 'parameter_missing');
  }

  if (charge.status !== 'succeeded') {
    throw invalidRequest(`Charge ${charge.id} did not succeed (status ${charge.status}) and cannot be refunded.`, 'charge', 'charge_not_refundable');
  }
  const remaining = charge.amount - charge.amount_refunded;
  if (remaining <= 0) throw invalidRequest(`Charge ${charge.id} has already been refunded.`, undefined, 'charge_already_refunded');
  const dispute = [...store.disputes.values()].find((d) => d.charge === charge.id);
  if (dispute && dispute.status !== 'won') throw invalidRequest(`Charge ${charge.id} has been charged back; cannot issue a refund.`, undefined, 'charge_disputed');
  const amount = p.amount ?? remaining;
  if (amount <= 0) throw invalidRequest('Invalid positive integer', 'amount');
  if (amount > remaining) {
    throw invalidRequest(
      `Refund amount (${formatAmount(amount, charge.currency)}) is greater than unrefunded amount on charge (${formatAmount(remaining, charge.currency)})`,
      'amount',
      'amount_too_large',
    );
  }

  const refund = buildRefund({ amount, charge, reason: p.reason ?? null, metadata: p.metadata });
  refund.balance_transaction = refundTransaction(store, refund).id;
  store.refunds.set(refund.id, refund);
  const previous = { amount_refunded: charge.amount_refunded, refunded: charge.refunded };
  charge.amount_refunded += amount;
  charge.refunded = charge.amount_refunded === charge.amount;
  store.emit('refund.created', refund);
  store.emit('charge.refunded', charge, previous);
  return refund;
}

/**
 * The card network sends a succeeded refund back (the card was closed, say): the refund becomes `failed`, the
 * money returns to the balance (a `refund_failure` balance transaction) and the charge's `amount_refunded` goes
 * down by it. Emits `refund.updated`, `charge.refund.updated` and `refund.failed`, as Stripe does.
 */
export function failRefund(store: EmulatorStore, refundId: string, reason: RefundFailureReason = 'expired_or_canceled_card'): Stripe.Refund {
  if (!REFUND_FAILURE_REASONS.includes(reason)) throw invalidRequest(`Invalid failure_reason: must be one of ${REFUND_FAILURE_REASONS.join(', ')}`, 'failure_reason');
  const refund = getOr404(store.refunds, refundId, 'refund');
  if (refund.status !== 'succeeded') {
    throw invalidRequest(`Refund ${refund.id} has status ${refund.status}: only a succeeded refund can fail.`, 'refund');
  }
  const charge = getOr404(store.charges, refund.charge as string, 'charge');
  const before = { status: refund.status, failure_reason: null, failure_balance_transaction: null };
  refund.status = 'failed';
  refund.failure_reason = reason;
  refund.failure_balance_transaction = refundFailureTransaction(store, refund).id;
  charge.amount_refunded -= refund.amount;
  charge.refunded = false;
  store.emit('refund.updated', refund, before);
  store.emit('charge.refund.updated', refund, before);
  store.emit('refund.failed', refund);
  return clone(refund);
}
