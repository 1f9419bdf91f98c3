import { describe, it, expect } from 'vitest';
import type Stripe from 'stripe';
import { nowSeconds } from '../../src/stripe-emulator/util';
import { emulatorWithProduct, postControl, subscribe as subscribeWith, typesSince } from './helpers';

const env = emulatorWithProduct();

const subscribe = () => subscribeWith(env, env.product.id);
const DECLINED_ATTEMPT = ['charge.failed', 'payment_intent.payment_failed', 'invoice.payment_failed'];
const DAY = 86_400;

function eventsOf<T>(mark: number, type: string): T[] {
  return env.emulator.events.slice(mark).filter((e) => e.type === type).map((e) => e.data.object as T);
}

describe('a failed renewal', () => {
  it('says why the card was declined: on the charge, the PaymentIntent, and through the invoice', async () => {
    const { subscription } = await subscribe();
    const mark = env.emulator.events.length;
    const invoice = await env.emulator.advanceSubscription(subscription.id, { card: '4000 0000 0000 9995' });
    expect(invoice).toMatchObject({ status: 'open', attempt_count: 1, amount_paid: 0, amount_remaining: 1000 });
    expect(invoice.next_payment_attempt).toBeGreaterThanOrEqual(nowSeconds() + 3 * DAY - 5);

    const [charge] = eventsOf<Stripe.Charge>(mark, 'charge.failed');
    expect(charge).toMatchObject({ status: 'failed', failure_code: 'card_declined', outcome: { type: 'issuer_declined', reason: 'insufficient_funds' } });
    const [intent] = eventsOf<Stripe.PaymentIntent>(mark, 'payment_intent.payment_failed');
    expect(intent!.last_payment_error).toMatchObject({ type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' });

    // What Kettle can do with an invoice.payment_failed in hand: expand the invoice's payment's PaymentIntent.
    const expanded = await env.stripe.invoices.retrieve(invoice.id, { expand: ['payments.data.payment.payment_intent'] });
    const pi = expanded.payments!.data[0]!.payment.payment_intent as Stripe.PaymentIntent;
    expect(pi).toMatchObject({ status: 'requires_payment_method', last_payment_error: { decline_code: 'insufficient_funds' } });
    expect(await env.stripe.subscriptions.retrieve(subscription.id)).toMatchObject({ status: 'past_due', latest_invoice: invoice.id });
  });
});

describe('retrying the open invoice (Smart Retries, one attempt per call)', () => {
  it('charges the same invoice again with the current card: declined again, then paid and active', async () => {
    const { subscription } = await subscribe();
    const failed = await env.emulator.advanceSubscription(subscription.id, { card: '4000000000000341' });

    let mark = env.emulator.events.length;
    const res = await postControl(env.emulator, `/subscriptions/${subscription.id}/retry`);
    expect(res.status).toBe(200);
    const again = (await res.json()) as Stripe.Invoice;
    expect(typesSince(env.emulator, mark)).toEqual(DECLINED_ATTEMPT);
    expect(again).toMatchObject({ id: failed.id, status: 'open', attempt_count: 2 });
    expect(again.next_payment_attempt).toBeGreaterThanOrEqual(nowSeconds() + 5 * DAY - 5);

    mark = env.emulator.events.length;
    const paid = await env.emulator.retrySubscription(subscription.id, { card: { number: '4242424242424242', exp_month: 8, exp_year: 2031 } });
    expect(typesSince(env.emulator, mark)).toEqual([
      'payment_method.attached', 'charge.succeeded', 'payment_intent.succeeded', 'invoice.paid', 'invoice.payment_succeeded', 'customer.subscription.updated',
    ]);
    expect(paid).toMatchObject({ id: failed.id, status: 'paid', attempt_count: 3, amount_paid: 1000, next_payment_attempt: null });
    expect(env.emulator.events.at(-1)!.data.previous_attributes).toMatchObject({ status: 'past_due' });
    const after = await env.stripe.subscriptions.retrieve(subscription.id, { expand: ['default_payment_method'] });
    expect(after.status).toBe('active');
    expect((after.default_payment_method as Stripe.PaymentMethod).card).toMatchObject({ last4: '4242', exp_month: 8, exp_year: 2031 });

    // One invoice, one PaymentIntent, three charges.
    const payments = (await env.stripe.invoicePayments.list({ invoice: failed.id })).data;
    expect(payments).toHaveLength(1);
    expect(payments[0]).toMatchObject({ status: 'paid', amount_paid: 1000 });
    const charges = await env.stripe.charges.list({ payment_intent: payments[0]!.payment.payment_intent as string });
    expect(charges.data.map((c) => c.status)).toEqual(['succeeded', 'failed', 'failed']);

    await expect(env.emulator.retrySubscription(subscription.id)).rejects.toMatchObject({ message: expect.stringMatching(/no open invoice/) });
  });

  it('gives up after the fourth failed attempt: next_payment_attempt null, subscription canceled for payment_failed, invoice left open', async () => {
    const { subscription } = await subscribe();
    const invoice = await env.emulator.advanceSubscription(subscription.id, { card: '4000000000000341' });
    for (const attempt of [2, 3]) {
      const retried = await env.emulator.retrySubscription(subscription.id);
      expect(retried).toMatchObject({ attempt_count: attempt, next_payment_attempt: expect.any(Number) });
    }

    const mark = env.emulator.events.length;
    const last = await env.emulator.retrySubscription(subscription.id);
    expect(typesSince(env.emulator, mark)).toEqual([...DECLINED_ATTEMPT, 'customer.subscription.deleted']);
    const [failedEvent] = eventsOf<Stripe.Invoice>(mark, 'invoice.payment_failed');
    expect(failedEvent).toMatchObject({ id: invoice.id, attempt_count: 4, next_payment_attempt: null, status: 'open' });
    const [deleted] = eventsOf<Stripe.Subscription>(mark, 'customer.subscription.deleted');
    expect(deleted).toMatchObject({ id: subscription.id, status: 'canceled', cancel_at_period_end: false, cancellation_details: { reason: 'payment_failed' } });
    expect(deleted!.ended_at).toEqual(expect.any(Number));

    // "Cancel the subscription" when retries run out; the invoice stays open, no longer collected automatically.
    expect(last).toMatchObject({ status: 'open', auto_advance: false, next_payment_attempt: null, amount_remaining: 1000 });
    await expect(env.emulator.retrySubscription(subscription.id)).rejects.toThrow(/canceled/);
    await expect(env.emulator.advanceSubscription(subscription.id)).rejects.toThrow(/canceled/);
  });

  it('answers the control with clear errors', async () => {
    const { subscription } = await subscribe();
    const noOpenInvoice = await postControl(env.emulator, `/subscriptions/${subscription.id}/retry`);
    expect(noOpenInvoice.status).toBe(400);
    expect(await noOpenInvoice.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringMatching(/no open invoice/) } });
    const badCard = await postControl(env.emulator, `/subscriptions/${subscription.id}/advance`, { 'card[number]': '4242424242424241' });
    expect(await badCard.json()).toMatchObject({ error: { code: 'incorrect_number', param: 'card' } });
    expect((await postControl(env.emulator, '/subscriptions/sub_missing/retry')).status).toBe(404);
  });
});
