import 'reflect-metadata';
import pino from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { CheckoutIntent } from '../src/donations/checkout-intent.entity';
import { createStripeClient } from '../src/payments/stripe/stripe-client';
import { startDonation } from './helpers/flows';
import { makeCampaign, startTestKettle, WEBHOOK_SECRET, type TestKettle } from './helpers/kettle';

let kettle: TestKettle;
let campaign: Campaign;

beforeAll(async () => {
  kettle = await startTestKettle();
  campaign = await makeCampaign(kettle);
});
afterAll(() => kettle?.close());

const intents = () => kettle.dataSource.getRepository(CheckoutIntent).count();
const sessionsAtStripe = async () => (await kettle.stripe.checkout.sessions.list({ limit: 100 })).data.length;
const donate = (slug: string, form: Record<string, string | string[]>) =>
  request(kettle.app).post(`/campaigns/${slug}/donate`).type('form').send(form);

describe('POST /campaigns/:slug/donate with bad input', () => {
  const valid = { amount: '25', frequency: 'once', email: 'donor@example.org' };

  it.each([
    ['no amount', { amount: '' }, 'Choose or enter an amount.'],
    ['a word', { amount: 'twenty' }, 'Enter the amount as a plain number'],
    ['three decimals', { amount: '37.505' }, 'USD amounts have at most 2 decimal places'],
    ['a negative amount', { amount: '-25' }, 'Enter the amount as a plain number'],
    ['an exponent', { amount: '1e3' }, 'Enter the amount as a plain number'],
    ['thousands separators', { amount: '1,000' }, 'Enter the amount as a plain number'],
    ['a currency sign', { amount: '$25' }, 'Enter the amount as a plain number'],
    ['below the minimum', { amount: '0.50' }, 'The smallest gift we can accept is $1.'],
    ['above the maximum', { amount: '1000000' }, 'The largest gift we can take online is $999,999.99.'],
    ['"other" with nothing typed', { amount: 'other', amount_other: '' }, 'Choose or enter an amount.'],
    ['an unknown frequency', { frequency: 'weekly' }, 'Choose how often to give: once, monthly or annual.'],
    ['no email', { email: '' }, 'Enter your email address so we can send your receipt.'],
    ['a bad email', { email: 'not-an-email' }, 'Enter a valid email address, like name@example.org.'],
    ['a very long comment', { comment: 'x'.repeat(501) }, 'Keep your comment under 500 characters.'],
    ['a repeated amount field', { amount: ['25', '50'] }, 'Enter one amount, like 25 or 37.50.'],
    ['a preset and a typed amount at once', { amount: '25', amount_other: '37.50' }, 'You picked an amount and also typed one under Other.'],
  ])('rejects %s with 422, a message beside the field, and nothing stored or sent to Stripe', async (_label, override, message) => {
    const before = { intents: await intents(), sessions: await sessionsAtStripe() };
    const res = await donate(campaign.slug, { ...valid, ...override });
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain(message.replace(/"/g, '&quot;'));
    expect(res.text).toContain('class="field-error"');
    expect(res.text).not.toMatch(/at .*\.ts:\d+/);
    expect({ intents: await intents(), sessions: await sessionsAtStripe() }).toEqual(before);
  });

  it('keeps what the supporter typed in the re-rendered form, escaped', async () => {
    const res = await donate(campaign.slug, { ...valid, email: 'bad', name: '<script>alert(1)</script>' });
    expect(res.status).toBe(422);
    expect(res.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(res.text).not.toContain('<script>alert(1)</script>');
  });

  it('answers 404 for an unknown campaign and 409 for an ended or inactive one', async () => {
    expect((await donate('no-such-campaign', valid)).status).toBe(404);
    const ended = await makeCampaign(kettle, { startsAt: new Date(Date.now() - 10 * 86_400_000), endsAt: new Date(Date.now() - 86_400_000) });
    const inactive = await makeCampaign(kettle, { active: false });
    const before = await intents();
    for (const [c, message] of [[ended, 'This campaign has ended.'], [inactive, 'This campaign is not accepting gifts right now.']] as const) {
      const res = await donate(c.slug, valid);
      expect(res.status).toBe(409);
      expect(res.text).toContain(message);
    }
    expect(await intents()).toBe(before);
  });

  it('answers 400 with a plain page for a malformed body', async () => {
    const res = await request(kettle.app).post(`/campaigns/${campaign.slug}/donate`).type('form').send('a'.repeat(30_000));
    expect(res.status).toBe(413);
    expect(res.text).toContain('That request is too large.');
  });
});

describe('POST /campaigns/:slug/donate with good input', () => {
  it('creates a one-off Checkout Session and answers 303 to its url', async () => {
    const res = await donate(campaign.slug, { amount: '37.50', frequency: 'once', email: 'Jane@Example.org', name: 'Jane' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toMatch(new RegExp(`^${kettle.emulator.url}/checkout/cs_test_`));
    const sessionId = res.headers.location.split('/').pop()!;
    const session = await kettle.stripe.checkout.sessions.retrieve(sessionId);
    const intent = await kettle.dataSource.getRepository(CheckoutIntent).findOneByOrFail({ stripeCheckoutSessionId: sessionId });
    expect(session).toMatchObject({
      mode: 'payment',
      submit_type: 'donate',
      amount_total: 3750,
      currency: 'usd',
      customer_email: 'Jane@Example.org',
      client_reference_id: intent.id,
      metadata: { kettle_checkout_intent_id: intent.id, kettle_campaign_id: campaign.id },
      success_url: `${kettle.baseUrl}/thanks?session_id={CHECKOUT_SESSION_ID}`,
    });
    expect(intent).toMatchObject({ status: 'open', donationAmount: 3750, totalAmount: 3750, frequency: 'once' });
  });

  it.each([
    ['monthly', 'month'],
    ['annual', 'year'],
  ])('creates a %s subscription session with the amount recurring every %s', async (frequency, interval) => {
    const { sessionId } = await startDonation(kettle, campaign, { amount: '10', frequency });
    const session = await kettle.stripe.checkout.sessions.retrieve(sessionId);
    expect(session).toMatchObject({ mode: 'subscription', submit_type: 'donate', amount_total: 1000 });
    const paid = await kettle.emulator.pay(sessionId, { number: '4242424242424242' });
    expect(paid.ok).toBe(true);
    const completed = await kettle.stripe.checkout.sessions.retrieve(sessionId);
    const subscription = await kettle.stripe.subscriptions.retrieve(completed.subscription as string);
    expect(subscription.items.data[0].price).toMatchObject({ unit_amount: 1000, currency: 'usd', recurring: { interval } });
    expect(subscription.metadata.kettle_campaign_id).toBe(campaign.id);
    await kettle.settled();
  });

  it('grosses the amount up when the supporter covers the fees', async () => {
    const { sessionId } = await startDonation(kettle, campaign, { amount: '25', cover_fees: 'yes' });
    const session = await kettle.stripe.checkout.sessions.retrieve(sessionId);
    expect(session.amount_total).toBe(2606);
    const intent = await kettle.dataSource.getRepository(CheckoutIntent).findOneByOrFail({ stripeCheckoutSessionId: sessionId });
    expect(intent).toMatchObject({ donationAmount: 2500, feeCoverAmount: 106, totalAmount: 2606 });
  });

  it('uses the campaign default (once) when no frequency is sent, and the Other amount field', async () => {
    const { sessionId } = await startDonation(kettle, campaign, { amount: 'other', amount_other: '12.34', frequency: '' });
    expect((await kettle.stripe.checkout.sessions.retrieve(sessionId)).mode).toBe('payment');
    expect((await kettle.stripe.checkout.sessions.retrieve(sessionId)).amount_total).toBe(1234);
  });

  it('shows a friendly 503 page and stores a failed intent when Stripe cannot be reached', async () => {
    const offline = createApp({
      config: kettle.config,
      dataSource: kettle.dataSource,
      stripe: createStripeClient({ secretKey: 'sk_test_offline', apiBase: 'http://127.0.0.1:9' }),
      webhookSecret: WEBHOOK_SECRET,
      logger: pino({ level: 'silent' }),
      testMode: true,
      checkoutOrigins: [],
    });
    const res = await request(offline.app).post(`/campaigns/${campaign.slug}/donate`).type('form')
      .send({ amount: '25', frequency: 'once', email: 'donor@example.org' });
    expect(res.status).toBe(503);
    expect(res.text).toContain('We could not reach our payment provider. You have not been charged');
    const failed = await kettle.dataSource.getRepository(CheckoutIntent).findOneByOrFail({ status: 'failed' });
    expect(failed.stripeCheckoutSessionId).toBeNull();
  });
});

describe('card-testing defence', () => {
  const limitedApp = (limits: Partial<TestKettle['config']['donateLimits']>) => createApp({
    config: { ...kettle.config, donateLimits: { perIpPerHour: 1000, perEmailPerHour: 1000, perCampaignPerMinute: 1000, hardPerIpPerHour: 1000, ...limits } },
    dataSource: kettle.dataSource,
    stripe: kettle.stripe,
    webhookSecret: WEBHOOK_SECRET,
    logger: pino({ level: 'silent' }),
    testMode: true,
    checkoutOrigins: [],
  }).app;
  const attempt = (app: ReturnType<typeof limitedApp>, c: Campaign, form: Record<string, string>, ip = '203.0.113.7') =>
    request(app).post(`/campaigns/${c.slug}/donate`).set('X-Forwarded-For', ip).type('form')
      .send({ amount: '1', frequency: 'once', email: 'tester@example.org', ...form });

  it('limits attempts per IP, counting invalid ones too, with a 429 and nothing sent to Stripe', async () => {
    const c = await makeCampaign(kettle);
    const app = limitedApp({ perIpPerHour: 3 });
    expect((await attempt(app, c, { amount: 'x' })).status).toBe(422);
    expect((await attempt(app, c, {})).status).toBe(303);
    expect((await attempt(app, c, {})).status).toBe(303);
    const before = { intents: await intents(), sessions: await sessionsAtStripe() };
    const limited = await attempt(app, c, {});
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.text).toContain('There have been too many donation attempts. Please wait a few minutes and try again.');
    expect({ intents: await intents(), sessions: await sessionsAtStripe() }).toEqual(before);
    expect((await attempt(app, c, {}, '198.51.100.9')).status).toBe(303);
  });

  it('limits valid attempts per email (whatever its case) and per campaign', async () => {
    const c = await makeCampaign(kettle);
    const byEmail = limitedApp({ perEmailPerHour: 2 });
    expect((await attempt(byEmail, c, { email: 'same@example.org' }, '192.0.2.1')).status).toBe(303);
    expect((await attempt(byEmail, c, { email: 'SAME@example.org' }, '192.0.2.2')).status).toBe(303);
    expect((await attempt(byEmail, c, { email: 'Same@Example.org' }, '192.0.2.3')).status).toBe(429);

    const c2 = await makeCampaign(kettle);
    const byCampaign = limitedApp({ perCampaignPerMinute: 1 });
    expect((await attempt(byCampaign, c2, { email: 'one@example.org' }, '192.0.2.4')).status).toBe(303);
    expect((await attempt(byCampaign, c2, { email: 'two@example.org' }, '192.0.2.5')).status).toBe(429);
  });

  it('keeps no IP address or email in its counters', async () => {
    const keys: { key: string }[] = await kettle.dataSource.query(`SELECT key FROM rate_limits`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.some((k) => /@|203\.0\.113/.test(k.key))).toBe(false);
  });
});
