import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type Stripe from 'stripe';
import type { StripeEmulator } from '../../src/stripe-emulator';
import { formPost, oneOffGift, postControl, startEmulator, startWebhookReceiver, typesSince } from './helpers';

let emulator: StripeEmulator;
let stripe: Stripe;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  ({ emulator, stripe } = await startEmulator({ webhook: { url: receiver.url, secret: 'whsec_pages' } }));
});
afterAll(async () => {
  await emulator.close();
  await receiver.close();
});

const goodCard = { email: 'page@example.org', name: 'Page Donor', card_number: '4242 4242 4242 4242', exp: '12 / 40', cvc: '123' };

describe('hosted checkout page', () => {
  it('renders a test-mode page with the amount, escaped product name, prefilled email and a Donate button', async () => {
    const session = await stripe.checkout.sessions.create(
      oneOffGift({ line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: 2500, product_data: { name: '<script>alert("x")</script> Fund' } } }] }),
    );
    const res = await fetch(session.url!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await res.text();
    expect(html).toContain('TEST MODE');
    expect(html).toContain('no real money');
    expect(html).toContain('$25.00');
    expect(html).toContain('Donate $25.00');
    expect(html).toContain('value="donor@example.org"');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
    expect(html).toContain(`href="${'https://kettle.example/give'}"`);
    expect(html).toMatch(/<label for="card_number">/);
    const css = await fetch(`${emulator.url}/assets/stripe-emulator.css`);
    expect(css.status).toBe(200);
  });

  it('shows "per month" for subscriptions and zero-decimal currencies without minor units', async () => {
    const product = await stripe.products.create({ name: 'Monthly' });
    const monthly = await stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ quantity: 1, price_data: { currency: 'jpy', unit_amount: 1500, product: product.id, recurring: { interval: 'month' } } }],
      success_url: 'https://kettle.example/ok',
    });
    const html = await (await fetch(monthly.url!)).text();
    expect(html).toContain('¥1,500');
    expect(html).toContain('per month');
    expect(html).toContain('Subscribe ¥1,500 per month');
  });

  it('POST with 4242 answers 303 to success_url with the session id, after webhooks were delivered', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift());
    const res = await fetch(session.url!, formPost(goodCard));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`https://kettle.example/thanks?session_id=${session.id}`);
    const delivered = receiver.received.map((r) => JSON.parse(r.body) as Stripe.Event);
    expect(delivered.some((e) => e.type === 'checkout.session.completed' && (e.data.object as Stripe.Checkout.Session).id === session.id)).toBe(true);
    expect((await stripe.checkout.sessions.retrieve(session.id)).customer_details).toMatchObject({ email: 'donor@example.org', name: 'Page Donor' });

    const again = await fetch(session.url ?? `${emulator.url}/checkout/${session.id}`);
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('already been paid');
  });

  it('re-renders with 402 and the decline message beside the card field', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift());
    const mark = emulator.events.length;
    const res = await fetch(session.url!, formPost({ ...goodCard, card_number: '4000 0000 0000 9995' }));
    expect(res.status).toBe(402);
    const html = await res.text();
    expect(html).toMatch(/id="card-error"[^>]*>Your card has insufficient funds\./);
    expect(html).toContain('aria-invalid="true"');
    expect(typesSince(emulator, mark)).toEqual(['charge.failed', 'payment_intent.payment_failed']);
  });

  it('re-renders with 400 for a malformed card number, expiry or CVC', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift({ customer_email: undefined }));
    const res = await fetch(session.url!, formPost({ email: 'not-an-email', card_number: '4242 4242 4242 4241', exp: '13/99', cvc: '1' }));
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('Your card number is invalid.');
    expect(html).toContain('Your email address is invalid.');
    expect(html).toContain("Your card&#x27;s expiration month is invalid.");
    expect(html).toContain("Your card&#x27;s security code is incomplete.");
    expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');
  });

  it('shows clear pages for expired and unknown sessions', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift());
    await stripe.checkout.sessions.expire(session.id);
    const expired = await fetch(`${emulator.url}/checkout/${session.id}`);
    expect(expired.status).toBe(200);
    expect(await expired.text()).toContain('expired');
    const post = await fetch(`${emulator.url}/checkout/${session.id}`, formPost(goodCard));
    expect(post.status).toBe(409);
    const missing = await fetch(`${emulator.url}/checkout/cs_test_nope`);
    expect(missing.status).toBe(404);
  });

  it('pays through the HTTP test control too', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift());
    const res = await postControl(emulator, `/checkout/${session.id}/pay`, { 'card[number]': '4242424242424242', name: 'Http' });
    expect(await res.json()).toEqual({ ok: true, redirectUrl: `https://kettle.example/thanks?session_id=${session.id}` });
  });
});

describe('billing portal page', () => {
  it('lists the customer subscriptions and cancels at period end', async () => {
    const product = await stripe.products.create({ name: 'Newsroom membership' });
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ quantity: 1, price_data: { currency: 'eur', unit_amount: 900, product: product.id, recurring: { interval: 'year' } } }],
      success_url: 'https://kettle.example/ok',
      customer_email: 'member@example.org',
    });
    await emulator.pay(session.id, { number: '4242424242424242' });
    const done = await stripe.checkout.sessions.retrieve(session.id);
    const portal = await stripe.billingPortal.sessions.create({ customer: done.customer as string, return_url: 'https://kettle.example/account' });

    const html = await (await fetch(portal.url)).text();
    expect(html).toContain('Newsroom membership');
    expect(html).toContain('€9.00');
    expect(html).toContain('per year');
    expect(html).toContain('href="https://kettle.example/account"');

    const res = await fetch(`${emulator.url}/portal/${portal.id}/subscriptions/${done.subscription as string}/cancel`, { method: 'POST', redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(await stripe.subscriptions.retrieve(done.subscription as string)).toMatchObject({ cancel_at_period_end: true, status: 'active' });
    expect(await (await fetch(`${emulator.url}${res.headers.get('location')!}`)).text()).toContain('Cancels on');
  });
});
