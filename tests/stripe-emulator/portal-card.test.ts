import { describe, it, expect } from 'vitest';
import type Stripe from 'stripe';
import { emulatorWithProduct, formPost, subscribe, typesSince } from './helpers';

const env = emulatorWithProduct();

const ACCOUNT = 'https://kettle.example/account';

/** A customer with two gifts (as a donor who gave twice with the same email) and one canceled gift. */
async function donorWithGifts() {
  const customer = await env.stripe.customers.create({ email: `donor-${Math.random().toString(36).slice(2)}@example.org`, name: 'Ada Lovelace' });
  const gift = () => subscribe(env, env.product.id, { session: { customer: customer.id, customer_email: undefined } });
  const [first, second, canceled] = [await gift(), await gift(), await gift()];
  await env.stripe.subscriptions.cancel(canceled.subscription.id);
  return { customer, subscriptions: [first.subscription, second.subscription], canceled: canceled.subscription };
}

function cardUpdateSession(customer: string, flow: Partial<Stripe.BillingPortal.SessionCreateParams.FlowData> = {}) {
  return env.stripe.billingPortal.sessions.create({
    customer,
    return_url: ACCOUNT,
    flow_data: { type: 'payment_method_update', after_completion: { type: 'redirect', redirect: { return_url: `${ACCOUNT}?card=updated` } }, ...flow },
  });
}

describe('billing portal: payment_method_update flow', () => {
  it('opens on a card form, script-free, whose CSP lets it return to the integration', async () => {
    const { customer } = await donorWithGifts();
    const portal = await cardUpdateSession(customer.id);
    const res = await fetch(portal.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(res.headers.get('content-security-policy')).toContain('form-action \'self\' https://kettle.example');
    const html = await res.text();
    expect(html).toContain(`action="/portal/${portal.id}/payment-method"`);
    expect(html).toMatch(/<label for="card_number">/);
    expect(html).toMatch(/<label for="exp">/);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain(`href="${ACCOUNT}"`);
  });

  it('saves the card as the default for the customer and every gift not canceled, then redirects', async () => {
    const { customer, subscriptions, canceled } = await donorWithGifts();
    const portal = await cardUpdateSession(customer.id);
    const mark = env.emulator.events.length;
    const res = await fetch(`${env.emulator.url}/portal/${portal.id}/payment-method`, formPost({ card_number: '5555 5555 5555 4444', exp: '03 / 31' }));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${ACCOUNT}?card=updated`);
    expect(typesSince(env.emulator, mark)).toEqual(['payment_method.attached', 'customer.updated', 'customer.subscription.updated', 'customer.subscription.updated']);

    const pm = env.emulator.events[mark]!.data.object as Stripe.PaymentMethod;
    expect(await env.stripe.paymentMethods.retrieve(pm.id)).toMatchObject({ type: 'card', customer: customer.id, card: { brand: 'mastercard', last4: '4444', exp_month: 3, exp_year: 2031 } });
    const updated = env.emulator.events[mark + 1]!;
    expect(updated.data.previous_attributes).toEqual({ invoice_settings: { default_payment_method: null } });
    expect((await env.stripe.customers.retrieve(customer.id)) as Stripe.Customer).toMatchObject({ invoice_settings: { default_payment_method: pm.id } });
    for (const [i, sub] of subscriptions.entries()) {
      expect(env.emulator.events[mark + 2 + i]!.data.previous_attributes).toEqual({ default_payment_method: sub.default_payment_method });
      const now = await env.stripe.subscriptions.retrieve(sub.id, { expand: ['default_payment_method'] });
      expect((now.default_payment_method as Stripe.PaymentMethod).card).toMatchObject({ last4: '4444', exp_month: 3, exp_year: 2031 });
    }
    expect((await env.stripe.subscriptions.retrieve(canceled.id)).default_payment_method).toBe(canceled.default_payment_method);

    // The next renewal charges the new card.
    const renewal = await env.emulator.advanceSubscription(subscriptions[0]!.id);
    const payment = (await env.stripe.invoicePayments.list({ invoice: renewal.id })).data[0]!;
    expect(await env.stripe.paymentIntents.retrieve(payment.payment.payment_intent as string)).toMatchObject({ status: 'succeeded', payment_method: pm.id });
  });

  it('refuses declined and invalid cards on the page, changing nothing; 0341 saves and fails only when charged', async () => {
    const { customer, subscriptions } = await donorWithGifts();
    const portal = await cardUpdateSession(customer.id);
    const post = (fields: Record<string, string>) => fetch(`${env.emulator.url}/portal/${portal.id}/payment-method`, formPost(fields));
    const mark = env.emulator.events.length;

    const declined = await post({ card_number: '4000 0000 0000 0002', exp: '12/40' });
    expect(declined.status).toBe(402);
    expect(await declined.text()).toMatch(/id="card-error"[^>]*>Your card was declined\./);
    const invalid = await post({ card_number: '4242 4242 4242 4241', exp: '13/40', cvc: '1' });
    expect(invalid.status).toBe(400);
    const html = await invalid.text();
    expect(html).toContain('Your card number is invalid.');
    expect(html).toContain('Your card&#x27;s expiration month is invalid.');
    expect(html).toContain('Your card&#x27;s security code is incomplete.');
    expect((await post({ card_number: '4242424242424242', exp: '01/20' })).status).toBe(400);
    expect(typesSince(env.emulator, mark)).toEqual([]);

    expect((await post({ card_number: '4000 0000 0000 0341', exp: '12/40', cvc: '123' })).status).toBe(303);
    const renewal = await env.emulator.advanceSubscription(subscriptions[0]!.id);
    expect(renewal).toMatchObject({ status: 'open', attempt_count: 1 });
  });

  it('does not pay a past_due gift\'s open invoice: its next retry does, with the new card', async () => {
    const { customer, subscriptions } = await donorWithGifts();
    const sub = subscriptions[0]!;
    const open = await env.emulator.advanceSubscription(sub.id, { card: '4000000000000341' });
    const portal = await cardUpdateSession(customer.id);
    await fetch(`${env.emulator.url}/portal/${portal.id}/payment-method`, formPost({ card_number: '4242 4242 4242 4242', exp: '10 / 2030' }));
    expect(await env.stripe.invoices.retrieve(open.id)).toMatchObject({ status: 'open', attempt_count: 1 });
    expect((await env.stripe.subscriptions.retrieve(sub.id)).status).toBe('past_due');

    expect(await env.emulator.retrySubscription(sub.id)).toMatchObject({ id: open.id, status: 'paid' });
    expect((await env.stripe.subscriptions.retrieve(sub.id)).status).toBe('active');
  });

  it('after completion: the portal homepage by default (as on Stripe), or a hosted confirmation', async () => {
    const { customer } = await donorWithGifts();
    const card = { card_number: '4242 4242 4242 4242', exp: '10 / 30' };

    const homepage = await cardUpdateSession(customer.id, { after_completion: { type: 'portal_homepage' } });
    const toHome = await fetch(`${env.emulator.url}/portal/${homepage.id}/payment-method`, formPost(card));
    expect(toHome.headers.get('location')).toBe(`/portal/${homepage.id}?done=payment_method`);
    const home = await (await fetch(`${env.emulator.url}${toHome.headers.get('location')!}`)).text();
    expect(home).toContain('Your payment method was updated.');
    expect(home).toMatch(/visa<\/span> •••• 4242 · expires 10\/2030/);
    expect(home).toContain(`href="${ACCOUNT}"`);

    const confirmation = await cardUpdateSession(customer.id, { after_completion: { type: 'hosted_confirmation', hosted_confirmation: { custom_message: 'Thanks <b>for</b> keeping your gift going' } } });
    const toConfirmation = await fetch(`${env.emulator.url}/portal/${confirmation.id}/payment-method`, formPost(card));
    const confirmed = await (await fetch(`${env.emulator.url}${toConfirmation.headers.get('location')!}`)).text();
    expect(confirmed).toContain('Thanks &lt;b&gt;for&lt;/b&gt; keeping your gift going');
    expect(confirmed).toContain(`href="${ACCOUNT}"`);
  });
});

describe('billing portal homepage', () => {
  it('shows the card on file and links to the payment method form', async () => {
    const { customer } = await donorWithGifts();
    const portal = await env.stripe.billingPortal.sessions.create({ customer: customer.id, return_url: ACCOUNT });
    const html = await (await fetch(portal.url)).text();
    expect(html).toMatch(/visa<\/span> •••• 4242 · expires 12\/\d{4}/);
    expect(html).toContain(`href="/portal/${portal.id}/payment-method"`);
    const form = await fetch(`${env.emulator.url}/portal/${portal.id}/payment-method`);
    expect(await form.text()).toContain(`href="/portal/${portal.id}"`);
    expect((await fetch(`${env.emulator.url}/portal/bps_missing/payment-method`)).status).toBe(404);
  });
});
