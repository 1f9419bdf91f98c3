import { describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import type { StripeEmulator } from '../../src/stripe-emulator';
import { monthlyGift, oneOffGift, typesSince, withEmulator } from './helpers';

let emulator: StripeEmulator;
let stripe: Stripe;

withEmulator((started) => ({ emulator, stripe } = started));

async function paidCharge(amount = 2500): Promise<Stripe.Charge> {
  const gift = oneOffGift();
  gift.line_items![0]!.price_data!.unit_amount = amount;
  const session = await stripe.checkout.sessions.create(gift);
  await emulator.pay(session.id, { number: '4242424242424242' });
  const pi = await stripe.paymentIntents.retrieve((await stripe.checkout.sessions.retrieve(session.id)).payment_intent as string);
  return stripe.charges.retrieve(pi.latest_charge as string);
}

describe('declined cards', () => {
  it('leave a failed charge with the decline, emitted as charge.failed before payment_intent.payment_failed', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift());
    const mark = emulator.events.length;
    const result = await emulator.pay(session.id, { number: '4000000000009995' });
    expect(result).toMatchObject({ ok: false, declineCode: 'insufficient_funds' });
    expect(typesSince(emulator, mark)).toEqual(['charge.failed', 'payment_intent.payment_failed']);

    const pi = await stripe.paymentIntents.retrieve((await stripe.checkout.sessions.retrieve(session.id)).payment_intent as string);
    expect(pi.status).toBe('requires_payment_method');
    expect(pi.last_payment_error).toMatchObject({ type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', charge: pi.latest_charge });
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({
      status: 'failed',
      paid: false,
      captured: false,
      amount: 2500,
      amount_captured: 0,
      balance_transaction: null,
      failure_code: 'card_declined',
      failure_message: 'Your card has insufficient funds.',
      outcome: { network_status: 'declined_by_network', type: 'issuer_declined', reason: 'insufficient_funds' },
    });
    expect((await stripe.charges.list({ payment_intent: pi.id })).data.map((c) => c.status)).toEqual(['failed']);
    await expect(stripe.refunds.create({ charge: charge.id })).rejects.toMatchObject({ statusCode: 400, code: 'charge_not_refundable' });

    // A second try with a good card: a second, succeeded charge on the same PaymentIntent.
    await emulator.pay(session.id, { number: '4242424242424242' });
    expect((await stripe.charges.list({ payment_intent: pi.id })).data.map((c) => c.status)).toEqual(['succeeded', 'failed']);
  });

  it('fail a renewal with charge.failed too', async () => {
    const product = await stripe.products.create({ name: 'Monthly' });
    const session = await stripe.checkout.sessions.create(monthlyGift(product.id));
    await emulator.pay(session.id, { number: '4242424242424242' });
    const subscription = (await stripe.checkout.sessions.retrieve(session.id)).subscription as string;
    const mark = emulator.events.length;
    await emulator.advanceSubscription(subscription, { card: '4000000000000341' });
    const types = typesSince(emulator, mark);
    expect(types.indexOf('charge.failed')).toBeGreaterThan(-1);
    expect(types.indexOf('charge.failed')).toBeLessThan(types.indexOf('payment_intent.payment_failed'));
    expect(types.indexOf('payment_intent.payment_failed')).toBeLessThan(types.indexOf('invoice.payment_failed'));
  });
});

describe('balance transactions', () => {
  it('give every succeeded charge its amount, Stripe fee (2.9% + 30) and net', async () => {
    const charge = await paidCharge(2500);
    expect(charge.balance_transaction).toMatch(/^txn_/);
    const txn = await stripe.balanceTransactions.retrieve(charge.balance_transaction as string);
    expect(txn).toMatchObject({
      object: 'balance_transaction',
      amount: 2500,
      fee: 103, // 72.5 rounded half up, + 30
      net: 2397,
      currency: 'usd',
      type: 'charge',
      reporting_category: 'charge',
      source: charge.id,
      status: 'pending',
      fee_details: [{ amount: 103, currency: 'usd', type: 'stripe_fee', description: 'Stripe processing fees', application: null }],
    });
    expect(txn.available_on).toBeGreaterThan(txn.created);

    const expanded = await stripe.charges.retrieve(charge.id, { expand: ['balance_transaction'] });
    expect((expanded.balance_transaction as Stripe.BalanceTransaction).id).toBe(txn.id);
  });

  it('give refunds theirs (no fee given back) and disputes theirs (with the dispute fee); list by source and type', async () => {
    const charge = await paidCharge(10_000);
    const refund = await stripe.refunds.create({ charge: charge.id, amount: 4000 });
    const refundTxn = await stripe.balanceTransactions.retrieve(refund.balance_transaction as string);
    expect(refundTxn).toMatchObject({ type: 'refund', reporting_category: 'refund', amount: -4000, fee: 0, net: -4000, source: refund.id });

    const dispute = await emulator.disputeCharge(charge.id, 'lost');
    expect(dispute.balance_transactions).toHaveLength(1);
    expect(dispute.balance_transactions[0]).toMatchObject({ type: 'adjustment', reporting_category: 'dispute', amount: -6000, fee: 1500, net: -7500, source: dispute.id });

    const bySource = await stripe.balanceTransactions.list({ source: charge.id });
    expect(bySource.data.map((t) => t.id)).toEqual([charge.balance_transaction]);
    const refunds = await stripe.balanceTransactions.list({ type: 'refund', limit: 100 });
    expect(refunds.data.map((t) => t.id)).toContain(refundTxn.id);
    expect(refunds.data.every((t) => t.type === 'refund')).toBe(true);

    const all = await stripe.balanceTransactions.list({ limit: 100 });
    const ofThisGift = all.data.filter((t) => [charge.id, refund.id, dispute.id].includes(t.source as string));
    // What this gift left in the balance: 100.00 - fee 3.20 - 40.00 refunded - 60.00 and 15.00 disputed.
    expect(ofThisGift.reduce((sum, t) => sum + t.net, 0)).toBe(10_000 - 320 - 4000 - 6000 - 1500);
  });

  it('answer 404 for an unknown id, like Stripe', async () => {
    await expect(stripe.balanceTransactions.retrieve('txn_missing')).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });
});
