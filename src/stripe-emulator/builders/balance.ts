/** Builder for balance transactions: the money a charge, refund or dispute moved, with Stripe's fee and net. */
import type Stripe from 'stripe';
import { newId, nowSeconds } from '../util';
import { shape } from './shape';

export interface FeeLine {
  amount: number;
  description: string;
}

export function buildBalanceTransaction(p: {
  amount: number;
  currency: string;
  fees: FeeLine[];
  type: Stripe.BalanceTransaction.Type;
  reportingCategory: string;
  source: string;
  description: string | null;
}): Stripe.BalanceTransaction {
  const created = nowSeconds();
  const fee = p.fees.reduce((sum, f) => sum + f.amount, 0);
  return shape<Stripe.BalanceTransaction>({
    id: newId('txn_'),
    object: 'balance_transaction',
    amount: p.amount,
    // Card payments in the US become available two days later; Stripe rounds to midnight UTC.
    available_on: Math.floor(created / 86_400) * 86_400 + 2 * 86_400,
    balance_type: 'payments',
    created,
    currency: p.currency,
    description: p.description,
    exchange_rate: null,
    fee,
    fee_details: p.fees.map((f) => ({ amount: f.amount, application: null, currency: p.currency, description: f.description, type: 'stripe_fee' })),
    net: p.amount - fee,
    reporting_category: p.reportingCategory,
    source: p.source,
    status: 'pending',
    type: p.type,
  });
}
