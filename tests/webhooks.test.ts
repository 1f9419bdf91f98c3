import 'reflect-metadata';
import request from 'supertest';
import type Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { RecurringGift } from '../src/donations/recurring-gift.entity';
import { LedgerEntry } from '../src/ledger/ledger-entry.entity';
import {
  CARDS, deliverEvent, donateAndPay, eventOfType, postWebhook, signPayload as sign, startDonation, storedEvent, undeliveredEventsOf,
} from './helpers/flows';
import { makeCampaign, startTestKettle, totalsOf, type TestKettle } from './helpers/kettle';

let kettle: TestKettle;

beforeAll(async () => {
  kettle = await startTestKettle({ dbProxy: true });
});
afterAll(() => kettle?.close());

const post = (payload: string, header: string) => postWebhook(kettle.app, payload, header);

/** Delivers the event as Stripe does and waits until the inbox worker applied what is due. */
const deliver = (event: Stripe.Event) => deliverEvent(kettle, event);

const ledger = (campaign: Campaign) =>
  kettle.dataSource.getRepository(LedgerEntry).find({ where: { campaignId: campaign.id }, order: { createdAt: 'ASC' } });

/** Same shuffled order on every run, different per seed. */
function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Forgets everything webhooks wrote (not the checkout intents the donate form wrote), to replay from scratch. */
async function forgetWebhookEffects() {
  await kettle.dataSource.query(`TRUNCATE stripe_events, campaign_donor_totals, recurring_gifts, donor_stripe_customers, email_outbox`);
  await kettle.dataSource.query(`DELETE FROM ledger_entries WHERE gift_entry_id IS NOT NULL`);
  await kettle.dataSource.query(`DELETE FROM ledger_entries`);
  await kettle.dataSource.query(`UPDATE campaign_totals SET raised_amount = 0, gift_count = 0, donor_count = 0`);
  await kettle.dataSource.query(`UPDATE checkout_intents SET status = 'open', donor_id = NULL, completed_at = NULL, stripe_customer_id = NULL, stripe_subscription_id = NULL`);
  await kettle.dataSource.query(`DELETE FROM donors`);
}

beforeEach(() => {
  kettle.emulator.setAutoDeliver(true);
});

describe('webhook signatures', () => {
  const event = () => kettle.emulator.events.at(-1) ?? ({ id: 'evt_test_sig', type: 'checkout.session.completed', created: 1, data: { object: {} } } as unknown as Stripe.Event);
  const stored = async () => Number((await kettle.dataSource.query(`SELECT COUNT(*) AS n FROM stripe_events`))[0].n);

  it.each([
    ['missing', () => undefined],
    ['forged (wrong secret)', (p: string) => sign(p, { secret: 'whsec_not_ours' })],
    ['stale (older than 5 minutes)', (p: string) => sign(p, { timestamp: Math.floor(Date.now() / 1000) - 301 })],
    ['garbage', () => 't=abc,v1=def'],
  ])('rejects a %s signature with 400 and stores nothing', async (_label, makeHeader) => {
    const payload = JSON.stringify({ ...event(), id: 'evt_forged_1' });
    const before = await stored();
    const header = makeHeader(payload);
    const req = request(kettle.app).post('/stripe/webhook').set('Content-Type', 'application/json');
    const res = await (header ? req.set('Stripe-Signature', header) : req).send(payload);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_signature', message: 'Webhook signature verification failed.' });
    expect(await stored()).toBe(before);
  });

  it('rejects a body altered after signing', async () => {
    const payload = JSON.stringify({ id: 'evt_altered', type: 'ping', created: 1, data: { object: {} } });
    const res = await post(payload.replace('ping', 'pong'), sign(payload));
    expect(res.status).toBe(400);
  });

  it('accepts an event it does not act on with 200, and keeps it as ignored with the reason', async () => {
    const payload = JSON.stringify({ id: 'evt_unhandled', object: 'event', type: 'product.created', created: Math.floor(Date.now() / 1000), data: { object: { id: 'prod_1', object: 'product' } } });
    const res = await post(payload, sign(payload));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true });
    await kettle.settled();
    expect(await storedEvent(kettle, 'evt_unhandled')).toMatchObject({ status: 'ignored', outcome_reason: 'not an event Kettle acts on' });
  });
});

describe('counting the money', () => {
  it('counts a one-off gift on checkout.session.completed, and a duplicate delivery changes nothing', async () => {
    const campaign = await makeCampaign(kettle);
    await donateAndPay(kettle, campaign, { amount: '25', email: 'one@example.org' });
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 2500, gifts: 1, donors: 1 });

    const completed = kettle.emulator.events.filter((e) => e.type === 'checkout.session.completed').at(-1)!;
    const res = await deliver(completed);
    expect(res.status).toBe(200);
    expect(await storedEvent(kettle, completed.id)).toMatchObject({ status: 'processed', attempts: 1 });
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 2500, gifts: 1, donors: 1 });
  });

  it('does not count a declined card', async () => {
    const campaign = await makeCampaign(kettle);
    const { sessionId } = await startDonation(kettle, campaign, { amount: '25' });
    const result = await kettle.emulator.pay(sessionId, { number: CARDS.declined });
    expect(result.ok).toBe(false);
    await kettle.settled();
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 0, gifts: 0, donors: 0 });
  });

  it('counts every paid invoice of a recurring gift, the first included, and not the subscription session itself', async () => {
    const campaign = await makeCampaign(kettle);
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '10', frequency: 'monthly', email: 'monthly@example.org' });
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 1000, gifts: 1, donors: 1 });

    const subscriptionId = (await kettle.stripe.checkout.sessions.retrieve(sessionId)).subscription as string;
    await kettle.emulator.advanceSubscription(subscriptionId);
    await kettle.settled();
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 2000, gifts: 2, donors: 1 });
    const entries = await ledger(campaign);
    expect(entries.map((e) => [e.kind, e.amount, e.renewal, e.frequency])).toEqual([['gift', 1000, false, 'monthly'], ['gift', 1000, true, 'monthly']]);

    const recurring = await kettle.dataSource.getRepository(RecurringGift).findOneByOrFail({ stripeSubscriptionId: subscriptionId });
    expect(recurring).toMatchObject({ status: 'active', amount: 1000, interval: 'month', campaignId: campaign.id, failedPaymentCount: 0 });
  });

  it('records a failed renewal without counting money', async () => {
    const campaign = await makeCampaign(kettle);
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '10', frequency: 'annual', email: 'annual@example.org' });
    const subscriptionId = (await kettle.stripe.checkout.sessions.retrieve(sessionId)).subscription as string;
    await kettle.emulator.advanceSubscription(subscriptionId, { card: CARDS.failsOnNextCharge });
    await kettle.settled();
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 1000, gifts: 1, donors: 1 });
    const recurring = await kettle.dataSource.getRepository(RecurringGift).findOneByOrFail({ stripeSubscriptionId: subscriptionId });
    expect(recurring).toMatchObject({ status: 'past_due', failedPaymentCount: 1, interval: 'year' });
  });

  it('subtracts partial then full refunds', async () => {
    const campaign = await makeCampaign(kettle);
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '50', email: 'refund@example.org' });
    const paymentIntent = (await kettle.stripe.checkout.sessions.retrieve(sessionId)).payment_intent as string;

    await kettle.stripe.refunds.create({ payment_intent: paymentIntent, amount: 1500 });
    await kettle.settled();
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 3500, gifts: 1, donors: 1 });

    await kettle.stripe.refunds.create({ payment_intent: paymentIntent });
    await kettle.settled();
    expect(await totalsOf(kettle, campaign.id)).toEqual({
      kept: { raised: 0, gifts: 0, donors: 0 },
      recomputed: { raised: 0, gifts: 0, donors: 0 },
    });
    expect((await ledger(campaign)).map((e) => [e.kind, e.amount])).toEqual([['gift', 5000], ['refund', -1500], ['refund', -3500]]);
  });

  it('subtracts a lost dispute, not a won one', async () => {
    const campaign = await makeCampaign(kettle);
    const lost = await donateAndPay(kettle, campaign, { amount: '30', email: 'lost@example.org' });
    const won = await donateAndPay(kettle, campaign, { amount: '20', email: 'won@example.org' });
    for (const [started, outcome] of [[lost, 'lost'], [won, 'won']] as const) {
      const pi = await kettle.stripe.paymentIntents.retrieve((await kettle.stripe.checkout.sessions.retrieve(started.sessionId)).payment_intent as string);
      await kettle.emulator.disputeCharge(pi.latest_charge as string, outcome);
    }
    await kettle.settled();
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 2000, gifts: 1, donors: 1 });
  });
});

describe('arrival order and replays', () => {
  it('counts a recurring gift whose invoice.paid arrives before checkout.session.completed, once', async () => {
    const campaign = await makeCampaign(kettle);
    const events = await undeliveredEventsOf(kettle, () =>
      donateAndPay(kettle, campaign, { amount: '15', frequency: 'monthly', email: 'early@example.org', name: 'Early Bird' }));
    const invoicePaid = eventOfType(events, 'invoice.paid');
    const completed = eventOfType(events, 'checkout.session.completed');

    expect((await deliver(invoicePaid)).status).toBe(200);
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 1500, gifts: 1, donors: 1 });
    expect((await deliver(completed)).status).toBe(200);
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 1500, gifts: 1, donors: 1 });

    const [gift] = await ledger(campaign);
    expect(gift).toMatchObject({ frequency: 'monthly', renewal: false });
    const [donor] = await kettle.dataSource.query(`SELECT email, name FROM donors WHERE id = $1`, [gift.donorId]);
    expect(donor).toEqual({ email: 'early@example.org', name: 'Early Bird' });
  });

  it('gives the same ledger whatever the order, with every event delivered three times', async () => {
    const campaign = await makeCampaign(kettle);
    kettle.emulator.setAutoDeliver(false);
    const from = kettle.emulator.events.length;

    const once = await donateAndPay(kettle, campaign, { amount: '25', email: 'a@example.org' });
    const monthly = await donateAndPay(kettle, campaign, { amount: '10', frequency: 'monthly', email: 'b@example.org' });
    const refunded = await donateAndPay(kettle, campaign, { amount: '50', email: 'c@example.org' });
    const disputed = await donateAndPay(kettle, campaign, { amount: '30', email: 'd@example.org' });
    const sessionOf = (s: { sessionId: string }) => kettle.stripe.checkout.sessions.retrieve(s.sessionId);

    await kettle.emulator.advanceSubscription((await sessionOf(monthly)).subscription as string);
    await kettle.stripe.refunds.create({ payment_intent: (await sessionOf(once)).payment_intent as string, amount: 1000 });
    await kettle.stripe.refunds.create({ payment_intent: (await sessionOf(refunded)).payment_intent as string });
    const disputedPi = await kettle.stripe.paymentIntents.retrieve((await sessionOf(disputed)).payment_intent as string);
    await kettle.emulator.disputeCharge(disputedPi.latest_charge as string, 'lost');
    const events = kettle.emulator.events.slice(from);

    // a: 25 - 10 refunded; b: 10 + 10 renewal; c: 50 fully refunded; d: 30 lost in a dispute.
    const expected = { raised: 1500 + 2000, gifts: 3, donors: 2 };
    for (const seed of [1, 2, 3, 4, 5]) {
      await forgetWebhookEffects();
      for (const event of shuffle([...events, ...events, ...events], seed)) {
        const res = await deliver(event);
        expect(res.status, `${event.type} (seed ${seed})`).toBe(200);
      }
      expect(await totalsOf(kettle, campaign.id), `seed ${seed}`).toEqual({ kept: expected, recomputed: expected });
      const kinds = (await ledger(campaign)).map((e) => e.kind).sort();
      expect(kinds).toEqual(['dispute_lost', 'gift', 'gift', 'gift', 'gift', 'gift', 'refund', 'refund']);
    }
  });

  it('keeps the newest subscription state when updates arrive out of order, and never revives a canceled gift', async () => {
    const campaign = await makeCampaign(kettle);
    kettle.emulator.setAutoDeliver(false);
    const from = kettle.emulator.events.length;
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '10', frequency: 'monthly', email: 'order@example.org' });
    const subscriptionId = (await kettle.stripe.checkout.sessions.retrieve(sessionId)).subscription as string;
    await kettle.stripe.subscriptions.update(subscriptionId, { cancel_at_period_end: true });
    await kettle.stripe.subscriptions.cancel(subscriptionId);
    const events = kettle.emulator.events.slice(from).filter((e) => e.type.startsWith('customer.subscription.'));
    // Stripe's created is in seconds: make the order explicit, as it would be across real time.
    events.forEach((e, i) => { e.created = 1_800_000_000 + i; });
    for (const event of [...events].reverse()) expect((await deliver(event)).status).toBe(200);
    const recurring = await kettle.dataSource.getRepository(RecurringGift).findOneByOrFail({ stripeSubscriptionId: subscriptionId });
    expect(recurring.status).toBe('canceled');
  });
});

describe('events that cannot be applied as they are', () => {
  it('parks an event in a currency the campaign does not count in, answers 200, and counts nothing', async () => {
    const campaign = await makeCampaign(kettle);
    const events = await undeliveredEventsOf(kettle, () => donateAndPay(kettle, campaign, { amount: '20', email: 'euro@example.org' }));
    const completed = eventOfType(events, 'checkout.session.completed');
    // The session matches its intent; the campaign has since been switched to euros.
    await kettle.dataSource.query(`UPDATE campaigns SET currency = 'eur' WHERE id = $1`, [campaign.id]);

    const res = await deliver(completed);
    expect(res.status).toBe(200);
    const stored = await storedEvent(kettle, completed.id);
    expect(stored?.status).toBe('failed');
    expect(stored?.last_error).toMatch(/Currency mismatch/);
    expect((await totalsOf(kettle, campaign.id)).kept.raised).toBe(0);
  });
});

describe('when the database fails', () => {
  it('answers 5xx while the database is down (nothing stored), then the retry lands exactly once', async () => {
    const campaign = await makeCampaign(kettle);
    const events = await undeliveredEventsOf(kettle, () => donateAndPay(kettle, campaign, { amount: '40', email: 'outage@example.org' }));
    const completed = eventOfType(events, 'checkout.session.completed');

    kettle.dbProxy!.cut();
    const during = await post(JSON.stringify(completed), sign(JSON.stringify(completed)));
    expect(during.status).toBeGreaterThanOrEqual(500);
    kettle.dbProxy!.restore();
    expect(await storedEvent(kettle, completed.id)).toBeUndefined();

    for (let i = 0; i < 3; i++) expect((await deliver(completed)).status).toBe(200);
    expect(await totalsOf(kettle, campaign.id)).toEqual({
      kept: { raised: 4000, gifts: 1, donors: 1 },
      recomputed: { raised: 4000, gifts: 1, donors: 1 },
    });
  });

  it('applies an event stored just before the database went away once it is back, exactly once', async () => {
    const campaign = await makeCampaign(kettle);
    const events = await undeliveredEventsOf(kettle, () => donateAndPay(kettle, campaign, { amount: '35', email: 'stored-then-outage@example.org' }));
    const completed = eventOfType(events, 'checkout.session.completed');
    await kettle.webhookWorker.stop();
    try {
      expect((await post(JSON.stringify(completed), sign(JSON.stringify(completed)))).status).toBe(200);
      kettle.dbProxy!.cut();
      await expect(kettle.webhookWorker.drain()).rejects.toThrow();
      kettle.dbProxy!.restore();
      await kettle.webhookWorker.drain();
      await deliver(completed); // Stripe's redelivery finds it done
    } finally {
      kettle.dbProxy!.restore();
      kettle.webhookWorker.start();
    }
    expect(await storedEvent(kettle, completed.id)).toMatchObject({ status: 'processed', attempts: 1 });
    expect(await totalsOf(kettle, campaign.id)).toEqual({
      kept: { raised: 3500, gifts: 1, donors: 1 },
      recomputed: { raised: 3500, gifts: 1, donors: 1 },
    });
  });

  it('writes nothing when the transaction fails half-way, and the retry applies it once', async () => {
    const campaign = await makeCampaign(kettle);
    const events = await undeliveredEventsOf(kettle, () => donateAndPay(kettle, campaign, { amount: '45', email: 'halfway@example.org' }));
    const completed = eventOfType(events, 'checkout.session.completed');

    // The ledger insert succeeds, then moving the kept totals fails: all of it must roll back.
    await kettle.dataSource.query(`ALTER TABLE campaign_totals ADD CONSTRAINT fail_for_test CHECK (raised_amount < 1) NOT VALID`);
    try {
      // Stored and acknowledged; applying it fails, so it waits for its next try.
      expect((await deliver(completed)).status).toBe(200);
      expect(await ledger(campaign)).toEqual([]);
      expect(await storedEvent(kettle, completed.id)).toMatchObject({ status: 'received', attempts: 1, waiting: true });
    } finally {
      await kettle.dataSource.query(`ALTER TABLE campaign_totals DROP CONSTRAINT fail_for_test`);
    }
    // Stripe's redelivery cuts the backoff short.
    expect((await deliver(completed)).status).toBe(200);
    expect((await ledger(campaign)).length).toBe(1);
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 4500, gifts: 1, donors: 1 });
  });
});
