/** Cards, PaymentIntents, charges, refunds and disputes. */
import type Stripe from 'stripe';
import { cardDetails, declineFor, type Decline } from './cards';
import { invalidRequest, noSuch } from './errors';
import { formatAmount } from './money';
import { buildCharge, buildDispute, buildPaymentIntent, buildPaymentMethod, buildRefund, type BillingDetails } from './objects';
import { getOr404, type EmulatorStore } from './store';
import { clone } from './util';

/** Stores a card as a PaymentMethod (attached to `customer` when given). The number itself is kept aside. */
export function saveCard(store: EmulatorStore, number: string, billing: BillingDetails, customer: string | null): Stripe.PaymentMethod {
  const pm = buildPaymentMethod(cardDetails(number), billing, customer);
  store.paymentMethods.set(pm.id, pm);
  store.cardNumbers.set(pm.id, number);
  return pm;
}

export function createPaymentIntent(
  store: EmulatorStore,
  p: { amount: number; currency: string; customer: string | null; metadata: Record<string, string>; description: string | null },
): Stripe.PaymentIntent {
  const pi = buildPaymentIntent({ ...p, paymentMethod: null });
  store.paymentIntents.set(pi.id, pi);
  return pi;
}

export type ConfirmResult = { ok: true; charge: Stripe.Charge } | { ok: false; decline: Decline };

/**
 * Charges the card for the PaymentIntent. Success emits `charge.succeeded` then `payment_intent.succeeded`;
 * a decline leaves the intent in `requires_payment_method` and, when asked, emits `payment_intent.payment_failed`.
 */
export function confirmPaymentIntent(
  store: EmulatorStore,
  pi: Stripe.PaymentIntent,
  pm: Stripe.PaymentMethod,
  opts: { billing: BillingDetails; emitFailure: boolean },
): ConfirmResult {
  const decline = declineFor(store.cardNumbers.get(pm.id) ?? '');
  if (decline) {
    pi.status = 'requires_payment_method';
    pi.payment_method = null;
    pi.last_payment_error = {
      type: 'card_error',
      code: decline.code,
      ...(decline.code === 'card_declined' && { decline_code: decline.declineCode }),
      message: decline.message,
      doc_url: `https://stripe.com/docs/error-codes/${decline.code.replace(/_/g, '-')}`,
      payment_method: clone(pm),
    } as Stripe.PaymentIntent.LastPaymentError;
    if (opts.emitFailure) store.emit('payment_intent.payment_failed', pi);
    return { ok: false, decline };
  }
  const charge = buildCharge({
    amount: pi.amount,
    currency: pi.currency,
    customer: typeof pi.customer === 'string' ? pi.customer : null,
    paymentIntent: pi.id,
    paymentMethod: pm,
    billing: opts.billing,
    metadata: { ...pi.metadata },
    description: pi.description,
  });
  store.charges.set(charge.id, charge);
  pi.status = 'succeeded';
  pi.payment_method = pm.id;
  pi.amount_received = pi.amount;
  pi.latest_charge = charge.id;
  pi.last_payment_error = null;
  store.emit('charge.succeeded', charge);
  store.emit('payment_intent.succeeded', pi);
  return { ok: true, charge };
}

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
  store.refunds.set(refund.id, refund);
  const previous = { amount_refunded: charge.amount_refunded, refunded: charge.refunded };
  charge.amount_refunded += amount;
  charge.refunded = charge.amount_refunded === charge.amount;
  store.emit('refund.created', refund);
  store.emit('charge.refunded', charge, previous);
  return refund;
}

/** A chargeback opened and immediately settled: `charge.dispute.created` then `charge.dispute.closed`. */
export function disputeCharge(store: EmulatorStore, chargeId: string, outcome: 'lost' | 'won'): Stripe.Dispute {
  if (outcome !== 'lost' && outcome !== 'won') throw invalidRequest('outcome must be lost or won', 'outcome');
  const charge = getOr404(store.charges, chargeId, 'charge');
  if (charge.disputed) throw invalidRequest(`Charge ${charge.id} is already disputed.`, 'charge');
  const amount = charge.amount - charge.amount_refunded;
  if (amount <= 0) throw invalidRequest(`Charge ${charge.id} has been fully refunded and cannot be disputed.`, 'charge');

  const dispute = buildDispute(charge, amount);
  store.disputes.set(dispute.id, dispute);
  charge.disputed = true;
  store.emit('charge.dispute.created', dispute);
  const previous = { status: dispute.status };
  dispute.status = outcome;
  dispute.evidence_details.has_evidence = outcome === 'won';
  store.emit('charge.dispute.closed', dispute, previous);
  return dispute;
}
