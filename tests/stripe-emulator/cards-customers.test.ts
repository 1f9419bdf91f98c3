import { describe, it, expect } from 'vitest';
import type Stripe from 'stripe';
import { emulatorWithProduct, formPost, monthlyGift, postControl, typesSince } from './helpers';

const env = emulatorWithProduct();

/** The card a paid subscription session saved, read as Kettle would: the subscription with its card expanded. */
async function savedCard(sessionId: string): Promise<Stripe.PaymentMethod> {
  const session = await env.stripe.checkout.sessions.retrieve(sessionId);
  const sub = await env.stripe.subscriptions.retrieve(session.subscription as string, { expand: ['default_payment_method'] });
  const pm = sub.default_payment_method as Stripe.PaymentMethod;
  expect(await env.stripe.paymentMethods.retrieve(pm.id)).toEqual(pm);
  return pm;
}

describe('card expiry', () => {
  it('is chosen through emulator.pay(), the pay control and the hosted page; December three years on otherwise', async () => {
    const byApi = await env.stripe.checkout.sessions.create(monthlyGift(env.product.id));
    expect(await env.emulator.pay(byApi.id, { number: '4242424242424242', exp_month: 5, exp_year: 2027 })).toMatchObject({ ok: true });
    expect((await savedCard(byApi.id)).card).toMatchObject({ brand: 'visa', last4: '4242', exp_month: 5, exp_year: 2027 });

    const byControl = await env.stripe.checkout.sessions.create(monthlyGift(env.product.id));
    const res = await postControl(env.emulator, `/checkout/${byControl.id}/pay`, { 'card[number]': '5555555555554444', 'card[exp_month]': '11', 'card[exp_year]': '2029' });
    expect(await res.json()).toMatchObject({ ok: true });
    expect((await savedCard(byControl.id)).card).toMatchObject({ brand: 'mastercard', exp_month: 11, exp_year: 2029 });

    const byPage = await env.stripe.checkout.sessions.create(monthlyGift(env.product.id));
    const page = await fetch(byPage.url!, formPost({ card_number: '4242 4242 4242 4242', exp: '04 / 30', cvc: '123', name: 'Page Donor' }));
    expect(page.status).toBe(303);
    expect((await savedCard(byPage.id)).card).toMatchObject({ exp_month: 4, exp_year: 2030 });

    const byDefault = await env.stripe.checkout.sessions.create(monthlyGift(env.product.id));
    await env.emulator.pay(byDefault.id, { number: '4242424242424242' });
    expect((await savedCard(byDefault.id)).card).toMatchObject({ exp_month: 12, exp_year: new Date().getUTCFullYear() + 3 });
  });

  it('refuses an expiry in the past or out of range, as Stripe does, leaving the session open', async () => {
    const session = await env.stripe.checkout.sessions.create(monthlyGift(env.product.id));
    const thisYear = new Date().getUTCFullYear();
    expect(await env.emulator.pay(session.id, { number: '4242424242424242', exp_month: 12, exp_year: thisYear - 1 })).toEqual({
      ok: false, declineCode: 'invalid_expiry_year', message: "Your card's expiration year is invalid.",
    });
    expect(await env.emulator.pay(session.id, { number: '4242424242424242', exp_month: 13, exp_year: thisYear + 1 })).toMatchObject({ ok: false, declineCode: 'invalid_expiry_month' });
    const res = await postControl(env.emulator, `/checkout/${session.id}/pay`, { 'card[number]': '4242424242424242', 'card[exp_month]': 'May' });
    expect(res.status).toBe(400);
    expect((await env.stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');
  });
});

describe('subscription Checkout for an existing customer', () => {
  it('uses that customer: its email is locked, the subscription and the card are its own, no new customer', async () => {
    const customer = await env.stripe.customers.create({ email: 'known@example.org', name: 'Known Donor' });
    const session = await env.stripe.checkout.sessions.create(monthlyGift(env.product.id, { customer: customer.id, customer_email: undefined }));
    const html = await (await fetch(session.url!)).text();
    expect(html).toMatch(/value="known@example.org" readonly/);

    const mark = env.emulator.events.length;
    const res = await fetch(session.url!, formPost({ email: 'someone-else@example.org', card_number: '4242 4242 4242 4242', exp: '09 / 31', cvc: '123' }));
    expect(res.status).toBe(303);
    const types = typesSince(env.emulator, mark);
    expect(types).not.toContain('customer.created');
    expect(types.slice(0, 2)).toEqual(['payment_method.attached', 'customer.subscription.created']);

    const done = await env.stripe.checkout.sessions.retrieve(session.id, { expand: ['subscription'] });
    expect(done).toMatchObject({ status: 'complete', customer: customer.id, customer_details: { email: 'known@example.org', name: 'Known Donor' } });
    const sub = done.subscription as Stripe.Subscription;
    expect(sub.customer).toBe(customer.id);
    const pm = await env.stripe.paymentMethods.retrieve(sub.default_payment_method as string);
    expect(pm).toMatchObject({ customer: customer.id, card: { exp_month: 9, exp_year: 2031 }, billing_details: { email: 'known@example.org' } });
    expect((await env.stripe.subscriptions.list({ customer: customer.id })).data.map((s) => s.id)).toEqual([sub.id]);
  });
});

describe('customers.update invoice_settings.default_payment_method', () => {
  it('takes a card attached to the customer, refuses another customer\'s, and unsets with ""', async () => {
    const session = await env.stripe.checkout.sessions.create(monthlyGift(env.product.id));
    await env.emulator.pay(session.id, { number: '4242424242424242' });
    const done = await env.stripe.checkout.sessions.retrieve(session.id, { expand: ['subscription'] });
    const pm = (done.subscription as Stripe.Subscription).default_payment_method as string;
    const customer = done.customer as string;

    const set = await env.stripe.customers.update(customer, { invoice_settings: { default_payment_method: pm } });
    expect(set.invoice_settings.default_payment_method).toBe(pm);
    expect(env.emulator.events.at(-1)!.data.previous_attributes).toEqual({ invoice_settings: { default_payment_method: null } });
    const expanded = await env.stripe.customers.retrieve(customer, { expand: ['invoice_settings.default_payment_method'] }) as Stripe.Customer;
    expect((expanded.invoice_settings.default_payment_method as Stripe.PaymentMethod).id).toBe(pm);

    const other = await env.stripe.customers.create({ email: 'other@example.org' });
    await expect(env.stripe.customers.update(other.id, { invoice_settings: { default_payment_method: pm } })).rejects.toMatchObject({ statusCode: 400 });
    expect((await env.stripe.customers.update(customer, { invoice_settings: { default_payment_method: '' } })).invoice_settings.default_payment_method).toBeNull();
  });
});
