import 'reflect-metadata';
import pino from 'pino';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebhookInboxWorker } from '../src/jobs/webhook-inbox.worker';
import { StripeEventHandlers } from '../src/payments/stripe/event-handlers';
import { DEFAULT_INBOX_POLICY, StripeInbox, type InboxPolicy } from '../src/payments/stripe/inbox';
import { donateAndPay, eventOfType, postEvent, storedEvent, undeliveredEventsOf, withAppWorkerStopped } from './helpers/flows';
import { makeCampaign, startKettleInstance, startTestKettle, totalsOf, type KettleInstance, type TestKettle } from './helpers/kettle';

// The inbox worker: woken by NOTIFY, polling as a fallback, safe with several workers and instances.

let kettle: TestKettle;
const logger = pino({ level: 'silent' });

beforeAll(async () => {
  kettle = await startTestKettle();
});
afterAll(() => kettle?.close());

/** A worker of its own on the test's database, with the app's handlers or patched ones. */
function extraWorker(opts: { pollMs: number; listen: boolean; handlers?: StripeEventHandlers; policy?: InboxPolicy }) {
  const inbox = new StripeInbox(kettle.dataSource, opts.handlers ?? new StripeEventHandlers(kettle.stripe, logger), logger, opts.policy);
  return new WebhookInboxWorker(inbox, logger, { connectionString: opts.listen ? kettle.dbUrl : null, pollMs: opts.pollMs });
}

/** Runs `act` while a worker of the test's own, not the app's, applies events. */
function withOnlyWorker(opts: { pollMs: number; listen: boolean }, act: (worker: WebhookInboxWorker) => Promise<void>) {
  return withAppWorkerStopped(kettle, async () => {
    const worker = extraWorker(opts);
    worker.start();
    try {
      await act(worker);
    } finally {
      await worker.stop();
    }
  });
}

async function paidGiftEvents(amount: string, email: string) {
  const campaign = await makeCampaign(kettle);
  const events = await undeliveredEventsOf(kettle, () => donateAndPay(kettle, campaign, { amount, email }));
  kettle.emulator.setAutoDeliver(true);
  return { campaign, completed: eventOfType(events, 'checkout.session.completed') };
}

describe('waking the worker', () => {
  it('applies a stored event as soon as NOTIFY announces it, with no poll and no drain', async () => {
    const { campaign, completed } = await paidGiftEvents('25', 'notified@example.org');
    await withOnlyWorker({ pollMs: 3_600_000, listen: true }, async (worker) => {
      await worker.listening;
      expect((await postEvent(kettle.app, completed)).status).toBe(200);
      await vi.waitFor(async () => expect((await storedEvent(kettle, completed.id))?.status).toBe('processed'), { timeout: 10_000, interval: 10 });
    });
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 2500, gifts: 1, donors: 1 });
  });

  it('finds a stored event by polling when no notification arrives', async () => {
    const { campaign, completed } = await paidGiftEvents('15', 'polled@example.org');
    await withOnlyWorker({ pollMs: 20, listen: false }, async () => {
      expect((await postEvent(kettle.app, completed)).status).toBe(200);
      await vi.waitFor(async () => expect((await storedEvent(kettle, completed.id))?.status).toBe('processed'), { timeout: 10_000, interval: 10 });
    });
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 1500, gifts: 1, donors: 1 });
  });
});

describe('two workers at once', () => {
  it('applies a refund whose gift another worker commits while the refund is deciding to wait', async () => {
    const campaign = await makeCampaign(kettle);
    const events = await undeliveredEventsOf(kettle, async () => {
      const { sessionId } = await donateAndPay(kettle, campaign, { amount: '50', email: 'race@example.org' });
      await kettle.stripe.refunds.create({ payment_intent: (await kettle.stripe.checkout.sessions.retrieve(sessionId)).payment_intent as string });
    });
    kettle.emulator.setAutoDeliver(true);
    const completed = eventOfType(events, 'checkout.session.completed');
    const refunded = eventOfType(events, 'charge.refunded');

    // Worker A holds the refund's transaction open once it decided to wait, until B committed the gift.
    const held = new StripeEventHandlers(kettle.stripe, logger);
    const apply = held.apply.bind(held);
    let decided!: () => void;
    let release!: () => void;
    const refundDecided = new Promise<void>((r) => { decided = r; });
    const giftCommitted = new Promise<void>((r) => { release = r; });
    held.apply = async (tx, event, prepared, totals) => {
      const outcome = await apply(tx, event, prepared, totals);
      if (event.id === refunded.id && outcome.status === 'deferred') {
        decided();
        await giftCommitted;
      }
      return outcome;
    };

    await withAppWorkerStopped(kettle, async () => {
      const a = extraWorker({ pollMs: 3_600_000, listen: false, handlers: held });
      const b = extraWorker({ pollMs: 3_600_000, listen: false });
      await postEvent(kettle.app, refunded);
      const drainA = a.drain();
      await refundDecided;
      await postEvent(kettle.app, completed);
      await b.drain();
      expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 5000, gifts: 1, donors: 1 });
      release();
      await drainA;
      await b.drain();
    });
    expect(await storedEvent(kettle, refunded.id)).toMatchObject({ status: 'processed' });
    expect(await totalsOf(kettle, campaign.id)).toEqual({
      kept: { raised: 0, gifts: 0, donors: 0 },
      recomputed: { raised: 0, gifts: 0, donors: 0 },
    });
  });
  it('loses and doubles nothing when two batches deadlock on the same donors, taken in opposite orders', async () => {
    const campaign = await makeCampaign(kettle);
    const events = await undeliveredEventsOf(kettle, async () => {
      for (const email of ['x@example.org', 'y@example.org', 'y@example.org', 'x@example.org']) {
        await donateAndPay(kettle, campaign, { amount: '10', email });
      }
    });
    kettle.emulator.setAutoDeliver(true);
    const [x1, y1, y2, x2] = events.filter((e) => e.type === 'checkout.session.completed');
    // Each batch applies in created order: A takes x then y, B takes y then x.
    const t = Math.floor(Date.now() / 1000);
    [x1.created, y1.created, y2.created, x2.created] = [t, t + 1, t, t + 1];

    // Both batches pause after their first event, so each holds one donor the other needs next.
    let bothHoldOne!: () => void;
    const bothHeld = new Promise<void>((resolve) => { bothHoldOne = resolve; });
    let aHoldsOne!: () => void;
    const aHeld = new Promise<void>((resolve) => { aHoldsOne = resolve; });
    let waiting = 2;
    const pausing = (onPause: () => void) => {
      const handlers = new StripeEventHandlers(kettle.stripe, logger);
      const apply = handlers.apply.bind(handlers);
      let paused = false;
      handlers.apply = async (tx, event, prepared, totals) => {
        const outcome = await apply(tx, event, prepared, totals);
        if (!paused) {
          paused = true;
          onPause();
          if (--waiting === 0) bothHoldOne();
          await bothHeld;
        }
        return outcome;
      };
      return handlers;
    };

    // The per-event path, which these handlers pause inside (the set-based one takes donors in email order).
    const perEvent = { ...DEFAULT_INBOX_POLICY, setBasedGifts: false };
    await withAppWorkerStopped(kettle, async () => {
      const a = extraWorker({ pollMs: 3_600_000, listen: false, handlers: pausing(aHoldsOne), policy: perEvent });
      const b = extraWorker({ pollMs: 3_600_000, listen: false, handlers: pausing(() => undefined), policy: perEvent });
      for (const event of [x1, y1]) await postEvent(kettle.app, event);
      const drainA = a.drain();
      await aHeld;
      for (const event of [y2, x2]) await postEvent(kettle.app, event);
      await Promise.all([drainA, b.drain()]);
      await Promise.all([a.drain(), b.drain()]);
    });
    expect(await totalsOf(kettle, campaign.id)).toEqual({
      kept: { raised: 4000, gifts: 4, donors: 2 },
      recomputed: { raised: 4000, gifts: 4, donors: 2 },
    });
    for (const event of [x1, y1, y2, x2]) expect(await storedEvent(kettle, event.id)).toMatchObject({ status: 'processed' });
  });
});

describe('three instances on one database', () => {
  let others: KettleInstance[] = [];
  afterAll(async () => {
    await Promise.all(others.map((i) => i.close()));
  });

  it('counts each gift exactly once when every event and its duplicate reach two instances at the same moment', async () => {
    others = await Promise.all([startKettleInstance(kettle.dbUrl, kettle.emulator), startKettleInstance(kettle.dbUrl, kettle.emulator)]);
    const instances: KettleInstance[] = [kettle, ...others];
    const campaign = await makeCampaign(kettle);

    const events: Stripe.Event[] = await undeliveredEventsOf(kettle, async () => {
      const oneOff = [];
      // 18 one-off gifts from 6 donors, so batches on different instances upsert the same donors.
      for (let i = 0; i < 18; i++) oneOff.push(await donateAndPay(kettle, campaign, { amount: String(10 + i), email: `donor${i % 6}@example.org` }));
      for (let i = 0; i < 2; i++) await donateAndPay(kettle, campaign, { amount: '10', frequency: 'monthly', email: `monthly${i}@example.org` });
      for (const gift of oneOff.slice(0, 2)) {
        const session = await kettle.stripe.checkout.sessions.retrieve(gift.sessionId);
        await kettle.stripe.refunds.create({ payment_intent: session.payment_intent as string });
      }
    });
    kettle.emulator.setAutoDeliver(true);

    const responses = await Promise.all(events.flatMap((event, k) => [
      postEvent(instances[k % 3].app, event),
      postEvent(instances[(k + 1) % 3].app, event),
    ]));
    expect(responses.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
    await Promise.all(instances.map((i) => i.webhookWorker.drain()));

    // Gifts 10..27 dollars, the first two refunded in full; two monthly gifts of 10.
    const oneOffTotal = Array.from({ length: 18 }, (_, i) => (10 + i) * 100).reduce((a, b) => a + b, 0);
    const expected = { raised: oneOffTotal - (10 + 11) * 100 + 2 * 1000, gifts: 18 - 2 + 2, donors: 6 + 2 };
    expect(await totalsOf(kettle, campaign.id)).toEqual({ kept: expected, recomputed: expected });

    const inbox: { status: string; n: number }[] = await kettle.dataSource.query(
      `SELECT status, COUNT(*)::int AS n FROM stripe_events WHERE id = ANY($1) GROUP BY status ORDER BY status`, [events.map((e) => e.id)]);
    expect(inbox.filter((r) => r.status !== 'processed' && r.status !== 'ignored')).toEqual([]);
    expect(inbox.reduce((sum, r) => sum + r.n, 0)).toBe(events.length);
    const [{ gifts }] = await kettle.dataSource.query(`SELECT COUNT(*)::int AS gifts FROM ledger_entries WHERE campaign_id = $1 AND kind = 'gift'`, [campaign.id]);
    expect(gifts).toBe(20);
  });
});
