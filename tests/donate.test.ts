import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { solveChallenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/pbkdf2';
import pino, { type Logger } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { CheckoutIntent } from '../src/donations/checkout-intent.entity';
import { createStripeClient } from '../src/payments/stripe/stripe-client';
import { startDonation } from './helpers/flows';
import { appVariant, makeCampaign, startTestKettle, type TestKettle } from './helpers/kettle';

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
    ['a negative amount', { amount: '-25' }, 'A gift must be more than zero.'],
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

  it('strips bidirectional overrides and other invisible characters from names, comments and dedications', async () => {
    const res = await donate(campaign.slug, {
      amount: '10', frequency: 'once', email: 'bidi@example.org',
      name: 'Ev\u202Eil\u202C Corp\u200B', comment: 'Thanks \u2066\u2067\u2068hidden\u2069\u200E\u200F\u061C\uFEFF for the work', dedication: '\u202Dfor Mum\u202A',
    });
    expect(res.status).toBe(303);
    const intent = await kettle.dataSource.getRepository(CheckoutIntent).findOneByOrFail({ stripeCheckoutSessionId: res.headers.location.split('/').pop()! });
    expect(intent).toMatchObject({ donorName: 'Evil Corp', comment: 'Thanks hidden for the work', dedication: 'for Mum' });
  });

  it('keeps the joiners that emoji sequences and many scripts need', async () => {
    const family = '\u{1F469}\u200D\u{1F469}\u200D\u{1F467}';
    const persian = '\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645';
    const res = await donate(campaign.slug, { amount: '10', frequency: 'once', email: 'joiners@example.org', name: persian, comment: family });
    const intent = await kettle.dataSource.getRepository(CheckoutIntent).findOneByOrFail({ stripeCheckoutSessionId: res.headers.location.split('/').pop()! });
    expect(intent).toMatchObject({ donorName: persian, comment: family });
  });

  it('shows a friendly 503 page and stores a failed intent when Stripe cannot be reached', async () => {
    const offline = appVariant(kettle, { stripe: createStripeClient({ secretKey: 'sk_test_offline', apiBase: 'http://127.0.0.1:9' }) });
    const res = await request(offline).post(`/campaigns/${campaign.slug}/donate`).type('form')
      .send({ amount: '25', frequency: 'once', email: 'donor@example.org' });
    expect(res.status).toBe(503);
    expect(res.text).toContain('We could not reach our payment provider. You have not been charged');
    const failed = await kettle.dataSource.getRepository(CheckoutIntent).findOneByOrFail({ status: 'failed' });
    expect(failed.stripeCheckoutSessionId).toBeNull();
  });
});

describe('card-testing defence', () => {
  const limitedApp = (limits: Partial<TestKettle['config']['donateLimits']>, logger?: Logger) => appVariant(kettle, {
    config: { donateLimits: { perIpPerHour: 1000, perEmailPerHour: 1000, perCampaignPerMinute: 1000, hardPerIpPerHour: 1000, ...limits } },
    logger,
  });
  type App = ReturnType<typeof limitedApp>;
  let ipCounter = 0;
  // Each test gives from its own address unless it names one: the per-IP counts outlive a test.
  const nextIp = () => `203.0.113.${(ipCounter += 1)}`;
  const attempt = (app: App, c: Campaign, form: Record<string, string>, ip: string) =>
    request(app).post(`/campaigns/${c.slug}/donate`).set('X-Forwarded-For', ip).type('form')
      .send({ amount: '1', frequency: 'once', email: 'tester@example.org', ...form });
  const stored = async () => ({ intents: await intents(), sessions: await sessionsAtStripe() });

  it('over the per-IP limit asks for a challenge (invalid posts count too) and sends nothing to Stripe', async () => {
    const c = await makeCampaign(kettle);
    const app = limitedApp({ perIpPerHour: 2 });
    const ip = nextIp();
    expect((await attempt(app, c, { amount: 'x' }, ip)).status).toBe(422);
    expect((await attempt(app, c, {}, ip)).status).toBe(303);
    const before = await stored();
    const challenged = await attempt(app, c, { name: 'Jo <b>' }, ip);
    expect(challenged.status).toBe(403);
    expect(challenged.text).toContain('We are seeing many donation attempts right now. Please let the check below confirm you are a person');
    expect(challenged.text).toContain('<altcha-widget name="altcha"');
    expect(challenged.text).toContain('src="/assets/kettle-challenge.js"');
    expect(challenged.text).toMatch(/<noscript>.*This check needs JavaScript/);
    expect(challenged.text).toContain('value="Jo &lt;b&gt;"');
    expect(challenged.headers['cache-control']).toBe('no-store');
    expect(challenged.headers['retry-after']).toBeUndefined();
    expect(await stored()).toEqual(before);
    // A mistake in the form while over the limit: the fields are flagged and the check is already there.
    const invalid = await attempt(app, c, { amount: 'x' }, ip);
    expect(invalid.status).toBe(422);
    expect(invalid.text).toContain('<altcha-widget name="altcha"');
    expect((await attempt(app, c, {}, nextIp())).status).toBe(303);
  });

  it('lets a gift through with a solved challenge, once: the same solution again is refused', async () => {
    const c = await makeCampaign(kettle);
    const app = limitedApp({ perIpPerHour: 1 });
    const ip = nextIp();
    expect((await attempt(app, c, {}, ip)).status).toBe(303);
    const page = await attempt(app, c, {}, ip);
    expect(page.status).toBe(403);
    const altcha = await solveAltcha(page.text);
    const passed = await attempt(app, c, { altcha }, ip);
    expect(passed.text).not.toContain('form-error');
    expect(passed.status).toBe(303);
    expect(passed.headers.location).toMatch(new RegExp(`^${kettle.emulator.url}/checkout/cs_test_`));

    const before = await stored();
    const replayed = await attempt(app, c, { altcha }, ip);
    expect(replayed.status).toBe(403);
    expect(replayed.text).toContain('The check below did not go through or has expired.');
    expect(await stored()).toEqual(before);
  });

  it('refuses a tampered or made-up solution', async () => {
    const c = await makeCampaign(kettle);
    const app = limitedApp({ perIpPerHour: 1 });
    const ip = nextIp();
    await attempt(app, c, {}, ip);
    const altcha = await solveAltcha((await attempt(app, c, {}, ip)).text);
    const payload = JSON.parse(Buffer.from(altcha, 'base64').toString());
    payload.challenge.parameters.cost = 1;
    const tampered = Buffer.from(JSON.stringify(payload)).toString('base64');
    for (const forged of [tampered, 'bm90IGpzb24=', Buffer.from('{"challenge":{},"solution":{}}').toString('base64'), 'x'.repeat(5000)]) {
      const res = await attempt(app, c, { altcha: forged }, ip);
      expect(res.status).toBe(403);
      expect(res.text).toContain('The check below did not go through');
    }
  });

  it('over the per-campaign limit asks every donor for the challenge instead of refusing them, and tells admins once per hour', async () => {
    const lines: { level: number; msg: string; campaign?: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const c = await makeCampaign(kettle);
    const app = limitedApp({ perCampaignPerMinute: 2 }, logger);
    for (const ip of ['192.0.2.10', '192.0.2.11']) expect((await attempt(app, c, {}, ip)).status).toBe(303);
    for (const ip of ['192.0.2.12', '192.0.2.13', '2001:db8::1']) expect((await attempt(app, c, {}, ip)).status).toBe(403);

    const alerts = lines.filter((l) => l.msg.startsWith('security alert'));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ level: 40, campaign: c.slug });
    expect(alerts[0].msg).toContain('DONATE_LIMIT_PER_CAMPAIGN_PER_MINUTE');
    const rows: { kind: string; count: number; first_at: Date; last_at: Date }[] = await kettle.dataSource.query(
      `SELECT kind, count, first_at, last_at FROM security_alerts WHERE campaign_id = $1`, [c.id]);
    expect(rows).toEqual([expect.objectContaining({ kind: 'donate_challenge_campaign' })]);
    expect(rows[0].count).toBeGreaterThanOrEqual(1);
  });

  it('does not let strangers lock an email: over its limit, the owner solves the challenge and gives', async () => {
    const c = await makeCampaign(kettle);
    const app = limitedApp({ perEmailPerHour: 2 });
    expect((await attempt(app, c, { email: 'same@example.org' }, '192.0.2.1')).status).toBe(303);
    expect((await attempt(app, c, { email: 'SAME@example.org' }, '192.0.2.2')).status).toBe(303);
    const page = await attempt(app, c, { email: 'Same@Example.org' }, '192.0.2.3');
    expect(page.status).toBe(403);
    expect((await attempt(app, c, { email: 'same@example.org', altcha: await solveAltcha(page.text) }, '192.0.2.4')).status).toBe(303);
  });

  it('spends the campaign and email budgets only on valid gifts about to go to Stripe', async () => {
    const c = await makeCampaign(kettle);
    const app = limitedApp({ perCampaignPerMinute: 1, perEmailPerHour: 1 });
    for (let i = 0; i < 5; i += 1) expect((await attempt(app, c, { amount: 'nope', email: 'victim@example.org' }, `192.0.2.${20 + i}`)).status).toBe(422);
    expect((await attempt(app, c, { email: 'victim@example.org' }, '192.0.2.30')).status).toBe(303);
  });

  it('refuses an IP over the hard ceiling with 429, the real wait in words, and Retry-After', async () => {
    const c = await makeCampaign(kettle);
    const app = limitedApp({ perIpPerHour: 1, hardPerIpPerHour: 2 });
    const ip = nextIp();
    await attempt(app, c, {}, ip);
    expect((await attempt(app, c, {}, ip)).status).toBe(403);
    const before = await stored();
    const refused = await attempt(app, c, {}, ip);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(3500);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(refused.text).toContain('There have been too many donation attempts from your network. Please try again in 60 minutes.');
    expect(refused.headers['cache-control']).toBe('no-store');
    expect(await stored()).toEqual(before);
    const rows: { kind: string }[] = await kettle.dataSource.query(`SELECT kind FROM security_alerts WHERE campaign_id = $1 ORDER BY kind`, [c.id]);
    expect(rows.map((r) => r.kind)).toEqual(['donate_challenge_ip', 'donate_ip_ceiling']);
  });

  it('counts an IPv6 /64 as one network, and another /64 apart', async () => {
    const c = await makeCampaign(kettle);
    const app = limitedApp({ perIpPerHour: 1, hardPerIpPerHour: 2 });
    await attempt(app, c, {}, '2001:db8:aa:bb::1');
    expect((await attempt(app, c, {}, '2001:db8:aa:bb:ffff:1:2:3')).status).toBe(403);
    expect((await attempt(app, c, {}, '2001:0db8:00aa:00bb:0:0:0:99')).status).toBe(429);
    expect((await attempt(app, c, {}, '2001:db8:aa:bc::1')).status).toBe(303);
  });

  it('keeps no IP address or email in its counters, and their hashes are keyed with a server secret', async () => {
    const keys: { key: string }[] = await kettle.dataSource.query(`SELECT key FROM rate_limits`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.some((k) => /@|203\.0\.113|2001/.test(k.key))).toBe(false);
    const unkeyed = createHash('sha256').update('203.0.113.1').digest('hex').slice(0, 40);
    expect(keys.some((k) => k.key.includes(unkeyed))).toBe(false);
  });
});

describe('cross-site posts', () => {
  const valid = { amount: '5', frequency: 'once', email: 'origin@example.org' };
  const post = (headers: Record<string, string>) => {
    let req = request(kettle.app).post(`/campaigns/${campaign.slug}/donate`).type('form');
    for (const [name, value] of Object.entries(headers)) req = req.set(name, value);
    return req.send(valid);
  };

  it.each([
    ['another Origin', { Origin: 'https://evil.example' }],
    ['an opaque Origin', { Origin: 'null' }],
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['our Origin but a cross-site fetch', { Origin: '', 'Sec-Fetch-Site': 'cross-site' }],
  ])('refuses a post with %s: 403, a page for people, nothing stored', async (_label, headers) => {
    const before = await intents();
    const res = await post(Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v || kettle.baseUrl])));
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('This form can only be sent from our own pages.');
    expect(await intents()).toBe(before);
  });

  it.each([
    ['our Origin', { Origin: '' }],
    ['Sec-Fetch-Site: same-origin', { 'Sec-Fetch-Site': 'same-origin' }],
    ['Origin: null from our own page (a no-referrer policy)', { Origin: 'null', 'Sec-Fetch-Site': 'same-origin' }],
    ['neither header (old clients, curl)', {}],
  ])('accepts a post with %s', async (_label, headers) => {
    const res = await post(Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v || kettle.baseUrl])));
    expect(res.status).toBe(303);
  });
});

describe('pages with a donor\'s data are never cached', () => {
  it('marks the re-rendered form no-store', async () => {
    const res = await donate(campaign.slug, { amount: 'x', frequency: 'once', email: 'private@example.org' });
    expect(res.status).toBe(422);
    expect(res.headers['cache-control']).toBe('no-store');
  });
});

/** Solves the ALTCHA challenge a page carries, as the widget does in a browser. */
async function solveAltcha(html: string): Promise<string> {
  const attr = /<altcha-widget[^>]* challenge="([^"]+)"/.exec(html)?.[1];
  if (!attr) throw new Error('the page carries no ALTCHA challenge');
  const entities: Record<string, string> = { '&quot;': '"', '&#x27;': "'", '&#x60;': '`', '&#x3D;': '=', '&lt;': '<', '&gt;': '>', '&amp;': '&' };
  const challenge = JSON.parse(attr.replace(/&(quot|#x27|#x60|#x3D|lt|gt|amp);/g, (m) => entities[m]));
  const solution = await solveChallenge({ challenge, deriveKey });
  if (!solution) throw new Error('no solution found');
  return Buffer.from(JSON.stringify({ challenge: { parameters: challenge.parameters, signature: challenge.signature }, solution })).toString('base64');
}
