import 'reflect-metadata';
import pino, { type Logger } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config';
import { CheckoutIntent } from '../src/donations/checkout-intent.entity';
import { donateAndPay, startDonation } from './helpers/flows';
import { appVariant, makeCampaign, startTestKettle, type TestKettle } from './helpers/kettle';

let kettle: TestKettle;
beforeAll(async () => {
  kettle = await startTestKettle();
});
afterAll(() => kettle?.close());

describe('the campaign page', () => {
  it('shows the goal, amount raised, progress, donors, days left and the donate form', async () => {
    const campaign = await makeCampaign(kettle, { goalAmount: 10_000_00, endsAt: new Date(Date.now() + 10 * 86_400_000 - 60_000) });
    await donateAndPay(kettle, campaign, { amount: '2500', email: 'big@example.org' });
    const res = await request(kettle.app).get(`/campaigns/${campaign.slug}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('<strong data-testid="raised">$2,500</strong> raised of $10,000 goal');
    expect(res.text).toContain('aria-valuenow="25"');
    expect(res.text).toContain('<strong data-testid="donors">1</strong> donor');
    expect(res.text).toContain('<strong data-testid="days-left">10</strong> days left');
    expect(res.text).toContain(`action="/campaigns/${campaign.slug}/donate"`);
    expect(res.text).toMatch(/name="frequency" value="once" checked/);
    expect(res.text).toMatch(/name="newsletter" value="yes">/);
    expect(res.text).toContain('Test mode');
  });

  it('escapes what donors typed on the donor wall, and hides anonymous names', async () => {
    const campaign = await makeCampaign(kettle);
    await donateAndPay(kettle, campaign, { amount: '5', name: '<img src=x onerror=alert(1)>', comment: '"><script>alert(2)</script>', email: 'x@example.org' });
    await donateAndPay(kettle, campaign, { amount: '5', name: 'Secret Santa', anonymous: 'yes', comment: 'Keep going!', email: 'y@example.org' });
    const res = await request(kettle.app).get(`/campaigns/${campaign.slug}`);
    expect(res.text).toContain('&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
    expect(res.text).toContain('&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;');
    expect(res.text).not.toContain('<script>alert(2)');
    expect(res.text).not.toContain('Secret Santa');
    expect(res.text).toContain('<strong>Anonymous</strong>');
    expect(res.text).toContain('Keep going!');
    expect(res.text).not.toContain('x@example.org');
  });

  it('renders the story as Markdown without letting raw HTML through', async () => {
    const campaign = await makeCampaign(kettle, { storyMarkdown: 'We need **you**.\n\n<script>alert(3)</script> [x](javascript:alert(4))' });
    const res = await request(kettle.app).get(`/campaigns/${campaign.slug}`);
    expect(res.text).toContain('<strong>you</strong>');
    expect(res.text).toContain('&lt;script&gt;alert(3)&lt;/script&gt;');
    expect(res.text).not.toContain('href="javascript:');
  });

  it('answers 404 with a plain page for an unknown campaign', async () => {
    const res = await request(kettle.app).get('/campaigns/nope');
    expect(res.status).toBe(404);
    expect(res.text).toContain('We could not find that campaign.');
  });

  it('says the gift was not completed when the supporter cancels on Checkout, and keeps what they entered', async () => {
    const campaign = await makeCampaign(kettle);
    const { cookie } = await startDonation(kettle, campaign, { amount: '37.50', frequency: 'monthly', email: 'back@example.org', name: 'Came Back', cover_fees: 'yes' });
    const res = await request(kettle.app).get(`/campaigns/${campaign.slug}?cancelled=1`).set('Cookie', cookie);
    expect(res.text).toContain('you were not charged');
    expect(res.text).toMatch(/name="frequency" value="monthly" checked/);
    expect(res.text).toMatch(/name="amount" value="other" checked/);
    expect(res.text).toContain('value="37.50"');
    expect(res.text).toContain('value="back@example.org"');
    expect(res.text).toMatch(/name="cover_fees" value="yes" checked/);
    expect(res.headers['cache-control']).toBe('no-store');

    const stranger = await request(kettle.app).get(`/campaigns/${campaign.slug}?cancelled=1`);
    expect(stranger.text).not.toContain('back@example.org');
  });

  it('says what covering the fees adds', async () => {
    const campaign = await makeCampaign(kettle);
    const res = await request(kettle.app).get(`/campaigns/${campaign.slug}`);
    expect(res.text).toContain('Add 2.9% + $0.30 to cover card fees');
  });
});

describe('GET /api/campaigns/:slug/progress', () => {
  it('reports integer minor units that equal the ledger', async () => {
    const campaign = await makeCampaign(kettle, { goalAmount: 1_000_00 });
    await donateAndPay(kettle, campaign, { amount: '37.50', email: 'p1@example.org' });
    await donateAndPay(kettle, campaign, { amount: '12.50', email: 'P1@example.org' });
    const res = await request(kettle.app).get(`/api/campaigns/${campaign.slug}/progress`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      slug: campaign.slug, currency: 'usd', goal: 100_000, startingAmount: 0, raised: 5000, donors: 1, gifts: 2, percent: 5,
      endsAt: campaign.endsAt!.toISOString(),
    });
  });

  it('answers 404 in JSON for an unknown campaign', async () => {
    const res = await request(kettle.app).get('/api/campaigns/nope/progress');
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('campaign_not_found');
  });
});

describe('the thank-you page', () => {
  it('shows the confirmed gift and progress to the browser that gave', async () => {
    const campaign = await makeCampaign(kettle);
    const { sessionId, cookie } = await donateAndPay(kettle, campaign, { amount: '25', name: 'Jane', frequency: 'monthly' });
    const res = await request(kettle.app).get(`/thanks?session_id=${sessionId}`).set('Cookie', cookie);
    expect(res.status).toBe(200);
    expect(res.text).toContain('Thank you, Jane!');
    expect(res.text).toContain('Your gift of <strong>$25</strong> every month');
    expect(res.text).toContain('is confirmed');
    expect(res.text).toContain('<strong data-testid="raised">$25</strong>');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('says the gift is being confirmed until the webhook arrives, and refreshes itself', async () => {
    const campaign = await makeCampaign(kettle);
    kettle.emulator.setAutoDeliver(false);
    try {
      const { sessionId, cookie } = await startDonation(kettle, campaign, { amount: '25' });
      await kettle.emulator.pay(sessionId, { number: '4242424242424242' });
      const res = await request(kettle.app).get(`/thanks?session_id=${sessionId}`).set('Cookie', cookie);
      expect(res.text).toContain('We are confirming your gift of <strong>$25</strong>');
      expect(res.text).toContain('http-equiv="refresh"');
    } finally {
      kettle.emulator.setAutoDeliver(true);
    }
  });

  it('never shows someone else\'s gift for a known or guessed session id', async () => {
    const campaign = await makeCampaign(kettle);
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '25', name: 'Private Person' });
    const stranger = await request(kettle.app).get(`/thanks?session_id=${sessionId}`);
    expect(stranger.status).toBe(200);
    expect(stranger.text).not.toContain('Private Person');
    expect(stranger.text).not.toContain('$25</strong> to');
    expect(stranger.text).toContain('Thank you for supporting');

    const forgedCookie = await request(kettle.app).get(`/thanks?session_id=${sessionId}`)
      .set('Cookie', `kettle_gift=${(await kettle.dataSource.getRepository(CheckoutIntent).findOneByOrFail({ stripeCheckoutSessionId: sessionId })).id}`);
    expect(forgedCookie.text).not.toContain('Private Person');

    for (const guess of ['cs_test_guess', 'not-a-session', '']) {
      const res = await request(kettle.app).get(`/thanks?session_id=${guess}`);
      expect(res.status).toBe(404);
      expect(res.text).toContain('We could not find that gift.');
    }
  });
});

describe('operations', () => {
  it('GET /healthz answers ok when the database is reachable', async () => {
    const res = await request(kettle.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('sends security headers and no framework fingerprint', async () => {
    const res = await request(kettle.app).get('/healthz');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['content-security-policy']).toContain("form-action 'self' https://checkout.stripe.com");
  });

  it('serves the ALTCHA widget and its worker from our own origin', async () => {
    for (const asset of ['/assets/altcha/altcha.min.js', '/assets/altcha/altcha.css', '/assets/altcha/workers/pbkdf2.js', '/assets/kettle-challenge.js']) {
      const res = await request(kettle.app).get(asset);
      expect(res.status, asset).toBe(200);
    }
    expect((await request(kettle.app).get('/assets/altcha/../package.json')).status).toBe(404);
  });
});

describe('behind a proxy Kettle does not trust', () => {
  const capture = () => {
    const lines: { level: number; msg: string; peer?: string }[] = [];
    return { lines, logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) }) };
  };
  const appWith = (config: Partial<Config>, logger: Logger) => appVariant(kettle, { config, logger });

  it('warns at boot when an https BASE_URL suggests a proxy that TRUST_PROXY does not cover', () => {
    const { lines, logger } = capture();
    appWith({ baseUrl: 'https://give.example.org', trustProxy: 'loopback' }, logger);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40 });
    expect(lines[0].msg).toContain('TRUST_PROXY only trusts proxies on this machine');
    appWith({ baseUrl: 'https://give.example.org', trustProxy: '10.0.0.0/8' }, logger);
    appWith({ baseUrl: 'http://localhost:3000', trustProxy: 'loopback' }, logger);
    expect(lines).toHaveLength(1);
  });

  it('logs X-Forwarded-For from an untrusted peer, at most once per ten minutes, without the forwarded addresses', async () => {
    const { lines, logger } = capture();
    // The test's requests come from 127.0.0.1, which this setting does not trust.
    const app = appWith({ trustProxy: '10.0.0.0/8' }, logger);
    await request(app).get('/healthz');
    expect(lines).toHaveLength(0);
    await request(app).get('/healthz').set('X-Forwarded-For', '198.51.100.23');
    await request(app).get('/healthz').set('X-Forwarded-For', '198.51.100.24');
    expect(lines).toHaveLength(1);
    expect(lines[0].msg).toContain('X-Forwarded-For arrived from');
    expect(lines[0].msg).toContain('which TRUST_PROXY does not trust');
    expect(JSON.stringify(lines)).not.toContain('198.51.100');

    const trusting = capture();
    await request(appWith({ trustProxy: 'loopback' }, trusting.logger)).get('/healthz').set('X-Forwarded-For', '198.51.100.23');
    expect(trusting.lines).toHaveLength(0);
  });
});
