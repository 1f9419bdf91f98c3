import { describe, it, expect } from 'vitest';
import type Stripe from 'stripe';
import { addInterval, nowSeconds } from '../../src/stripe-emulator/util';
import { emulatorWithProduct, subscribe as subscribeWith, typesSince } from './helpers';

const env = emulatorWithProduct();

const PAID_INVOICE = ['invoice.created', 'invoice.finalized', 'charge.succeeded', 'payment_intent.succeeded', 'invoice.paid', 'invoice.payment_succeeded'];

const subscribe = (session: Partial<Stripe.Checkout.SessionCreateParams> = {}) => subscribeWith(env, env.product.id, { session });

/** The price_data Kettle sends to change a plan's amount or interval. */
function newPrice(itemId: string, unitAmount: number, interval: 'month' | 'year'): Stripe.SubscriptionUpdateParams.Item[] {
  return [{ id: itemId, price_data: { currency: 'usd', product: env.product.id, unit_amount: unitAmount, recurring: { interval } } }];
}

const lastEvent = () => env.emulator.events.at(-1)!;

describe('changing the amount', () => {
  it('bills the new amount from the next renewal on, with nothing charged now', async () => {
    const { subscription } = await subscribe({ subscription_data: { metadata: { kettle_checkout_intent_id: 'intent-m', tier: 'bronze' } } });
    const itemId = subscription.items.data[0]!.id;
    const mark = env.emulator.events.length;
    const updated = await env.stripe.subscriptions.update(subscription.id, { items: newPrice(itemId, 2500, 'month'), proration_behavior: 'none', metadata: { tier: 'silver' } });
    expect(typesSince(env.emulator, mark)).toEqual(['customer.subscription.updated']);
    expect(updated.items.data[0]).toMatchObject({ id: itemId, price: { unit_amount: 2500 }, current_period_end: subscription.items.data[0]!.current_period_end });
    expect(Object.keys(lastEvent().data.previous_attributes!).sort()).toEqual(['items', 'metadata']);
    expect(lastEvent().data.previous_attributes).toMatchObject({ metadata: { tier: 'bronze' } });

    for (let renewal = 0; renewal < 2; renewal++) {
      const invoice = await env.emulator.advanceSubscription(subscription.id);
      expect(invoice).toMatchObject({ status: 'paid', billing_reason: 'subscription_cycle', amount_paid: 2500 });
      expect(invoice.lines.data[0]!.description).toBe('1 × Monthly gift (at $25.00 / month)');
      const payment = (await env.stripe.invoicePayments.list({ invoice: invoice.id })).data[0]!;
      const pi = await env.stripe.paymentIntents.retrieve(payment.payment.payment_intent as string, { expand: ['latest_charge'] });
      expect((pi.latest_charge as Stripe.Charge).amount).toBe(2500);
      // The invoice snapshots the subscription's metadata as it is now.
      expect(invoice.parent!.subscription_details!.metadata).toEqual({ kettle_checkout_intent_id: 'intent-m', tier: 'silver' });
    }
  });
});

describe('changing the interval', () => {
  it.each([
    ['month', 'year', 12_000],
    ['year', 'month', 900],
  ] as const)('%s → %s with trial_end at the period end: trialing for free until then, then the new price on the new interval', async (from, to, amount) => {
    const { subscription } = await subscribe({
      line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: 1000, product: env.product.id, recurring: { interval: from } } }],
    });
    const item = subscription.items.data[0]!;
    const periodEnd = item.current_period_end;
    const mark = env.emulator.events.length;
    const updated = await env.stripe.subscriptions.update(subscription.id, { items: newPrice(item.id, amount, to), proration_behavior: 'none', trial_end: periodEnd });

    // Stripe starts the trial with a $0 invoice: no charge, no PaymentIntent.
    expect(typesSince(env.emulator, mark)).toEqual(['invoice.created', 'invoice.finalized', 'invoice.paid', 'invoice.payment_succeeded', 'customer.subscription.updated']);
    expect(updated).toMatchObject({ status: 'trialing', trial_end: periodEnd, billing_cycle_anchor: periodEnd, latest_invoice: expect.stringMatching(/^in_/) });
    expect(updated.trial_start).toBeGreaterThanOrEqual(nowSeconds() - 5);
    expect(updated.items.data[0]).toMatchObject({ id: item.id, current_period_end: periodEnd, price: { unit_amount: amount, recurring: { interval: to } } });
    expect(lastEvent().data.previous_attributes).toMatchObject({ status: 'active', trial_start: null, trial_end: null, billing_cycle_anchor: item.current_period_start });

    const trialInvoice = await env.stripe.invoices.retrieve(updated.latest_invoice as string, { expand: ['payments'] });
    expect(trialInvoice).toMatchObject({ status: 'paid', billing_reason: 'subscription_update', amount_due: 0, amount_paid: 0, attempt_count: 0 });
    expect(trialInvoice.lines.data[0]).toMatchObject({ amount: 0, description: 'Trial period for Monthly gift', period: { end: periodEnd } });
    expect(trialInvoice.payments!.data).toEqual([]);

    // The trial ends: the new price for the new interval, and active again.
    const renewal = await env.emulator.advanceSubscription(subscription.id);
    expect(renewal).toMatchObject({ status: 'paid', billing_reason: 'subscription_cycle', amount_paid: amount });
    expect(renewal.lines.data[0]!.period).toEqual({ start: periodEnd, end: addInterval(periodEnd, to, 1) });
    const after = await env.stripe.subscriptions.retrieve(subscription.id);
    expect(after).toMatchObject({ status: 'active', trial_end: periodEnd });
    expect(lastEvent().data.previous_attributes).toMatchObject({ status: 'trialing' });

    const next = await env.emulator.advanceSubscription(subscription.id);
    expect(next.amount_paid).toBe(amount);
    expect(next.lines.data[0]!.period.start).toBe(addInterval(periodEnd, to, 1));
  });

  it('without trial_end restarts the billing cycle now and charges the new price at once (as Stripe does)', async () => {
    const { subscription } = await subscribe();
    const item = subscription.items.data[0]!;
    const mark = env.emulator.events.length;
    const updated = await env.stripe.subscriptions.update(subscription.id, { items: newPrice(item.id, 12_000, 'year'), proration_behavior: 'none' });
    expect(typesSince(env.emulator, mark)).toEqual([...PAID_INVOICE, 'customer.subscription.updated']);
    const start = updated.items.data[0]!.current_period_start;
    expect(start).toBeGreaterThanOrEqual(nowSeconds() - 5);
    expect(updated).toMatchObject({ status: 'active', billing_cycle_anchor: start, items: { data: [{ current_period_end: addInterval(start, 'year', 1) }] } });
    const invoice = await env.stripe.invoices.retrieve(updated.latest_invoice as string);
    expect(invoice).toMatchObject({ status: 'paid', billing_reason: 'subscription_update', amount_paid: 12_000 });
  });

  it('trial_end=now ends a trial: the cycle restarts and the price is charged now', async () => {
    const { subscription } = await subscribe();
    const item = subscription.items.data[0]!;
    await env.stripe.subscriptions.update(subscription.id, { items: newPrice(item.id, 12_000, 'year'), proration_behavior: 'none', trial_end: item.current_period_end });
    const mark = env.emulator.events.length;
    const ended = await env.stripe.subscriptions.update(subscription.id, { trial_end: 'now' });
    expect(typesSince(env.emulator, mark)).toEqual([...PAID_INVOICE, 'customer.subscription.updated']);
    expect(ended).toMatchObject({ status: 'active', trial_end: ended.items.data[0]!.current_period_start });
    expect((await env.stripe.invoices.retrieve(ended.latest_invoice as string)).amount_paid).toBe(12_000);
  });

  it('refuses what it cannot do, leaving the subscription as it was', async () => {
    const { subscription } = await subscribe();
    const item = subscription.items.data[0]!;
    const mark = env.emulator.events.length;
    const refused = (params: Stripe.SubscriptionUpdateParams) => expect(env.stripe.subscriptions.update(subscription.id, params)).rejects.toMatchObject({ statusCode: 400 });
    await refused({ trial_end: 'now' }); // not trialing
    await refused({ items: newPrice(item.id, 12_000, 'year'), trial_end: nowSeconds() - 60 });
    await refused({ items: newPrice(item.id, 12_000, 'year'), trial_end: nowSeconds() + 800 * 86_400 });
    await refused({ items: [{ price_data: { currency: 'usd', product: env.product.id, unit_amount: 500, recurring: { interval: 'year' } } }] }); // mixed intervals
    await refused({ metadata: { tier: 'gold' }, cancel_at: nowSeconds() + 86_400 }); // not emulated, refused by name
    await refused({ pause_collection: { behavior: 'void', resumes_at: nowSeconds() - 60 } });
    expect(typesSince(env.emulator, mark)).toEqual([]);
    expect(await env.stripe.subscriptions.retrieve(subscription.id)).toEqual(subscription);
  });
});

describe('pausing', () => {
  it('voids renewals while paused, and lifts the pause at resumes_at (customer.subscription.updated) before charging', async () => {
    const { subscription } = await subscribe();
    const periodEnd = subscription.items.data[0]!.current_period_end;
    // Skip one payment: collection resumes with the renewal after next.
    const resumesAt = addInterval(periodEnd, 'month', 1);
    const paused = await env.stripe.subscriptions.update(subscription.id, { pause_collection: { behavior: 'void', resumes_at: resumesAt } });
    expect(paused).toMatchObject({ status: 'active', pause_collection: { behavior: 'void', resumes_at: resumesAt } });

    let mark = env.emulator.events.length;
    const skipped = await env.emulator.advanceSubscription(subscription.id);
    expect(typesSince(env.emulator, mark)).toEqual(['invoice.created', 'invoice.finalized', 'invoice.voided', 'customer.subscription.updated']);
    expect(skipped).toMatchObject({ status: 'void', amount_paid: 0 });
    expect((await env.stripe.subscriptions.retrieve(subscription.id)).pause_collection).not.toBeNull();

    mark = env.emulator.events.length;
    const resumed = await env.emulator.advanceSubscription(subscription.id);
    expect(typesSince(env.emulator, mark)).toEqual(['customer.subscription.updated', ...PAID_INVOICE, 'customer.subscription.updated']);
    const lifted = env.emulator.events[mark]!;
    expect((lifted.data.object as Stripe.Subscription).pause_collection).toBeNull();
    expect(lifted.data.previous_attributes).toEqual({ pause_collection: { behavior: 'void', resumes_at: resumesAt } });
    expect(resumed).toMatchObject({ status: 'paid', amount_paid: 1000 });
  });

  it('resumes when pause_collection is set to ""', async () => {
    const { subscription } = await subscribe();
    await env.stripe.subscriptions.update(subscription.id, { pause_collection: { behavior: 'void' } });
    expect((await env.emulator.advanceSubscription(subscription.id)).status).toBe('void');
    const resumed = await env.stripe.subscriptions.update(subscription.id, { pause_collection: '' });
    expect(resumed.pause_collection).toBeNull();
    expect(lastEvent().data.previous_attributes).toEqual({ pause_collection: { behavior: 'void', resumes_at: null } });
    expect((await env.emulator.advanceSubscription(subscription.id)).status).toBe('paid');
  });
});

describe('canceling at period end', () => {
  it('keeps the donor\'s comment and feedback, and ends with the period (cancel_at_period_end stays true)', async () => {
    const { subscription } = await subscribe();
    const periodEnd = subscription.items.data[0]!.current_period_end;
    const ending = await env.stripe.subscriptions.update(subscription.id, {
      cancel_at_period_end: true,
      cancellation_details: { comment: 'Moving abroad <soon>', feedback: 'other' },
    });
    expect(ending).toMatchObject({ status: 'active', cancel_at: periodEnd, cancellation_details: { reason: 'cancellation_requested', comment: 'Moving abroad <soon>', feedback: 'other' } });

    const mark = env.emulator.events.length;
    await expect(env.emulator.advanceSubscription(subscription.id)).rejects.toThrow(/canceled/);
    expect(typesSince(env.emulator, mark)).toEqual(['customer.subscription.deleted']);
    expect(await env.stripe.subscriptions.retrieve(subscription.id)).toMatchObject({
      status: 'canceled',
      cancel_at_period_end: true,
      canceled_at: ending.canceled_at,
      cancellation_details: { reason: 'cancellation_requested', comment: 'Moving abroad <soon>', feedback: 'other' },
    });
  });
});
