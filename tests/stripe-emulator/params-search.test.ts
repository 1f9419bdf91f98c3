import { describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import type { StripeEmulator } from '../../src/stripe-emulator';
import { oneOffGift, withEmulator } from './helpers';

let emulator: StripeEmulator;
let stripe: Stripe;

withEmulator((started) => ({ emulator, stripe } = started));

/** A raw GET, to send what the typed SDK would not. */
async function get(path: string): Promise<{ status: number; body: { error?: Record<string, unknown> } & Record<string, unknown> }> {
  const res = await fetch(`${emulator.url}${path}`, { headers: { Authorization: 'Bearer sk_test_x' } });
  return { status: res.status, body: (await res.json()) as { error?: Record<string, unknown> } };
}

describe('unknown parameters', () => {
  it('answers GETs with Stripe 400 parameter_unknown, shaped as Stripe shapes it', async () => {
    const customer = await stripe.customers.create({ email: 'p@example.org' });
    const { status, body } = await get(`/v1/customers/${customer.id}?emial=p@example.org`);
    expect(status).toBe(400);
    expect(body).toEqual({
      error: {
        type: 'invalid_request_error',
        code: 'parameter_unknown',
        doc_url: 'https://stripe.com/docs/error-codes/parameter-unknown',
        message: 'Received unknown parameter: emial',
        param: 'emial',
      },
    });
    expect((await get('/v1/charges?chrage=ch_1')).body.error).toMatchObject({ code: 'parameter_unknown', param: 'chrage' });
    expect((await get('/v1/checkout/sessions/cs_x/line_items?expand[]=data.price&limit=5&foo=1')).body.error).toMatchObject({ param: 'foo' });
  });

  it('reaches the SDK as an error with the code and param', async () => {
    const params = { limit: 3, colour: 'blue' } as Stripe.RefundListParams;
    await expect(stripe.refunds.list(params)).rejects.toMatchObject({ statusCode: 400, code: 'parameter_unknown', param: 'colour' });
  });

  it('still takes every parameter the endpoints document, and expand everywhere', async () => {
    const customer = await stripe.customers.create({ email: 'known@example.org' });
    await expect(stripe.customers.retrieve(customer.id, { expand: ['default_source'] })).resolves.toMatchObject({ id: customer.id });
    await expect(stripe.customers.list({ email: 'known@example.org', limit: 2, created: { gte: 0 } })).resolves.toMatchObject({ object: 'list' });
    await expect(stripe.events.list({ types: ['customer.*'], delivery_success: false, limit: 1 })).resolves.toMatchObject({ object: 'list' });
    await expect(stripe.invoicePayments.list({ invoice: 'in_x', payment: { type: 'payment_intent', payment_intent: 'pi_x' }, created: { gte: 0 } })).resolves.toMatchObject({ data: [] });
    await expect(stripe.subscriptions.list({ created: { gte: 0 }, price: 'price_none', status: 'all' })).resolves.toMatchObject({ data: [] });
  });

  it('refuses, by name, filters Stripe has but the emulator does not apply, rather than ignoring them', async () => {
    const error = (await get('/v1/subscriptions?test_clock=clock_x')).body.error;
    expect(error).toMatchObject({ type: 'invalid_request_error', param: 'test_clock' });
    expect(error!.message).toMatch(/does not support the `test_clock` parameter/);
  });

  it('checks creates too', async () => {
    const params = { email: 'x@example.org', favourite_colour: 'blue' } as Stripe.CustomerCreateParams;
    await expect(stripe.customers.create(params)).rejects.toMatchObject({ statusCode: 400, code: 'parameter_unknown', param: 'favourite_colour' });
  });
});

describe('customers.search', () => {
  it("finds customers by email:'…', case-insensitively, newest first", async () => {
    const first = await stripe.customers.create({ email: 'search-me@example.org', name: 'First' });
    const second = await stripe.customers.create({ email: 'Search-Me@example.org', name: 'Second' });
    await stripe.customers.create({ email: 'someone-else@example.org' });
    const found = await stripe.customers.search({ query: "email:'search-me@example.org'" });
    expect(found).toMatchObject({ object: 'search_result', has_more: false, next_page: null, url: '/v1/customers/search' });
    expect(found.data.map((c) => c.id)).toEqual([second.id, first.id]);
  });

  it('supports ~ substrings, metadata, AND / OR, negation and pages', async () => {
    const a = await stripe.customers.create({ email: 'aa@pages.example', name: 'Ada Lovelace', metadata: { kettle_donor: 'd1' } });
    const b = await stripe.customers.create({ email: 'bb@pages.example', name: 'Grace Hopper', metadata: { kettle_donor: 'd2' } });
    const ids = async (query: string) => (await stripe.customers.search({ query })).data.map((c) => c.id);
    expect(await ids("name~'lovel'")).toEqual([a.id]);
    expect(await ids("metadata['kettle_donor']:'d2'")).toEqual([b.id]);
    expect(await ids("email:'aa@pages.example' OR email:'bb@pages.example'")).toEqual([b.id, a.id]);
    expect(await ids("email~'pages.example' AND -name:'Grace Hopper'")).toEqual([a.id]);

    const page1 = await stripe.customers.search({ query: "email~'pages.example'", limit: 1 });
    expect(page1).toMatchObject({ has_more: true });
    const page2 = await stripe.customers.search({ query: "email~'pages.example'", limit: 1, page: page1.next_page! });
    expect([...page1.data, ...page2.data].map((c) => c.id)).toEqual([b.id, a.id]);
    expect(page2.has_more).toBe(false);
  });

  it('answers 400 for queries outside the subset, with the reason', async () => {
    await expect(stripe.customers.search({ query: "email:'a' AND name:'b' OR phone:'c'" })).rejects.toMatchObject({ statusCode: 400, param: 'query' });
    await expect(stripe.customers.search({ query: "address:'x'" })).rejects.toThrow(/field `address` is not supported/);
    await expect(stripe.customers.search({ query: "name~'ab'" })).rejects.toThrow(/at least 3 characters/);
    await expect(stripe.customers.search({ query: 'email' })).rejects.toThrow(/cannot parse/);
  });
});

describe('ui_mode', () => {
  it('defaults to hosted_page (endive) and accepts it, and hosted as before', async () => {
    expect((await stripe.checkout.sessions.create(oneOffGift())).ui_mode).toBe('hosted_page');
    expect((await stripe.checkout.sessions.create(oneOffGift({ ui_mode: 'hosted_page' }))).ui_mode).toBe('hosted_page');
    const legacy = oneOffGift({ ui_mode: 'hosted' as Stripe.Checkout.SessionCreateParams.UiMode });
    expect((await stripe.checkout.sessions.create(legacy)).ui_mode).toBe('hosted');
    await expect(stripe.checkout.sessions.create(oneOffGift({ ui_mode: 'embedded_page' }))).rejects.toMatchObject({ statusCode: 400, param: 'ui_mode' });
  });
});
