import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type Stripe from 'stripe';
import type { StripeEmulator } from '../../src/stripe-emulator';
import { monthlyGift, postControl, startEmulator, subscribe as subscribeWith, typesSince } from './helpers';

/** A subscription invoice paid, as Stripe sends it: then the subscription's own update. */
const PAID_INVOICE_THEN_UPDATED = [
  'invoice.created',
  'invoice.finalized',
  'charge.succeeded',
  'payment_intent.succeeded',
  'invoice.paid',
  'invoice.payment_succeeded',
  'customer.subscription.updated',
];

let emulator: StripeEmulator;
let stripe: Stripe;
let product: Stripe.Product;

beforeAll(async () => {
  ({ emulator, stripe } = await startEmulator());
  product = await stripe.products.create({ name: 'Monthly gift' });
});
afterAll(async () => {
  await emulator.close();
});

const subscribe = (session: Partial<Stripe.Checkout.SessionCreateParams> = {}) => subscribeWith({ emulator, stripe }, product.id, { session });

describe('subscription Checkout', () => {
  it('creates customer, active subscription and a paid first invoice, with events in the order seen in the wild', async () => {
    const session = await stripe.checkout.sessions.create(monthlyGift(product.id));
    expect(session).toMatchObject({ mode: 'subscription', amount_total: 1000, subscription: null });
    const mark = emulator.events.length;
    const result = await emulator.pay(session.id, { number: '4242 4242 4242 4242', name: 'Grace Hopper' });
    expect(result.ok).toBe(true);
    expect(typesSince(emulator, mark)).toEqual([
      'customer.created',
      'payment_method.attached',
      'customer.subscription.created',
      ...PAID_INVOICE_THEN_UPDATED,
      'checkout.session.completed',
    ]);
    const subscriptionEvents = emulator.events.slice(mark).filter((e) => e.type.startsWith('customer.subscription.'));
    expect(subscriptionEvents.map((e) => (e.data.object as Stripe.Subscription).status)).toEqual(['incomplete', 'active']);
    expect(subscriptionEvents[1].data.previous_attributes).toMatchObject({ status: 'incomplete' });

    const completed = await stripe.checkout.sessions.retrieve(session.id, { expand: ['subscription'] });
    expect(completed).toMatchObject({ status: 'complete', payment_status: 'paid', customer_details: { email: 'monthly@example.org', name: 'Grace Hopper' } });
    const sub = completed.subscription as Stripe.Subscription;
    expect(sub).toMatchObject({
      object: 'subscription',
      status: 'active',
      customer: completed.customer,
      cancel_at_period_end: false,
      pause_collection: null,
      canceled_at: null,
      ended_at: null,
      metadata: { kettle_checkout_intent_id: 'intent-m', kettle_campaign_id: 'camp-1' },
      latest_invoice: completed.invoice,
    });
    expect(sub).not.toHaveProperty('current_period_start');
    const item = sub.items.data[0]!;
    expect(item.id).toMatch(/^si_/);
    expect(item).toMatchObject({ quantity: 1, price: { unit_amount: 1000, currency: 'usd', product: product.id, recurring: { interval: 'month', interval_count: 1 } } });
    expect(item.current_period_end).toBeGreaterThan(item.current_period_start + 27 * 86400);
    expect(sub.default_payment_method).toMatch(/^pm_/);
  });

  it('shapes the invoice as basil does: parent.subscription_details, no subscription/payment_intent/charge/paid, payments only with expand', async () => {
    const { session, subscription } = await subscribe();
    const invoice = await stripe.invoices.retrieve(session.invoice as string);
    for (const gone of ['subscription', 'payment_intent', 'charge', 'paid', 'payments']) expect(invoice).not.toHaveProperty(gone);
    expect(invoice).toMatchObject({
      object: 'invoice',
      status: 'paid',
      billing_reason: 'subscription_create',
      amount_due: 1000,
      amount_paid: 1000,
      amount_remaining: 0,
      currency: 'usd',
      customer: subscription.customer,
      customer_email: 'monthly@example.org',
      attempt_count: 1,
      next_payment_attempt: null,
      parent: {
        type: 'subscription_details',
        quote_details: null,
        subscription_details: { subscription: subscription.id, metadata: { kettle_checkout_intent_id: 'intent-m', kettle_campaign_id: 'camp-1' } },
      },
    });
    expect(invoice.status_transitions.paid_at).toEqual(expect.any(Number));
    expect(invoice.lines.data[0]).toMatchObject({ amount: 1000, description: '1 × Monthly gift (at $10.00 / month)' });

    const withPayments = await stripe.invoices.retrieve(invoice.id, { expand: ['payments'] });
    const payment = withPayments.payments!.data[0]!;
    expect(payment).toMatchObject({ object: 'invoice_payment', invoice: invoice.id, amount_paid: 1000, amount_requested: 1000, is_default: true, status: 'paid', payment: { type: 'payment_intent' } });
    expect(payment.id).toMatch(/^inpay_/);

    const listed = await stripe.invoicePayments.list({ invoice: invoice.id });
    expect(listed.data.map((p) => p.id)).toEqual([payment.id]);
    const pi = await stripe.paymentIntents.retrieve(payment.payment.payment_intent as string, { expand: ['latest_charge'] });
    expect(pi).toMatchObject({ status: 'succeeded', amount_received: 1000, customer: subscription.customer });
    expect((pi.latest_charge as Stripe.Charge).amount).toBe(1000);

    const bySubscription = await stripe.invoices.list({ subscription: subscription.id });
    expect(bySubscription.data.map((i) => i.id)).toEqual([invoice.id]);
  });

  it('declines 0341 on the first invoice without creating anything', async () => {
    const session = await stripe.checkout.sessions.create(monthlyGift(product.id));
    const mark = emulator.events.length;
    expect(await emulator.pay(session.id, { number: '4000000000000341' })).toEqual({ ok: false, declineCode: 'generic_decline', message: 'Your card was declined.' });
    expect(typesSince(emulator, mark)).toEqual([]);
    expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');
  });
});

describe('renewals', () => {
  it('advanceSubscription bills the next period', async () => {
    const { subscription } = await subscribe();
    const before = subscription.items.data[0]!;
    const mark = emulator.events.length;
    const invoice = await emulator.advanceSubscription(subscription.id);
    expect(typesSince(emulator, mark)).toEqual(PAID_INVOICE_THEN_UPDATED);
    expect(invoice).toMatchObject({ status: 'paid', billing_reason: 'subscription_cycle', amount_paid: 1000, parent: { subscription_details: { subscription: subscription.id } } });
    const after = await stripe.subscriptions.retrieve(subscription.id);
    expect(after.items.data[0]!.current_period_start).toBe(before.current_period_end);
    expect(after.latest_invoice).toBe(invoice.id);
    const updated = emulator.events.at(-1)!;
    expect(updated.data.previous_attributes).toHaveProperty('items');
    expect(updated.data.previous_attributes).toHaveProperty('latest_invoice');
    expect((await stripe.invoices.list({ subscription: subscription.id })).data).toHaveLength(2);
  });

  it('a failing card (0341) leaves the invoice open and the subscription past_due', async () => {
    const { subscription } = await subscribe();
    const mark = emulator.events.length;
    const invoice = await emulator.advanceSubscription(subscription.id, { card: '4000 0000 0000 0341' });
    expect(invoice).toMatchObject({ status: 'open', attempt_count: 1, amount_paid: 0, amount_remaining: 1000 });
    expect(invoice.next_payment_attempt).toEqual(expect.any(Number));
    const types = typesSince(emulator, mark);
    expect(types).toContain('invoice.payment_failed');
    expect(types).not.toContain('invoice.paid');
    expect(types.at(-1)).toBe('customer.subscription.updated');
    expect(emulator.events.at(-1)!.data.previous_attributes).toMatchObject({ status: 'active' });
    expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('past_due');
    const payments = await stripe.invoicePayments.list({ invoice: invoice.id });
    expect(payments.data[0]).toMatchObject({ status: 'open', amount_paid: null });

    // A working card brings it back (here through the HTTP test control).
    const res = await postControl(emulator, `/subscriptions/${subscription.id}/advance`, { card: '4242424242424242' });
    expect(await res.json()).toMatchObject({ object: 'invoice', status: 'paid', billing_reason: 'subscription_cycle' });
    expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('active');
  });

  it('cancel_at_period_end and cancel now', async () => {
    const { subscription } = await subscribe();
    const ending = await stripe.subscriptions.update(subscription.id, { cancel_at_period_end: true });
    expect(ending).toMatchObject({ cancel_at_period_end: true, cancel_at: subscription.items.data[0]!.current_period_end, status: 'active' });
    expect(emulator.events.at(-1)!.data.previous_attributes).toMatchObject({ cancel_at_period_end: false });
    const undone = await stripe.subscriptions.update(subscription.id, { cancel_at_period_end: false });
    expect(undone.cancel_at).toBeNull();

    const canceled = await stripe.subscriptions.cancel(subscription.id);
    expect(canceled).toMatchObject({ status: 'canceled', canceled_at: expect.any(Number), ended_at: expect.any(Number) });
    expect(emulator.events.at(-1)!.type).toBe('customer.subscription.deleted');
    await expect(emulator.advanceSubscription(subscription.id)).rejects.toThrow(/canceled/);
    await expect(stripe.subscriptions.update(subscription.id, { cancel_at_period_end: true })).rejects.toMatchObject({ statusCode: 400 });
  });

  it('rejects product_data in subscription price_data (product id required)', async () => {
    const { subscription } = await subscribe();
    await expect(
      stripe.subscriptions.update(subscription.id, {
        items: [{ id: subscription.items.data[0]!.id, price_data: { currency: 'usd', unit_amount: 500, recurring: { interval: 'month' }, product_data: { name: 'x' } } as never }],
      }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'parameter_unknown' });
  });
});

describe('billing portal', () => {
  it('creates a portal session for the customer', async () => {
    const { subscription } = await subscribe();
    const portal = await stripe.billingPortal.sessions.create({
      customer: subscription.customer as string,
      return_url: 'https://kettle.example/account',
      flow_data: { type: 'subscription_cancel', subscription_cancel: { subscription: subscription.id } },
    });
    expect(portal).toMatchObject({
      object: 'billing_portal.session',
      customer: subscription.customer,
      return_url: 'https://kettle.example/account',
      url: `${emulator.url}/portal/${portal.id}`,
      flow: { type: 'subscription_cancel', subscription_cancel: { subscription: subscription.id } },
    });
    expect(portal.id).toMatch(/^bps_/);
    await expect(stripe.billingPortal.sessions.create({ customer: 'cus_missing' })).rejects.toMatchObject({ statusCode: 400, code: 'resource_missing' });
    // Flows Stripe has that the emulator's portal page does not are refused by name.
    await expect(
      stripe.billingPortal.sessions.create({ customer: subscription.customer as string, flow_data: { type: 'subscription_pause', subscription_pause: { subscription: subscription.id } } }),
    ).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(/does not support flow_data\[type\]=subscription_pause/) });
  });
});
