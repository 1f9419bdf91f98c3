import 'reflect-metadata';
import type Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { LedgerEntry } from '../src/ledger/ledger-entry.entity';
import { DEFAULT_INBOX_POLICY } from '../src/payments/stripe/inbox';
import {
  deliverEvent, donateAndPay, eventOfType, postWebhook, signPayload, storedEvent, undeliveredEventsOf,
} from './helpers/flows';
import { makeCampaign, startTestKettle, totalsOf, type TestKettle } from './helpers/kettle';

// What the attack on the webhook path found (issue 5, section 5), each with the behaviour now expected.

let kettle: TestKettle;
const logLines: { level: number; msg: string }[] = [];

beforeAll(async () => {
  kettle = await startTestKettle({ logStream: { write: (line) => void logLines.push(JSON.parse(line)) } });
});
afterAll(() => kettle?.close());
beforeEach(() => kettle.emulator.setAutoDeliver(true));

const deliver = (event: Stripe.Event) => deliverEvent(kettle, event);
const ledgerKinds = async (campaign: Campaign) =>
  (await kettle.dataSource.getRepository(LedgerEntry).find({ where: { campaignId: campaign.id }, order: { createdAt: 'ASC' } }))
    .map((e) => [e.kind, e.amount]);

/** A copy of a real event under a new id, its object changed as a stranger (or Stripe, later) would. */
function variantOf<T>(event: Stripe.Event, suffix: string, change: (object: T) => void): Stripe.Event {
  const copy = structuredClone(event);
  copy.id = `${event.id}_${suffix}`;
  change(copy.data.object as T);
  return copy;
}

/** A Stripe event built by hand around an object, as Stripe shapes them (fixtures3.json). */
function eventAbout(type: string, object: object, id: string): Stripe.Event {
  return {
    id, object: 'event', api_version: '2026-10-28.endive', created: Math.floor(Date.now() / 1000), livemode: false,
    pending_webhooks: 1, request: { id: null, idempotency_key: null }, type, data: { object },
  } as unknown as Stripe.Event;
}

describe('finding 1: only Checkout Sessions Kettle created count, for the amount it asked', () => {
  it('ignores a session that merely names our intent, and still counts ours once', async () => {
    const campaign = await makeCampaign(kettle);
    const events = await undeliveredEventsOf(kettle, () => donateAndPay(kettle, campaign, { amount: '25', email: 'named@example.org' }));
    const completed = eventOfType(events, 'checkout.session.completed');
    const session = completed.data.object as Stripe.Checkout.Session;
    // A Payment Link visited with ?client_reference_id=<our intent id>: a session we never made.
    const foreign = variantOf<Stripe.Checkout.Session>(completed, 'foreign', (s) => {
      s.id = 'cs_test_not_kettles';
      s.amount_total = 100;
      s.payment_intent = 'pi_not_kettles';
    });
    expect((foreign.data.object as Stripe.Checkout.Session).client_reference_id).toBe(session.client_reference_id);

    expect((await deliver(foreign)).status).toBe(200);
    expect(await storedEvent(kettle, foreign.id)).toMatchObject({ status: 'ignored', outcome_reason: 'Checkout Session not created by Kettle' });
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 0, gifts: 0, donors: 0 });
    const [intent] = await kettle.dataSource.query(`SELECT status FROM checkout_intents WHERE id = $1`, [session.client_reference_id]);
    expect(intent.status).toBe('open');

    await deliver(completed);
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 2500, gifts: 1, donors: 1 });
  });

  it.each([
    ['amount', (s: Stripe.Checkout.Session) => { s.amount_total = 1; }],
    ['currency', (s: Stripe.Checkout.Session) => { s.currency = 'eur'; }],
  ])('ignores our own session when its %s differs from the intent', async (what, change) => {
    const campaign = await makeCampaign(kettle);
    const events = await undeliveredEventsOf(kettle, () => donateAndPay(kettle, campaign, { amount: '30', email: `${what}@example.org` }));
    const altered = variantOf(eventOfType(events, 'checkout.session.completed'), what, change);

    expect((await deliver(altered)).status).toBe(200);
    const stored = await storedEvent(kettle, altered.id);
    expect(stored?.status).toBe('ignored');
    expect(stored?.outcome_reason).toMatch(/amount or currency differs/);
    expect(await ledgerKinds(campaign)).toEqual([]);
  });

  it('retries, rather than ignores, a session whose id is still being stored, and counts it once it is', async () => {
    const campaign = await makeCampaign(kettle);
    const events = await undeliveredEventsOf(kettle, () => donateAndPay(kettle, campaign, { amount: '20', email: 'early@example.org' }));
    const completed = eventOfType(events, 'checkout.session.completed');
    const session = completed.data.object as Stripe.Checkout.Session;
    // As if the webhook outran the commit that stores the session id (CheckoutService.start).
    await kettle.dataSource.query(`UPDATE checkout_intents SET stripe_checkout_session_id = NULL, status = 'pending' WHERE id = $1`, [session.client_reference_id]);

    expect((await deliver(completed)).status).toBe(200);
    expect(await storedEvent(kettle, completed.id)).toMatchObject({ status: 'received', attempts: 1, waiting: true });
    expect((await storedEvent(kettle, completed.id))?.last_error).toMatch(/has not stored its Checkout Session id yet/);

    await kettle.dataSource.query(`UPDATE checkout_intents SET stripe_checkout_session_id = $2, status = 'open' WHERE id = $1`, [session.client_reference_id, session.id]);
    await deliver(completed); // Stripe's retry
    expect(await storedEvent(kettle, completed.id)).toMatchObject({ status: 'processed', attempts: 2 });
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 2000, gifts: 1, donors: 1 });
  });
});

describe('finding 5: a refund that fails after it succeeded gives the money back', () => {
  async function refundedGift(email: string) {
    const campaign = await makeCampaign(kettle);
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '50', email });
    const paymentIntent = (await kettle.stripe.checkout.sessions.retrieve(sessionId)).payment_intent as string;
    const refund = await kettle.stripe.refunds.create({ payment_intent: paymentIntent });
    await kettle.settled();
    return { campaign, failed: { ...refund, status: 'failed', failure_reason: 'expired_or_canceled_card' } as Stripe.Refund };
  }

  it('reverses the refund once, on refund.failed and charge.refund.updated alike, and the gift and donor count again', async () => {
    const { campaign, failed } = await refundedGift('bounced@example.org');
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 0, gifts: 0, donors: 0 });

    const refundFailed = eventAbout('refund.failed', failed, `evt_failed_${failed.id}`);
    const refundUpdated = eventAbout('charge.refund.updated', failed, `evt_updated_${failed.id}`);
    for (const event of [refundFailed, refundUpdated, refundFailed]) expect((await deliver(event)).status).toBe(200);

    expect(await totalsOf(kettle, campaign.id)).toEqual({
      kept: { raised: 5000, gifts: 1, donors: 1 },
      recomputed: { raised: 5000, gifts: 1, donors: 1 },
    });
    expect(await ledgerKinds(campaign)).toEqual([['gift', 5000], ['refund', -5000], ['refund_reversal', 5000]]);
    expect(await storedEvent(kettle, refundUpdated.id)).toMatchObject({ status: 'processed' });
  });

  it('changes nothing when a refund Kettle never counted fails', async () => {
    const campaign = await makeCampaign(kettle);
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '40', email: 'pending-refund@example.org' });
    const paymentIntent = (await kettle.stripe.checkout.sessions.retrieve(sessionId)).payment_intent as string;
    const events = await undeliveredEventsOf(kettle, () => kettle.stripe.refunds.create({ payment_intent: paymentIntent }));
    const refund = eventOfType(events, 'refund.created').data.object as Stripe.Refund;

    await deliver(eventAbout('refund.failed', { ...refund, status: 'failed' }, `evt_failed_${refund.id}`));
    expect(await ledgerKinds(campaign)).toEqual([['gift', 4000]]);
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 4000, gifts: 1, donors: 1 });
  });
});

describe('finding 6: webhook bodies are bounded before the signature is checked', () => {
  const bigEvent = (bytes: number) => JSON.stringify({
    id: `evt_big_${bytes}`, object: 'event', type: 'product.updated', created: Math.floor(Date.now() / 1000),
    data: { object: { id: 'prod_big', object: 'product', description: 'x'.repeat(bytes) } },
  });

  it('refuses a body over 256 KB with 413 and stores nothing', async () => {
    const payload = bigEvent(300 * 1024);
    const res = await postWebhook(kettle.app, payload, signPayload(payload));
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: 'bad_request', message: 'That request is too large.' });
    expect(await storedEvent(kettle, 'evt_big_307200')).toBeUndefined();
  });

  it('accepts a signed event of 200 KB', async () => {
    const payload = bigEvent(200 * 1024);
    expect((await postWebhook(kettle.app, payload, signPayload(payload))).status).toBe(200);
  });
});

describe('finding 11: an event that can never apply is parked, and refunds are checked without false alarms', () => {
  it('backs off an event about a subscription Stripe does not know, then parks it as failed', async () => {
    const event = eventAbout('customer.subscription.updated', { id: 'sub_nobody_knows', object: 'subscription', metadata: {} } as never, 'evt_unknown_sub');
    const { maxAttempts, backoffBaseMs, backoffMaxMs } = DEFAULT_INBOX_POLICY;
    await deliver(event);
    for (let attempt = 1; attempt < maxAttempts; attempt++) {
      const [row] = await kettle.dataSource.query(
        `SELECT status, attempts, last_error, EXTRACT(EPOCH FROM next_attempt_at - now()) * 1000 AS wait_ms FROM stripe_events WHERE id = $1`, [event.id]);
      const expectedWait = Math.min(backoffBaseMs * 2 ** (attempt - 1), backoffMaxMs);
      expect(row).toMatchObject({ status: 'received', attempts: attempt });
      expect(row.last_error).toMatch(/sub_nobody_knows/);
      expect(Number(row.wait_ms)).toBeGreaterThan(expectedWait - 5_000);
      expect(Number(row.wait_ms)).toBeLessThanOrEqual(expectedWait);
      // Skip the wait instead of sleeping through it.
      await kettle.dataSource.query(`UPDATE stripe_events SET next_attempt_at = now() WHERE id = $1`, [event.id]);
      await kettle.webhookWorker.drain();
    }
    expect(await storedEvent(kettle, event.id)).toMatchObject({ status: 'failed', attempts: maxAttempts });
    await kettle.dataSource.query(`UPDATE stripe_events SET next_attempt_at = now() WHERE id = $1`, [event.id]);
    expect(await kettle.webhookWorker.drain()).toBe(0);
  });

  it('does not warn that refunds differ from amount_refunded when a later refund exists', async () => {
    const campaign = await makeCampaign(kettle);
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '50', email: 'two-refunds@example.org' });
    const paymentIntent = (await kettle.stripe.checkout.sessions.retrieve(sessionId)).payment_intent as string;
    const events = await undeliveredEventsOf(kettle, async () => {
      await kettle.stripe.refunds.create({ payment_intent: paymentIntent, amount: 1500 });
      await kettle.stripe.refunds.create({ payment_intent: paymentIntent });
    });
    logLines.length = 0;
    // The first charge.refunded carries amount_refunded 1500; both refunds exist by the time it is applied.
    for (const event of events.filter((e) => e.type === 'charge.refunded')) await deliver(event);
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 0, gifts: 0, donors: 0 });
    expect(logLines.some((l) => l.msg === 'stripe events applied')).toBe(true);
    expect(logLines.filter((l) => /amount_refunded/.test(l.msg))).toEqual([]);
  });
});
