import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import type { StripeEmulator } from '../../src/stripe-emulator';
import { formPost, monthlyGift, oneOffGift, withEmulator } from './helpers';
import { StripeShapes } from './type-shapes';

let emulator: StripeEmulator;
let stripe: Stripe;
withEmulator((started) => ({ emulator, stripe } = started));

/** Where stripe-node 23.1 declares the type of each `object` value the emulator sends: [resources file, interface]. */
const TYPE_OF_OBJECT: Record<string, [string, string]> = {
  'checkout.session': ['Checkout/Sessions.d.ts', 'Session'],
  payment_intent: ['PaymentIntents.d.ts', 'PaymentIntent'],
  charge: ['Charges.d.ts', 'Charge'],
  refund: ['Refunds.d.ts', 'Refund'],
  invoice: ['Invoices.d.ts', 'Invoice'],
  invoice_payment: ['InvoicePayments.d.ts', 'InvoicePayment'],
  subscription: ['Subscriptions.d.ts', 'Subscription'],
  customer: ['Customers.d.ts', 'Customer'],
  dispute: ['Disputes.d.ts', 'Dispute'],
  balance_transaction: ['BalanceTransactions.d.ts', 'BalanceTransaction'],
  product: ['Products.d.ts', 'Product'],
  price: ['Prices.d.ts', 'Price'],
  payment_method: ['PaymentMethods.d.ts', 'PaymentMethod'],
  'billing_portal.session': ['BillingPortal/Sessions.d.ts', 'Session'],
};

/**
 * Every kind of object and event the emulator makes: paid, declined, refunded, refund failed, disputed both ways,
 * renewed, failed renewal retried until Stripe gives up, amount and interval changes (a trial's $0 invoice), a pause
 * lifted, the portal's card update.
 */
async function everyKindOfObject(): Promise<{ label: string; object: { object: string } }[]> {
  const declinedFirst = await stripe.checkout.sessions.create(oneOffGift());
  await emulator.pay(declinedFirst.id, { number: '4000000000000002' });
  await emulator.pay(declinedFirst.id, { number: '4242424242424242' });
  const paid = await stripe.checkout.sessions.retrieve(declinedFirst.id);
  const pi = await stripe.paymentIntents.retrieve(paid.payment_intent as string);
  const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 500 });
  await emulator.failRefund(refund.id);
  await emulator.disputeCharge(pi.latest_charge as string, 'won');
  const other = await stripe.checkout.sessions.create(oneOffGift());
  await emulator.pay(other.id, { number: '4242424242424242' });
  await emulator.disputeCharge((await stripe.paymentIntents.retrieve((await stripe.checkout.sessions.retrieve(other.id)).payment_intent as string)).latest_charge as string, 'lost');

  const product = await stripe.products.create({ name: 'Monthly' });
  const monthly = await stripe.checkout.sessions.create(monthlyGift(product.id));
  await emulator.pay(monthly.id, { number: '4242424242424242' });
  const subscription = (await stripe.checkout.sessions.retrieve(monthly.id)).subscription as string;
  await emulator.advanceSubscription(subscription);
  await emulator.advanceSubscription(subscription, { card: '4000000000000341' });
  for (let attempt = 2; attempt <= 4; attempt++) await emulator.retrySubscription(subscription);
  const customer = (await stripe.subscriptions.retrieve(subscription)).customer as string;
  const portal = await stripe.billingPortal.sessions.create({ customer });

  const changing = await stripe.checkout.sessions.create(monthlyGift(product.id, { customer, customer_email: undefined }));
  await emulator.pay(changing.id, { number: '4242424242424242', exp_month: 6, exp_year: 2031 });
  const changed = await stripe.subscriptions.retrieve((await stripe.checkout.sessions.retrieve(changing.id)).subscription as string);
  const item = changed.items.data[0]!;
  const priceData = (interval: 'month' | 'year') => [{ id: item.id, price_data: { currency: 'usd', product: product.id, unit_amount: 12_000, recurring: { interval } } }];
  await stripe.subscriptions.update(changed.id, { items: priceData('year'), proration_behavior: 'none', trial_end: item.current_period_end });
  await emulator.advanceSubscription(changed.id);
  await stripe.subscriptions.update(changed.id, { items: priceData('month'), proration_behavior: 'none' });
  // Paused for one renewal (voided), lifted at the next.
  await stripe.subscriptions.update(changed.id, { pause_collection: { behavior: 'void', resumes_at: (await stripe.subscriptions.retrieve(changed.id)).items.data[0]!.current_period_end + 1 } });
  await emulator.advanceSubscription(changed.id);
  await emulator.advanceSubscription(changed.id);
  const cardUpdate = await stripe.billingPortal.sessions.create({ customer, flow_data: { type: 'payment_method_update' } });
  await fetch(`${emulator.url}/portal/${cardUpdate.id}/payment-method`, formPost({ card_number: '4242424242424242', exp: '01/32' }));

  const fetched = [
    declinedFirst, paid, pi, portal, cardUpdate,
    await stripe.customers.retrieve(customer),
    await stripe.subscriptions.retrieve(changed.id, { expand: ['default_payment_method'] }),
    ...(await stripe.balanceTransactions.list({ limit: 100 })).data,
    ...(await stripe.invoicePayments.list({ limit: 100 })).data,
  ];
  return [
    ...fetched.map((object) => ({ label: `GET ${object.object}`, object })),
    ...emulator.events.map((event) => ({ label: `${event.type} data.object`, object: event.data.object as { object: string } })),
  ];
}

describe('object shapes', () => {
  it("match stripe-node 23.1's generated types (API 2026-10-28.endive), events included", async () => {
    const objects = await everyKindOfObject();
    const shapes = new StripeShapes();
    const problems = new Set<string>();
    for (const { label, object } of objects) {
      const type = TYPE_OF_OBJECT[object.object];
      if (!type) throw new Error(`no type listed for object ${object.object} (${label})`);
      for (const problem of shapes.check(...type, object, label)) problems.add(problem);
    }
    for (const event of emulator.events) for (const problem of shapes.check('Events.d.ts', 'EventBase', event, `event ${event.type}`)) problems.add(problem);
    expect([...problems]).toEqual([]);
    // Every kind of event the ledger depends on was there to check.
    const types = new Set(emulator.events.map((e) => e.type));
    for (const type of [
      'charge.failed', 'refund.failed', 'charge.refund.updated', 'charge.dispute.funds_withdrawn', 'charge.dispute.funds_reinstated', 'invoice.payment_failed',
      'customer.subscription.deleted', 'invoice.voided', 'payment_method.attached', 'customer.updated',
    ]) {
      expect(types).toContain(type);
    }
  });
});
