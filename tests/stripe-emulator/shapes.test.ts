import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import type { StripeEmulator } from '../../src/stripe-emulator';
import { monthlyGift, oneOffGift, withEmulator } from './helpers';
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

/** Every kind of object and event the emulator makes: paid, declined, refunded, refund failed, disputed both ways, renewed, failed renewal. */
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
  const portal = await stripe.billingPortal.sessions.create({ customer: (await stripe.subscriptions.retrieve(subscription)).customer as string });

  const fetched = [
    declinedFirst, paid, pi, portal,
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
    for (const type of ['charge.failed', 'refund.failed', 'charge.refund.updated', 'charge.dispute.funds_withdrawn', 'charge.dispute.funds_reinstated', 'invoice.payment_failed']) {
      expect(types).toContain(type);
    }
  });
});
