import { describe, it, expect } from 'vitest';
import type Stripe from 'stripe';
import type { StripeEmulator } from '../../src/stripe-emulator';
import { oneOffGift, typesSince, withEmulator } from './helpers';

let emulator: StripeEmulator;
let stripe: Stripe;

withEmulator((started) => ({ emulator, stripe } = started));

/** A paid 25.00 USD gift; returns its PaymentIntent and charge ids. */
async function paidGift(): Promise<{ pi: string; charge: string }> {
  const session = await stripe.checkout.sessions.create(oneOffGift());
  await emulator.pay(session.id, { number: '4242424242424242' });
  const pi = await stripe.paymentIntents.retrieve((await stripe.checkout.sessions.retrieve(session.id)).payment_intent as string);
  return { pi: pi.id, charge: pi.latest_charge as string };
}

describe('refunds', () => {
  it('refunds partially then fully; rejects over-refunds; lists by charge', async () => {
    const { pi, charge } = await paidGift();
    const mark = emulator.events.length;
    const partial = await stripe.refunds.create({ payment_intent: pi, amount: 1000, reason: 'requested_by_customer' });
    expect(partial).toMatchObject({ object: 'refund', amount: 1000, charge, payment_intent: pi, status: 'succeeded', currency: 'usd', reason: 'requested_by_customer' });
    expect(partial.id).toMatch(/^re_/);
    expect(typesSince(emulator, mark)).toEqual(['refund.created', 'charge.refunded']);
    const refundedEvent = emulator.events.at(-1)!;
    expect(refundedEvent.data.object).toMatchObject({ id: charge, amount_refunded: 1000, refunded: false });
    expect(refundedEvent.data.object).not.toHaveProperty('refunds');
    expect(refundedEvent.data.previous_attributes).toEqual({ amount_refunded: 0, refunded: false });
    expect(await stripe.charges.retrieve(charge)).toMatchObject({ amount_refunded: 1000, refunded: false });

    await expect(stripe.refunds.create({ charge, amount: 1600 })).rejects.toMatchObject({ statusCode: 400, code: 'amount_too_large', param: 'amount' });

    const rest = await stripe.refunds.create({ charge }); // default: what remains
    expect(rest.amount).toBe(1500);
    expect(await stripe.charges.retrieve(charge)).toMatchObject({ amount_refunded: 2500, refunded: true });
    await expect(stripe.refunds.create({ charge })).rejects.toMatchObject({ statusCode: 400, code: 'charge_already_refunded' });

    const listed = await stripe.refunds.list({ charge });
    expect(listed.data.map((r) => r.id)).toEqual([rest.id, partial.id]); // newest first
    expect((await stripe.refunds.list({ payment_intent: pi })).data).toHaveLength(2);
    expect((await stripe.refunds.retrieve(partial.id)).amount).toBe(1000);
  });

  it('needs a charge or payment_intent that exists', async () => {
    await expect(stripe.refunds.create({})).rejects.toMatchObject({ statusCode: 400 });
    await expect(stripe.refunds.create({ charge: 'ch_missing' })).rejects.toMatchObject({ statusCode: 400, code: 'resource_missing' });
  });

  it('refunds renewal charges the same way', async () => {
    const product = await stripe.products.create({ name: 'Monthly' });
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: 1200, product, recurring: { interval: 'month' } } as never }],
      success_url: 'https://kettle.example/ok',
    }).catch(() => null);
    expect(session).toBeNull(); // `product` must be an id, not an object
    const ok = await stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: 1200, product: product.id, recurring: { interval: 'month' } } }],
      success_url: 'https://kettle.example/ok',
    });
    await emulator.pay(ok.id, { number: '4242424242424242', email: 'r@example.org' });
    const renewal = await emulator.advanceSubscription((await stripe.checkout.sessions.retrieve(ok.id)).subscription as string);
    const withPayments = await stripe.invoices.retrieve(renewal.id, { expand: ['payments.data.payment.payment_intent'] });
    const pi = withPayments.payments!.data[0]!.payment.payment_intent as Stripe.PaymentIntent;
    const refund = await stripe.refunds.create({ payment_intent: pi.id });
    expect(refund).toMatchObject({ amount: 1200, charge: pi.latest_charge });
  });
});

describe('a refund that fails after it succeeded', () => {
  it('becomes failed, gives the money back to the charge, and emits refund.updated, charge.refund.updated, refund.failed', async () => {
    const { pi, charge } = await paidGift();
    const kept = await stripe.refunds.create({ charge, amount: 500 });
    const failing = await stripe.refunds.create({ charge, amount: 1500 });
    expect(await stripe.charges.retrieve(charge)).toMatchObject({ amount_refunded: 2000, refunded: false });
    const mark = emulator.events.length;

    const failed = await emulator.failRefund(failing.id, 'lost_or_stolen_card');
    expect(failed).toMatchObject({ id: failing.id, status: 'failed', failure_reason: 'lost_or_stolen_card', amount: 1500, payment_intent: pi });
    expect(failed.failure_balance_transaction).toMatch(/^txn_/);
    expect(typesSince(emulator, mark)).toEqual(['refund.updated', 'charge.refund.updated', 'refund.failed']);
    const [updated, chargeRefundUpdated] = emulator.events.slice(mark);
    expect(updated!.data.object).toMatchObject({ object: 'refund', id: failing.id, status: 'failed' });
    expect(updated!.data.previous_attributes).toMatchObject({ status: 'succeeded' });
    expect(chargeRefundUpdated!.data.object).toMatchObject({ object: 'refund', id: failing.id, status: 'failed' });

    // As on Stripe, the charge counts only the refunds that still hold.
    expect(await stripe.charges.retrieve(charge)).toMatchObject({ amount_refunded: 500, refunded: false });
    expect((await stripe.refunds.retrieve(failing.id)).status).toBe('failed');
    expect((await stripe.refunds.retrieve(kept.id)).status).toBe('succeeded');
    const txn = await stripe.balanceTransactions.retrieve(failed.failure_balance_transaction as string);
    expect(txn).toMatchObject({ type: 'refund_failure', reporting_category: 'refund_failure', amount: 1500, fee: 0, net: 1500, source: failing.id });

    await expect(emulator.failRefund(failing.id)).rejects.toThrow(/only a succeeded refund can fail/);
    // The money is refundable again.
    expect(await stripe.refunds.create({ charge })).toMatchObject({ amount: 2000 });
  });

  it('is also an HTTP test control, with Stripe-shaped errors', async () => {
    const { charge } = await paidGift();
    const refund = await stripe.refunds.create({ charge });
    const post = (path: string, body = '') =>
      fetch(`${emulator.url}/_emulator${path}`, { method: 'POST', headers: { Authorization: 'Bearer sk_test_x', 'Content-Type': 'application/x-www-form-urlencoded' }, body });
    const bad = await post(`/refunds/${refund.id}/fail`, 'failure_reason=bored');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { type: 'invalid_request_error', param: 'failure_reason' } });
    const res = await post(`/refunds/${refund.id}/fail`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ object: 'refund', id: refund.id, status: 'failed', failure_reason: 'expired_or_canceled_card' });
    expect((await post('/refunds/re_missing/fail')).status).toBe(404);
  });
});

describe('disputes', () => {
  it('opens and loses a dispute: created, funds_withdrawn, closed; charge disputed', async () => {
    const { pi, charge } = await paidGift();
    await stripe.refunds.create({ charge, amount: 500 });
    const mark = emulator.events.length;
    const dispute = await emulator.disputeCharge(charge, 'lost');
    expect(dispute).toMatchObject({ object: 'dispute', charge, payment_intent: pi, amount: 2000, currency: 'usd', status: 'lost', reason: 'fraudulent' });
    expect(dispute.id).toMatch(/^dp_/);
    expect(typesSince(emulator, mark)).toEqual(['charge.dispute.created', 'charge.dispute.funds_withdrawn', 'charge.dispute.closed']);
    expect(emulator.events.at(-3)!.data.object).toMatchObject({ status: 'needs_response', amount: 2000 });
    expect(emulator.events.at(-1)!.data.object).toMatchObject({ status: 'lost' });
    expect((await stripe.charges.retrieve(charge)).disputed).toBe(true);
    expect((await stripe.disputes.retrieve(dispute.id)).status).toBe('lost');
    await expect(stripe.refunds.create({ charge })).rejects.toMatchObject({ code: 'charge_disputed' });
    await expect(emulator.disputeCharge(charge, 'won')).rejects.toThrow(/already disputed/);
  });

  it('is also reachable over HTTP as a test control', async () => {
    const { charge } = await paidGift();
    const res = await fetch(`${emulator.url}/_emulator/charges/${charge}/dispute`, {
      method: 'POST',
      headers: { Authorization: 'Bearer sk_test_x', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'outcome=won',
    });
    expect(res.status).toBe(200);
    const dispute = (await res.json()) as Stripe.Dispute;
    expect(dispute).toMatchObject({ object: 'dispute', status: 'won', charge });
    // Won: the funds withdrawn when it opened come back, fee included.
    const events = emulator.events.filter((e) => (e.data.object as { id: string }).id === dispute.id).map((e) => e.type);
    expect(events).toEqual(['charge.dispute.created', 'charge.dispute.funds_withdrawn', 'charge.dispute.closed', 'charge.dispute.funds_reinstated']);
    expect(dispute.balance_transactions.map((t) => [t.reporting_category, t.amount, t.fee, t.net])).toEqual([
      ['dispute', -2500, 1500, -4000],
      ['dispute_reversal', 2500, -1500, 4000],
    ]);
    const unauthorised = await fetch(`${emulator.url}/_emulator/charges/${charge}/dispute`, { method: 'POST', body: 'outcome=won' });
    expect(unauthorised.status).toBe(401);
  });
});
