import 'reflect-metadata';
import pino from 'pino';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { upsertDonors } from '../src/donors/donor.service';
import { LedgerError, recordLedgerEntries } from '../src/ledger/ledger.service';
import { StripeEventHandlers } from '../src/payments/stripe/event-handlers';
import { DEFAULT_INBOX_POLICY, StripeInbox } from '../src/payments/stripe/inbox';
import { donateAndPay, eventOfType, postEvent, storedEvent, undeliveredEventsOf, withAppWorkerStopped } from './helpers/flows';
import { makeCampaign, startTestKettle, totalsOf, type TestKettle } from './helpers/kettle';

// Paid one-off gifts are applied a batch at a time, set-based: the same ledger, donors and totals
// as event by event, whatever the batch mixes.

let kettle: TestKettle;
let logLines: string[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => { logLines.push(line); } });

beforeAll(async () => {
  kettle = await startTestKettle();
});
afterAll(() => kettle?.close());

/** An inbox of the test's own, so one runBatch() applies everything posted as one batch. */
const testInbox = (batchSize = DEFAULT_INBOX_POLICY.batchSize) =>
  new StripeInbox(kettle.dataSource, new StripeEventHandlers(kettle.stripe, logger), logger, { ...DEFAULT_INBOX_POLICY, batchSize });

/** A one-off gift paid on the emulator, its events not delivered yet. */
async function paidGift(campaign: Campaign, form: { amount: string; email: string }) {
  const events = await undeliveredEventsOf(kettle, () => donateAndPay(kettle, campaign, form));
  kettle.emulator.setAutoDeliver(true);
  return eventOfType(events, 'checkout.session.completed');
}

/** The same event under another id: what Stripe sends when it reports one session twice. */
function copyOf(event: Stripe.Event, id: string, changes: Partial<Stripe.Checkout.Session> = {}, type: string = event.type): Stripe.Event {
  // Plain objects, not Stripe.Event: spreading that union of every event type stalls the type checker.
  const copy = structuredClone(event) as unknown as { data: { object: object } };
  return { ...copy, id, type, data: { ...copy.data, object: { ...copy.data.object, ...changes } } } as unknown as Stripe.Event;
}

const sessionOf = (event: Stripe.Event) => event.data.object as Stripe.Checkout.Session;

async function giftRowsOf(sessionIds: string[]) {
  const rows: { session: string; amount: string }[] = await kettle.dataSource.query(
    `SELECT stripe_checkout_session_id AS session, amount FROM ledger_entries WHERE kind = 'gift' AND stripe_checkout_session_id = ANY($1)`,
    [sessionIds],
  );
  return rows;
}

describe('a batch of gift events applied together', () => {
  it('counts new gifts once, takes duplicates and replays as such, and leaves the odd ones to the per-event rules', async () => {
    const campaign = await makeCampaign(kettle);
    const newGift = await paidGift(campaign, { amount: '10', email: 'Casey@Example.org' });
    const sameDonorOtherCase = await paidGift(campaign, { amount: '20', email: 'casey@example.ORG' });
    const twice = await paidGift(campaign, { amount: '30', email: 'twice@example.org' });
    const recordedBefore = await paidGift(campaign, { amount: '40', email: 'early@example.org' });
    const tampered = await paidGift(campaign, { amount: '50', email: 'tampered@example.org' });
    const refundedEvents = await undeliveredEventsOf(kettle, async () => {
      const { sessionId } = await donateAndPay(kettle, campaign, { amount: '60', email: 'refunded@example.org' });
      const session = await kettle.stripe.checkout.sessions.retrieve(sessionId);
      await kettle.stripe.refunds.create({ payment_intent: session.payment_intent as string });
    });
    kettle.emulator.setAutoDeliver(true);
    const refundedGift = eventOfType(refundedEvents, 'checkout.session.completed');
    const refund = eventOfType(refundedEvents, 'charge.refunded');
    // The refund comes first in the batch (events apply in created order).
    refund.created = refundedGift.created - 10;

    // A session Kettle did not create, naming nothing of ours.
    const foreign = copyOf(newGift, 'evt_set_foreign', {
      id: 'cs_test_set_foreign', client_reference_id: null, metadata: {}, payment_intent: 'pi_set_foreign',
    } as Partial<Stripe.Checkout.Session>);
    // A session whose intent is still starting: Kettle has not stored its id yet.
    const [starting] = await kettle.dataSource.query(
      `INSERT INTO checkout_intents (campaign_id, frequency, donation_amount, total_amount, currency, email, status)
       VALUES ($1, 'once', 700, 700, 'usd', 'starting@example.org', 'pending') RETURNING id`,
      [campaign.id],
    );
    const notYetStored = copyOf(newGift, 'evt_set_not_yet_stored', {
      id: 'cs_test_set_not_yet_stored', client_reference_id: starting.id, amount_total: 700, payment_intent: 'pi_set_not_yet_stored',
    } as Partial<Stripe.Checkout.Session>);

    await withAppWorkerStopped(kettle, async () => {
      await postEvent(kettle.app, recordedBefore);
      await testInbox().runBatch();
      logLines = [];
      for (const event of [
        newGift, sameDonorOtherCase, twice, copyOf(twice, `${twice.id}_again`, {}, 'checkout.session.async_payment_succeeded'),
        copyOf(recordedBefore, `${recordedBefore.id}_again`), copyOf(tampered, tampered.id, { amount_total: 5 }),
        foreign, notYetStored, refund, refundedGift,
      ]) {
        expect((await postEvent(kettle.app, event)).status).toBe(200);
      }
      expect(await testInbox().runBatch()).toBe(10);
    });

    const sessions = [newGift, sameDonorOtherCase, twice, recordedBefore, tampered, refundedGift, foreign, notYetStored].map((e) => sessionOf(e).id);
    expect((await giftRowsOf(sessions)).map((r) => [r.session, Number(r.amount)]).sort()).toEqual([
      [sessionOf(newGift).id, 1000], [sessionOf(sameDonorOtherCase).id, 2000], [sessionOf(twice).id, 3000],
      [sessionOf(recordedBefore).id, 4000], [sessionOf(refundedGift).id, 6000],
    ].sort());
    for (const event of [newGift, sameDonorOtherCase, twice, refund, refundedGift]) {
      expect(await storedEvent(kettle, event.id)).toMatchObject({ status: 'processed' });
    }
    expect(await storedEvent(kettle, `${twice.id}_again`)).toMatchObject({ status: 'processed' });
    expect(await storedEvent(kettle, `${recordedBefore.id}_again`)).toMatchObject({ status: 'processed' });
    expect(await storedEvent(kettle, tampered.id)).toMatchObject({ status: 'ignored', outcome_reason: expect.stringContaining('amount or currency differs') });
    expect(await storedEvent(kettle, foreign.id)).toMatchObject({ status: 'ignored', outcome_reason: 'Checkout Session not created by Kettle' });
    // Tried again later, not ignored: the payment is real, its intent just has not stored the session yet.
    expect(await storedEvent(kettle, notYetStored.id)).toMatchObject({ status: 'received', attempts: 1, waiting: true });

    const donors = await kettle.dataSource.query(`SELECT email FROM donors WHERE lower(email) = 'casey@example.org'`);
    expect(donors).toHaveLength(1);
    // 10 + 20 + 30 + 40 + (60 refunded); Casey counts once.
    expect(await totalsOf(kettle, campaign.id)).toEqual({
      kept: { raised: 10000, gifts: 4, donors: 3 },
      recomputed: { raised: 10000, gifts: 4, donors: 3 },
    });
    expect(logLines.join('')).not.toContain('failed together');
  });

  it('parks a gift that conflicts with a different Stripe object and still applies the rest of its batch', async () => {
    const campaign = await makeCampaign(kettle);
    const first = await paidGift(campaign, { amount: '10', email: 'first@example.org' });
    const second = await paidGift(campaign, { amount: '20', email: 'second@example.org' });
    const clashing = await paidGift(campaign, { amount: '30', email: 'clash@example.org' });
    // Its own session, but the PaymentIntent already counted for the first gift: not a replay.
    const conflicting = copyOf(clashing, clashing.id, { payment_intent: sessionOf(first).payment_intent });

    await withAppWorkerStopped(kettle, async () => {
      await postEvent(kettle.app, first);
      await testInbox().runBatch();
      for (const event of [second, conflicting]) await postEvent(kettle.app, event);
      await testInbox().runBatch();
    });

    expect(await storedEvent(kettle, second.id)).toMatchObject({ status: 'processed' });
    expect(await storedEvent(kettle, conflicting.id)).toMatchObject({ status: 'failed', last_error: expect.stringContaining('conflicts with a different entry') });
    expect(await giftRowsOf([sessionOf(clashing).id])).toEqual([]);
    expect(await totalsOf(kettle, campaign.id)).toEqual({
      kept: { raised: 3000, gifts: 2, donors: 2 },
      recomputed: { raised: 3000, gifts: 2, donors: 2 },
    });
  });

  it('counts each gift once when two workers apply overlapping batches at the same time', async () => {
    const campaign = await makeCampaign(kettle);
    const originals: Stripe.Event[] = [];
    // 24 gifts from 6 donors: both batches upsert the same donors and insert the same sessions.
    for (let i = 0; i < 24; i++) originals.push(await paidGift(campaign, { amount: String(10 + i), email: `overlap${i % 6}@example.org` }));
    const duplicates = originals.map((event, i) => copyOf(event, `${event.id}_dup`, {}, i % 2 ? event.type : 'checkout.session.async_payment_succeeded'));

    await withAppWorkerStopped(kettle, async () => {
      for (const event of [...originals, ...duplicates]) await postEvent(kettle.app, event);
      // The originals fall due first, so one worker claims them and the other their duplicates.
      await kettle.dataSource.query(
        `UPDATE stripe_events SET next_attempt_at = now() - interval '1 minute' WHERE id = ANY($1)`, [originals.map((e) => e.id)]);
      const [a, b] = [testInbox(24), testInbox(24)];
      for (;;) {
        const [claimedA, claimedB] = await Promise.all([a.runBatch(), b.runBatch()]);
        if (claimedA + claimedB === 0) break;
      }
    });

    for (const event of [...originals, ...duplicates]) expect(await storedEvent(kettle, event.id)).toMatchObject({ status: 'processed' });
    expect(await giftRowsOf(originals.map((e) => sessionOf(e).id))).toHaveLength(24);
    // 10 + 11 + … + 33 dollars.
    expect(await totalsOf(kettle, campaign.id)).toEqual({
      kept: { raised: 51600, gifts: 24, donors: 6 },
      recomputed: { raised: 51600, gifts: 24, donors: 6 },
    });
  });
});

describe('storing a surge of deliveries', () => {
  it('stores concurrent deliveries together, each once, and one that cannot be stored fails alone', async () => {
    const campaign = await makeCampaign(kettle);
    const gifts: Stripe.Event[] = [];
    for (let i = 0; i < 10; i++) gifts.push(await paidGift(campaign, { amount: String(10 + i), email: `surge${i}@example.org` }));
    // PostgreSQL's jsonb refuses \u0000: this signed event can never be stored.
    const unstorable = copyOf(gifts[0], 'evt_set_unstorable', { metadata: { note: 'a\u0000b' } } as Partial<Stripe.Checkout.Session>);

    let answers: number[] = [];
    await withAppWorkerStopped(kettle, async () => {
      // Every event twice at the same moment, as Stripe's retries and a slow answer can make happen.
      answers = (await Promise.all([...gifts, ...gifts, unstorable].map((event) => postEvent(kettle.app, event)))).map((res) => res.status);
    });
    expect(answers).toEqual([...gifts, ...gifts].map(() => 200).concat(503));
    const stored = await kettle.dataSource.query(`SELECT id FROM stripe_events WHERE id = ANY($1)`, [[...gifts, unstorable].map((e) => e.id)]);
    expect(stored).toHaveLength(10);
    await kettle.webhookWorker.drain();
    // 10 + 11 + … + 19 dollars.
    expect(await totalsOf(kettle, campaign.id)).toEqual({
      kept: { raised: 14500, gifts: 10, donors: 10 },
      recomputed: { raised: 14500, gifts: 10, donors: 10 },
    });
  });
});

describe('the set-based doors', () => {
  it('records gifts in the order given, a duplicate as a replay, and refuses a currency the campaign does not count in', async () => {
    const campaign = await makeCampaign(kettle);
    const gift = (session: string, currency = 'usd') => ({
      kind: 'gift' as const, campaignId: campaign.id, donorId: null, amount: 500, currency, source: 'stripe' as const,
      frequency: 'once' as const, stripeCheckoutSessionId: session, occurredAt: new Date(),
    });
    const results = await kettle.dataSource.transaction((tx) => recordLedgerEntries(tx, [gift('cs_door_b'), gift('cs_door_a'), gift('cs_door_b')]));
    expect(results.map((r) => r.created)).toEqual([true, true, false]);
    const ids = await kettle.dataSource.query(`SELECT id, stripe_checkout_session_id AS session FROM ledger_entries WHERE stripe_checkout_session_id IN ('cs_door_a', 'cs_door_b')`);
    expect(results.slice(0, 2).map((r) => r.entryId)).toEqual(['cs_door_b', 'cs_door_a'].map((s) => ids.find((row: { session: string }) => row.session === s).id));

    await expect(kettle.dataSource.transaction((tx) => recordLedgerEntries(tx, [gift('cs_door_c'), gift('cs_door_d', 'eur')]))).rejects.toThrow(LedgerError);
    expect(await giftRowsOf(['cs_door_c', 'cs_door_d'])).toEqual([]);
    expect(await totalsOf(kettle, campaign.id)).toEqual({
      kept: { raised: 1000, gifts: 2, donors: 0 },
      recomputed: { raised: 1000, gifts: 2, donors: 0 },
    });
  });

  it('upserts donors as one by one would: by email in any case, a known customer deciding, the first name kept', async () => {
    const ids = await kettle.dataSource.transaction((tx) => upsertDonors(tx, [
      { email: 'Robin@Example.org', stripeCustomerId: 'cus_door_1' },
      { email: 'robin@example.org', name: 'Robin', stripeCustomerId: 'cus_door_2' },
      { email: 'other@example.org', name: 'Later', stripeCustomerId: 'cus_door_1' },
      { email: 'sam@example.org' },
      { stripeCustomerId: 'cus_door_unknown' },
    ]));
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).toBe(ids[0]);
    expect(ids[3]).not.toBe(ids[0]);
    expect(ids[4]).toBeNull();
    const [robin] = await kettle.dataSource.query(`SELECT email, name FROM donors WHERE id = $1`, [ids[0]]);
    expect(robin).toEqual({ email: 'Robin@Example.org', name: 'Robin' });
    expect(await kettle.dataSource.query(`SELECT count(*)::int AS n FROM donors WHERE lower(email) = 'other@example.org'`)).toEqual([{ n: 0 }]);
    const links = await kettle.dataSource.query(`SELECT stripe_customer_id, donor_id FROM donor_stripe_customers WHERE stripe_customer_id LIKE 'cus_door_%' ORDER BY 1`);
    expect(links).toEqual([{ stripe_customer_id: 'cus_door_1', donor_id: ids[0] }, { stripe_customer_id: 'cus_door_2', donor_id: ids[0] }]);
  });
});
