import { describe, it, expect } from 'vitest';
import Stripe from 'stripe';
import type { StripeEmulator } from '../../src/stripe-emulator';
import { oneOffGift, stripeFor, typesSince, withEmulator } from './helpers';

let emulator: StripeEmulator;
let stripe: Stripe;

withEmulator((started) => ({ emulator, stripe } = started));

describe('one-off Checkout Session', () => {
  it('is created open and unpaid, shaped like Stripe', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift());
    expect(session.id).toMatch(/^cs_test_[A-Za-z0-9]{24}$/);
    expect(session).toMatchObject({
      object: 'checkout.session',
      mode: 'payment',
      status: 'open',
      payment_status: 'unpaid',
      amount_total: 2500,
      amount_subtotal: 2500,
      currency: 'usd',
      customer: null,
      customer_details: null,
      payment_intent: null,
      subscription: null,
      livemode: false,
      submit_type: 'donate',
      client_reference_id: 'intent-1',
      customer_email: 'donor@example.org',
      metadata: { kettle_checkout_intent_id: 'intent-1' },
      url: `${emulator.url}/checkout/${session.id}`,
    });
    expect(session.expires_at - session.created).toBe(24 * 3600);
    const line = await stripe.checkout.sessions.listLineItems(session.id);
    expect(line.data[0]).toMatchObject({ object: 'item', amount_total: 2500, description: 'Gift to the Library Fund', quantity: 1 });
  });

  it('pays with 4242: session complete, PaymentIntent and charge retrievable, events in order', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift());
    const mark = emulator.events.length;

    const result = await emulator.pay(session.id, { number: '4242 4242 4242 4242', name: 'Ada Lovelace' });
    expect(result).toEqual({ ok: true, redirectUrl: `https://kettle.example/thanks?session_id=${session.id}` });

    const paid = await stripe.checkout.sessions.retrieve(session.id);
    expect(paid).toMatchObject({ status: 'complete', payment_status: 'paid', customer_details: { email: 'donor@example.org', name: 'Ada Lovelace' } });
    expect(paid.customer).toMatch(/^cus_/);
    expect(paid.payment_intent).toMatch(/^pi_/);

    const pi = await stripe.paymentIntents.retrieve(paid.payment_intent as string, { expand: ['latest_charge'] });
    expect(pi).toMatchObject({ status: 'succeeded', amount: 2500, amount_received: 2500, currency: 'usd', customer: paid.customer });
    expect(pi.metadata).toEqual({ kettle_checkout_intent_id: 'intent-1', kettle_campaign_id: 'camp-1' });
    const charge = pi.latest_charge as Stripe.Charge;
    expect(charge).toMatchObject({
      object: 'charge',
      amount: 2500,
      amount_captured: 2500,
      amount_refunded: 0,
      refunded: false,
      disputed: false,
      paid: true,
      status: 'succeeded',
      payment_intent: pi.id,
      billing_details: { email: 'donor@example.org', name: 'Ada Lovelace' },
      payment_method_details: { type: 'card', card: { brand: 'visa', last4: '4242' } },
    });
    expect(charge).not.toHaveProperty('refunds');
    expect((await stripe.charges.retrieve(charge.id)).id).toBe(charge.id);

    expect(typesSince(emulator, mark)).toEqual(['customer.created', 'charge.succeeded', 'payment_intent.succeeded', 'checkout.session.completed']);
    const completed = emulator.events.at(-1)!;
    expect(completed).toMatchObject({ object: 'event', api_version: '2026-10-28.endive', livemode: false, request: { id: null, idempotency_key: null } });
    expect((completed.data.object as Stripe.Checkout.Session).payment_status).toBe('paid');
  });

  it('expands payment_intent on the session', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift());
    await emulator.pay(session.id, { number: '4242424242424242' });
    const expanded = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
    expect((expanded.payment_intent as Stripe.PaymentIntent).object).toBe('payment_intent');
  });

  it('leaves no customer without customer_creation=always, but fills customer_details', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift({ customer_creation: undefined, customer_email: undefined }));
    await emulator.pay(session.id, { number: '4242424242424242', email: 'typed@example.org', name: 'Typed' });
    const paid = await stripe.checkout.sessions.retrieve(session.id);
    expect(paid.customer).toBeNull();
    expect(paid.customer_details).toMatchObject({ email: 'typed@example.org', name: 'Typed' });
  });

  it('declines a real card number, as Stripe test mode does', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift());
    const result = await emulator.pay(session.id, { number: '4532015112830366' });
    expect(result).toMatchObject({ ok: false, declineCode: 'test_mode_live_card' });
    expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');
  });

  it('declines 4000 0000 0000 0002: session stays open, a failed charge, charge.failed and payment_intent.payment_failed', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift());
    const mark = emulator.events.length;
    const result = await emulator.pay(session.id, { number: '4000000000000002' });
    expect(result).toEqual({ ok: false, declineCode: 'generic_decline', message: 'Your card was declined.' });
    expect(typesSince(emulator, mark)).toEqual(['charge.failed', 'payment_intent.payment_failed']);
    const still = await stripe.checkout.sessions.retrieve(session.id);
    expect(still).toMatchObject({ status: 'open', payment_status: 'unpaid', customer: null });

    // A retry with a good card reuses the PaymentIntent and completes the session.
    const failedPi = (emulator.events.at(-1)!.data.object as Stripe.PaymentIntent).id;
    expect(await emulator.pay(session.id, { number: '4242424242424242' })).toMatchObject({ ok: true });
    expect((await stripe.checkout.sessions.retrieve(session.id)).payment_intent).toBe(failedPi);
  });

  it('declines insufficient funds and 0341 in payment mode', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift());
    expect(await emulator.pay(session.id, { number: '4000 0000 0000 9995' })).toEqual({
      ok: false,
      declineCode: 'insufficient_funds',
      message: 'Your card has insufficient funds.',
    });
    expect(await emulator.pay(session.id, { number: '4000000000000341' })).toMatchObject({ ok: false, declineCode: 'generic_decline' });
    expect(await emulator.pay(session.id, { number: '1234 5678 9012 3456' })).toMatchObject({ ok: false, declineCode: 'incorrect_number' });
  });

  it('cannot pay a complete session twice', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift());
    await emulator.pay(session.id, { number: '4242424242424242' });
    await expect(emulator.pay(session.id, { number: '4242424242424242' })).rejects.toThrow(/already complete/);
  });

  it('expires an open session with checkout.session.expired, and refuses to expire a complete one', async () => {
    const open = await stripe.checkout.sessions.create(oneOffGift());
    const expired = await stripe.checkout.sessions.expire(open.id);
    expect(expired.status).toBe('expired');
    expect(emulator.events.at(-1)!.type).toBe('checkout.session.expired');

    const done = await stripe.checkout.sessions.create(oneOffGift());
    await emulator.pay(done.id, { number: '4242424242424242' });
    await expect(stripe.checkout.sessions.expire(done.id)).rejects.toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError' });
  });

  it('lists sessions by payment_intent', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift());
    await emulator.pay(session.id, { number: '4242424242424242' });
    const pi = (await stripe.checkout.sessions.retrieve(session.id)).payment_intent as string;
    const found = await stripe.checkout.sessions.list({ payment_intent: pi });
    expect(found.data.map((s) => s.id)).toEqual([session.id]);
  });
});

describe('validation like Stripe', () => {
  const rejects = async (params: object, param: string | RegExp) => {
    const err = await stripe.checkout.sessions.create(params as Stripe.Checkout.SessionCreateParams).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect((err as Stripe.errors.StripeError).statusCode).toBe(400);
    expect((err as Stripe.errors.StripeError).param).toMatch(param);
  };

  it('rejects payment_method_types with 400 (API 2026-10-28.endive)', async () => {
    await rejects({ ...oneOffGift(), payment_method_types: ['card'] }, 'payment_method_types');
  });

  it('requires mode, success_url and line items', async () => {
    const { mode: _mode, ...noMode } = oneOffGift();
    await rejects(noMode, 'mode');
    const { success_url: _s, ...noSuccess } = oneOffGift();
    await rejects(noSuccess, 'success_url');
    await rejects({ ...oneOffGift(), line_items: [] }, 'line_items');
  });

  it('checks mode-specific parameters', async () => {
    await rejects({ ...oneOffGift(), subscription_data: { metadata: { a: 'b' } } }, 'subscription_data');
    const recurring = { quantity: 1, price_data: { currency: 'usd', unit_amount: 500, product_data: { name: 'x' }, recurring: { interval: 'month' } } };
    await rejects({ ...oneOffGift(), line_items: [recurring] }, /recurring/);
    const sub = { mode: 'subscription', line_items: [recurring], success_url: 'https://kettle.example/ok' };
    await rejects({ ...sub, customer_creation: 'always' }, 'customer_creation');
    await rejects({ ...sub, payment_intent_data: { metadata: { a: 'b' } } }, 'payment_intent_data');
    await rejects({ ...sub, line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: 500, product_data: { name: 'x' } } }] }, /recurring/);
    await rejects({ ...sub, line_items: [{ ...recurring, price_data: { ...recurring.price_data, recurring: { interval: 'fortnight' } } }] }, /interval/);
  });

  it('checks amounts, currencies, products and unknown parameters', async () => {
    const item = (price_data: object) => ({ ...oneOffGift(), line_items: [{ quantity: 1, price_data }] });
    await rejects(item({ currency: 'usd', unit_amount: 0, product_data: { name: 'x' } }), /unit_amount/);
    await rejects(item({ currency: 'usd', unit_amount: 12.5, product_data: { name: 'x' } }), /unit_amount/);
    await rejects(item({ currency: 'zzz', unit_amount: 500, product_data: { name: 'x' } }), /currency/);
    await rejects(item({ currency: 'usd', unit_amount: 500, product: 'prod_missing' }), /product/);
    await rejects(item({ currency: 'usd', unit_amount: 500 }), /product/);
    await rejects({ ...oneOffGift(), sucess_url: 'https://typo.example' }, 'sucess_url');
  });

  it('formats zero-decimal currencies as Stripe does (amounts are minor units)', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift({ line_items: [{ quantity: 2, price_data: { currency: 'JPY', unit_amount: 1500, product_data: { name: 'x' } } }] }));
    expect(session).toMatchObject({ currency: 'jpy', amount_total: 3000 });
  });
});

describe('idempotency', () => {
  it('replays the same response for the same key and params, without new objects or events', async () => {
    const first = await stripe.checkout.sessions.create(oneOffGift(), { idempotencyKey: 'intent-42' });
    const mark = emulator.events.length;
    const sessionsBefore = (await stripe.checkout.sessions.list({ limit: 100 })).data.length;
    const again = await stripe.checkout.sessions.create(oneOffGift(), { idempotencyKey: 'intent-42' });
    expect(again.id).toBe(first.id);
    expect(again).toEqual(first);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect((await stripe.checkout.sessions.list({ limit: 100 })).data.length).toBe(sessionsBefore);
    expect(emulator.events.length).toBe(mark);
  });

  it('rejects the same key with different params', async () => {
    await stripe.checkout.sessions.create(oneOffGift(), { idempotencyKey: 'intent-43' });
    const err = await stripe.checkout.sessions.create(oneOffGift({ client_reference_id: 'other' }), { idempotencyKey: 'intent-43' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect((err as Stripe.errors.StripeError).statusCode).toBe(400);
  });

  it('records the idempotency key and request id on events caused by API calls', async () => {
    const session = await stripe.checkout.sessions.create(oneOffGift());
    await emulator.pay(session.id, { number: '4242424242424242' });
    const pi = (await stripe.checkout.sessions.retrieve(session.id)).payment_intent as string;
    const refund = await stripe.refunds.create({ payment_intent: pi }, { idempotencyKey: 'refund-1' });
    const event = emulator.events.find((e) => e.type === 'refund.created' && (e.data.object as Stripe.Refund).id === refund.id)!;
    expect(event.request).toEqual({ id: refund.lastResponse.requestId, idempotency_key: 'refund-1' });
  });
});

describe('auth and errors', () => {
  it('requires a test secret key', async () => {
    const live = stripeFor(emulator, 'sk_live_nope');
    await expect(live.customers.create({ email: 'x@example.org' })).rejects.toMatchObject({ statusCode: 401, type: 'StripeAuthenticationError' });
    const res = await fetch(`${emulator.url}/v1/customers`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringMatching(/API key/) } });
  });

  it('answers unknown routes with 404 "Unrecognized request URL" and unknown ids with resource_missing', async () => {
    const res = await fetch(`${emulator.url}/v1/nothing_here`, { headers: { Authorization: 'Bearer sk_test_x' } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringMatching(/^Unrecognized request URL/) } });
    await expect(stripe.checkout.sessions.retrieve('cs_test_missing')).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });

  it('serves products, prices and customers', async () => {
    const product = await stripe.products.create({ name: 'Library Fund' });
    const price = await stripe.prices.create({ product: product.id, currency: 'eur', unit_amount: 500, recurring: { interval: 'year' } });
    expect(await stripe.prices.retrieve(price.id)).toMatchObject({ type: 'recurring', unit_amount: 500, recurring: { interval: 'year', interval_count: 1 } });
    expect((await stripe.products.retrieve(product.id)).name).toBe('Library Fund');
    const customer = await stripe.customers.create({ email: 'c@example.org', metadata: { a: '1' } });
    const updated = await stripe.customers.update(customer.id, { name: 'C', metadata: { a: '', b: '2' } });
    expect(updated).toMatchObject({ name: 'C', metadata: { b: '2' } });
    expect(emulator.events.at(-1)).toMatchObject({ type: 'customer.updated', data: { previous_attributes: { name: null, metadata: { a: '1' } } } });
    // A session for an existing customer reuses it.
    const session = await stripe.checkout.sessions.create(oneOffGift({ customer: customer.id, customer_email: undefined, customer_creation: undefined, line_items: [{ price: (await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 700 })).id, quantity: 1 }] }));
    await emulator.pay(session.id, { number: '4242424242424242' });
    expect(await stripe.checkout.sessions.retrieve(session.id)).toMatchObject({ customer: customer.id, amount_total: 700, customer_details: { email: 'c@example.org' } });
  });
});
