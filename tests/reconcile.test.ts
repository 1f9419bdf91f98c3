import 'reflect-metadata';
import type Stripe from 'stripe';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { CheckoutIntent } from '../src/donations/checkout-intent.entity';
import { RECONCILED_EVENT_TYPES, ReconcileService, SYNTHESISED_MARK } from '../src/payments/stripe/reconcile.service';
import { CardExpiryService } from '../src/donations/card-expiry.service';
import { kettleJobs } from '../src/jobs/schedules';
import { RetentionService } from '../src/privacy/retention.service';
import { donateAndPay, startDonation, undeliveredEventsOf } from './helpers/flows';
import { makeCampaign, startTestKettle, totalsOf, type TestKettle } from './helpers/kettle';

const DAY_MS = 86_400_000;
const silent = pino({ level: 'silent' });
const acted = (e: Stripe.Event) => (RECONCILED_EVENT_TYPES as readonly string[]).includes(e.type);

/** Gives and pays on the emulator's checkout without waiting for webhooks (delivery is off in these tests). */
async function give(kettle: TestKettle, campaign: Campaign, form: Record<string, string>) {
  const { sessionId } = await startDonation(kettle, campaign, form);
  const paid = await kettle.emulator.pay(sessionId, { number: '4242424242424242', email: form.email });
  if (!paid.ok) throw new Error(paid.message);
  return kettle.stripe.checkout.sessions.retrieve(sessionId);
}

/**
 * What happened at Stripe, webhooks aside: five one-off gifts, a monthly gift renewed once,
 * and a partial refund. Fully applied, the campaign holds 15,000 + 2 × 2,000 − 1,500 = 17,500.
 */
async function busyDay(kettle: TestKettle, campaign: Campaign) {
  const sessions: Stripe.Checkout.Session[] = [];
  for (const [i, amount] of ['10', '25', '50', '40', '25'].entries()) {
    sessions.push(await give(kettle, campaign, { amount, email: `donor${i}@example.org` }));
  }
  const monthly = await give(kettle, campaign, { amount: '20', frequency: 'monthly', email: 'monthly@example.org' });
  await kettle.emulator.advanceSubscription(monthly.subscription as string);
  await kettle.stripe.refunds.create({ payment_intent: sessions[2].payment_intent as string, amount: 1500 });
}
const FULLY_APPLIED = { raised: 17_500, gifts: 7, donors: 6 };

function cliEnv(kettle: TestKettle) {
  return {
    DATABASE_URL: (kettle.dataSource.options as PostgresDataSourceOptions).url!,
    STRIPE_SECRET_KEY: 'sk_test_kettle_cli',
    STRIPE_WEBHOOK_SECRET: 'whsec_kettle_cli',
    STRIPE_API_BASE: kettle.emulator.url,
    LOG_LEVEL: 'silent',
  };
}

async function cli(kettle: TestKettle, ...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { env: cliEnv(kettle), out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('reconcile: the events Stripe could not deliver', () => {
  let kettle: TestKettle;
  beforeAll(async () => {
    kettle = await startTestKettle({ autoDeliver: false });
  });
  afterAll(() => kettle?.close());

  it('stores what a third of lost deliveries left out, so the totals equal full delivery; a second run stores nothing', async () => {
    const campaign = await makeCampaign(kettle);
    await busyDay(kettle, campaign);
    const events = [...kettle.emulator.events];
    const lost = events.filter((_, i) => i % 3 === 2);
    for (const event of events.filter((_, i) => i % 3 !== 2)) await kettle.emulator.deliver(event);
    await kettle.settled();
    expect((await totalsOf(kettle, campaign.id)).kept).not.toEqual(FULLY_APPLIED);

    const first = await cli(kettle, 'reconcile', '--since', '72h');
    await kettle.settled();
    expect(first).toMatchObject({ code: 0, err: '' });
    const seen = events.filter(acted).length;
    const missing = lost.filter(acted).length;
    expect(missing).toBeGreaterThan(0);
    expect(first.out).toContain(`${seen} seen, ${missing} newly stored, ${seen - missing} already known.`);
    expect(await totalsOf(kettle, campaign.id)).toEqual({ kept: FULLY_APPLIED, recomputed: FULLY_APPLIED });

    const second = await cli(kettle, 'reconcile', '--since', '30m');
    expect(second.out).toContain(`${seen} seen, 0 newly stored, ${seen} already known.`);
    expect(await totalsOf(kettle, campaign.id)).toEqual({ kept: FULLY_APPLIED, recomputed: FULLY_APPLIED });
  });

  it.each([
    [['reconcile'], '--since is required'],
    [['reconcile', '--since', '72'], '--since must be a positive duration in minutes, hours or days, like 30m, 72h or 7d (got "72")'],
    [['reconcile', '--since', '0h'], '--since must be a positive duration'],
    [['reconcile', '--since=-3d'], '--since must be a positive duration'],
    [['reconcile', '--since', '2w'], '--since must be a positive duration'],
    [['reconcile', '--since', '72h', '--until', 'now'], "Unknown option '--until'"],
  ])('rejects %j with a clear message and exit code 2', async (argv, message) => {
    const res = await cli(kettle, ...argv);
    expect(res.code).toBe(2);
    expect(res.err).toContain(message);
  });

  it('refuses to run without a Stripe key: the built-in emulator has no history outside the server', async () => {
    const err: string[] = [];
    const code = await runCli(['reconcile', '--since', '72h'], { env: { ...cliEnv(kettle), STRIPE_SECRET_KEY: '', STRIPE_WEBHOOK_SECRET: '' }, out: () => {}, err: (l) => err.push(l) });
    expect(code).toBe(2);
    expect(err.join('\n')).toContain('reconcile needs STRIPE_SECRET_KEY');
  });
});

describe('reconcile beyond the 30 days events.list reaches', () => {
  let kettle: TestKettle;
  let reconcile: ReconcileService;
  beforeAll(async () => {
    kettle = await startTestKettle({ autoDeliver: false });
    reconcile = new ReconcileService(kettle.dataSource, kettle.stripe, kettle.webhooks, silent);
  });
  afterAll(() => kettle?.close());

  it('rebuilds the events of sessions, invoices, refunds and disputes from the objects, marked as synthesised, once', async () => {
    const campaign = await makeCampaign(kettle);
    const refunded = await give(kettle, campaign, { amount: '30', email: 'old1@example.org' });
    const disputed = await give(kettle, campaign, { amount: '45', email: 'old2@example.org' });
    await give(kettle, campaign, { amount: '12', frequency: 'monthly', email: 'old3@example.org' });
    const { sessionId: abandoned } = await startDonation(kettle, campaign, { amount: '99', email: 'gone@example.org' });
    await kettle.stripe.checkout.sessions.expire(abandoned);
    await kettle.stripe.refunds.create({ payment_intent: refunded.payment_intent as string, amount: 1000 });
    const disputedCharge = (await kettle.stripe.paymentIntents.retrieve(disputed.payment_intent as string)).latest_charge as string;
    await kettle.emulator.disputeCharge(disputedCharge, 'lost');
    // Seen from 31 days later, nothing of this is within events.list's reach any more.
    const later = new Date(Date.now() + 31 * DAY_MS);
    const since = new Date(Date.now() - DAY_MS);

    const first = await reconcile.reconcile({ since, now: later });
    await kettle.settled();
    // Four sessions (three completed, one expired), the monthly gift's first invoice, a refund and a lost dispute.
    expect(first).toMatchObject({ eventsSeen: 7, newlyStored: 7, alreadyKnown: 0, synthesised: 7 });
    const expected = { raised: 8_700 - 1_000 - 4_500, gifts: 2, donors: 2 };
    expect(await totalsOf(kettle, campaign.id)).toEqual({ kept: expected, recomputed: expected });
    expect(await kettle.dataSource.getRepository(CheckoutIntent).findOneByOrFail({ stripeCheckoutSessionId: abandoned })).toMatchObject({ status: 'expired' });

    const stored: { id: string; type: string; status: string; mark: string }[] = await kettle.dataSource.query(
      `SELECT id, type, status, payload->>'${SYNTHESISED_MARK}' AS mark FROM stripe_events ORDER BY id`);
    expect(stored).toHaveLength(7);
    for (const event of stored) {
      expect(event.id).toBe(`recon_${event.mark}_${event.type}`);
      expect(event.status).toBe('processed');
    }
    expect(stored.map((e) => e.type).sort()).toEqual([
      'charge.dispute.closed', 'checkout.session.completed', 'checkout.session.completed', 'checkout.session.completed',
      'checkout.session.expired', 'invoice.paid', 'refund.created',
    ]);

    expect(await reconcile.reconcile({ since, now: later })).toMatchObject({ eventsSeen: 7, newlyStored: 0, alreadyKnown: 7 });
    expect(await totalsOf(kettle, campaign.id)).toEqual({ kept: expected, recomputed: expected });
  });
});

describe('the reconcile job every 15 minutes', () => {
  let kettle: TestKettle;
  beforeAll(async () => {
    kettle = await startTestKettle();
  });
  afterAll(() => kettle?.close());

  it('reads only the events Stripe has not delivered, and stores them', async () => {
    const campaign = await makeCampaign(kettle);
    await donateAndPay(kettle, campaign, { amount: '10', email: 'delivered@example.org' });
    const undelivered = await undeliveredEventsOf(kettle, () => give(kettle, campaign, { amount: '30', email: 'lost@example.org' }));
    const job = kettleJobs({
      reconcile: new ReconcileService(kettle.dataSource, kettle.stripe, kettle.webhooks, silent),
      retention: new RetentionService(kettle.dataSource, 90, silent),
      cardExpiry: new CardExpiryService(kettle.dataSource, silent),
    }).find((j) => j.name === 'reconcile')!;

    const summary = await job.run();
    await kettle.settled();
    const missing = undelivered.filter(acted).length;
    expect(summary).toMatchObject({ eventsSeen: missing, newlyStored: missing, alreadyKnown: 0 });
    const expected = { raised: 4000, gifts: 2, donors: 2 };
    expect(await totalsOf(kettle, campaign.id)).toEqual({ kept: expected, recomputed: expected });
  });

  it('stores the rest when one event is stored but fails to apply (the inbox retries that one)', async () => {
    const campaign = await makeCampaign(kettle);
    const undelivered = await undeliveredEventsOf(kettle, async () => {
      await give(kettle, campaign, { amount: '70', email: 'flaky@example.org' });
      await give(kettle, campaign, { amount: '80', email: 'steady@example.org' });
    });
    let calls = 0;
    const inbox = {
      async receive(event: Stripe.Event) {
        const result = await kettle.webhooks.receive(event);
        if (calls++ === 0) throw new Error('Stripe timed out while the event was applied');
        return result;
      },
    };
    const summary = await new ReconcileService(kettle.dataSource, kettle.stripe, inbox, silent).reconcile({ since: new Date(Date.now() - DAY_MS), onlyUndelivered: true });
    const missing = undelivered.filter(acted).length;
    expect(missing).toBe(2);
    // The earlier test's events are listed again (Stripe still counts them undelivered) and known.
    expect(summary.newlyStored).toBe(missing);
    expect(calls).toBe(missing);
    const stored = await kettle.dataSource.query(`SELECT id FROM stripe_events WHERE id = ANY($1)`, [undelivered.map((e) => e.id)]);
    expect(stored).toHaveLength(missing);
  });
});

