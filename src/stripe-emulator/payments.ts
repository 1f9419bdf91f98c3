/** Cards, PaymentIntents and charges (refunds.ts and disputes.ts take it from there). */
import type Stripe from 'stripe';
import { chargeTransaction } from './balance';
import { declineFor, type CardDetails, type Decline } from './cards';
import { buildCharge, buildPaymentIntent, buildPaymentMethod, declineOutcome, type BillingDetails } from './builders';
import type { EmulatorStore } from './store';
import { clone } from './util';

/** Stores a card as a PaymentMethod that belongs to no customer. The number itself is kept aside. */
export function saveCard(store: EmulatorStore, card: CardDetails, billing: BillingDetails): Stripe.PaymentMethod {
  return storeCard(store, card, billing, null);
}

/** Stores a card as a PaymentMethod attached to `customer`: emits `payment_method.attached`. */
export function attachCard(store: EmulatorStore, card: CardDetails, billing: BillingDetails, customer: string): Stripe.PaymentMethod {
  const pm = storeCard(store, card, billing, customer);
  store.emit('payment_method.attached', pm);
  return pm;
}

function storeCard(store: EmulatorStore, card: CardDetails, billing: BillingDetails, customer: string | null): Stripe.PaymentMethod {
  const pm = buildPaymentMethod(card, billing, customer);
  store.paymentMethods.set(pm.id, pm);
  store.cardNumbers.set(pm.id, card.number);
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
 * a decline, as on Stripe, leaves a failed charge and the intent in `requires_payment_method`, and emits
 * `charge.failed` then `payment_intent.payment_failed`.
 */
export function confirmPaymentIntent(
  store: EmulatorStore,
  pi: Stripe.PaymentIntent,
  pm: Stripe.PaymentMethod,
  opts: { billing: BillingDetails },
): ConfirmResult {
  const decline = declineFor(store.cardNumbers.get(pm.id) ?? '');
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
  pi.latest_charge = charge.id;
  if (decline) {
    Object.assign(charge, {
      amount_captured: 0,
      captured: false,
      paid: false,
      status: 'failed',
      failure_code: decline.code,
      failure_message: decline.message,
      outcome: declineOutcome(decline),
    });
    pi.status = 'requires_payment_method';
    pi.payment_method = null;
    pi.last_payment_error = {
      type: 'card_error',
      charge: charge.id,
      code: decline.code,
      ...(decline.code === 'card_declined' && { decline_code: decline.declineCode }),
      message: decline.message,
      doc_url: `https://stripe.com/docs/error-codes/${decline.code.replace(/_/g, '-')}`,
      payment_method: clone(pm),
    } as Stripe.PaymentIntent.LastPaymentError;
    store.emit('charge.failed', charge);
    store.emit('payment_intent.payment_failed', pi);
    return { ok: false, decline };
  }
  charge.balance_transaction = chargeTransaction(store, charge).id;
  pi.status = 'succeeded';
  pi.payment_method = pm.id;
  pi.amount_received = pi.amount;
  pi.last_payment_error = null;
  store.emit('charge.succeeded', charge);
  store.emit('payment_intent.succeeded', pi);
  return { ok: true, charge };
}

