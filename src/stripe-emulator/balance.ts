/**
 * Balance transactions: every succeeded charge, refund, failed refund and dispute movement gets one, with
 * Stripe's fee and the net. The card fee is Stripe's US standard, 2.9% + 30 minor units, for every currency.
 */
import type Stripe from 'stripe';
import { buildBalanceTransaction } from './builders';
import type { EmulatorStore } from './store';

/** Stripe's dispute fee (USD 15.00), charged when a dispute opens and given back if it is won. */
export const DISPUTE_FEE = 1500;

/** 2.9% + 30, rounded half up to a whole minor unit, never more than the amount. */
export function cardFee(amount: number): number {
  return Math.min(amount, Math.floor((amount * 29 + 500) / 1000) + 30);
}

function record(store: EmulatorStore, txn: Stripe.BalanceTransaction): Stripe.BalanceTransaction {
  store.balanceTransactions.set(txn.id, txn);
  return txn;
}

export function chargeTransaction(store: EmulatorStore, charge: Stripe.Charge): Stripe.BalanceTransaction {
  return record(store, buildBalanceTransaction({
    amount: charge.amount,
    currency: charge.currency,
    fees: [{ amount: cardFee(charge.amount), description: 'Stripe processing fees' }],
    type: 'charge',
    reportingCategory: 'charge',
    source: charge.id,
    description: charge.description,
  }));
}

/** Stripe keeps its processing fee on refunds: the refund's transaction has no fee. */
export function refundTransaction(store: EmulatorStore, refund: Stripe.Refund): Stripe.BalanceTransaction {
  return record(store, buildBalanceTransaction({
    amount: -refund.amount, currency: refund.currency, fees: [], type: 'refund', reportingCategory: 'refund', source: refund.id, description: 'REFUND FOR CHARGE',
  }));
}

export function refundFailureTransaction(store: EmulatorStore, refund: Stripe.Refund): Stripe.BalanceTransaction {
  return record(store, buildBalanceTransaction({
    amount: refund.amount, currency: refund.currency, fees: [], type: 'refund_failure', reportingCategory: 'refund_failure', source: refund.id, description: 'REFUND FAILURE',
  }));
}

export function disputeWithdrawal(store: EmulatorStore, dispute: Stripe.Dispute): Stripe.BalanceTransaction {
  return record(store, buildBalanceTransaction({
    amount: -dispute.amount,
    currency: dispute.currency,
    fees: [{ amount: DISPUTE_FEE, description: 'Dispute fee' }],
    type: 'adjustment',
    reportingCategory: 'dispute',
    source: dispute.id,
    description: `Chargeback withdrawal for ${dispute.charge as string}`,
  }));
}

export function disputeReinstatement(store: EmulatorStore, dispute: Stripe.Dispute): Stripe.BalanceTransaction {
  return record(store, buildBalanceTransaction({
    amount: dispute.amount,
    currency: dispute.currency,
    fees: [{ amount: -DISPUTE_FEE, description: 'Dispute fee refund' }],
    type: 'adjustment',
    reportingCategory: 'dispute_reversal',
    source: dispute.id,
    description: `Chargeback reversal for ${dispute.charge as string}`,
  }));
}
