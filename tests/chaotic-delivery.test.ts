import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { CARDS, startDonation } from './helpers/flows';
import { makeCampaign, startTestKettle, totalsOf, type TestKettle } from './helpers/kettle';

/**
 * Kettle's totals under the webhook traffic of a busy Stripe account: every event delivered concurrently,
 * reordered, some several times, some attempts failing (before reaching Kettle, or after Kettle answered)
 * and retried on Stripe's backoff schedule. The ledger's promise: whatever the order and the repeats, the kept
 * totals equal the recomputation from the ledger and the sums of what donors paid and got back.
 */

let kettle: TestKettle;

beforeAll(async () => {
  kettle = await startTestKettle();
});
afterAll(() => kettle?.close());

interface Gift {
  email: string;
  amount: number; // minor units, per payment
  sessionId: string;
}

/** Donates through Kettle's form and pays on the emulator (after a declined card, when asked); does not wait for webhooks. */
async function give(campaign: Campaign, email: string, amount: number, frequency: 'once' | 'monthly', opts: { declinedFirst?: boolean } = {}): Promise<Gift> {
  const { sessionId } = await startDonation(kettle, campaign, { amount: String(amount / 100), email, frequency });
  if (opts.declinedFirst) {
    const declined = await kettle.emulator.pay(sessionId, { number: CARDS.declined, email });
    if (declined.ok) throw new Error('the declined card paid');
  }
  const paid = await kettle.emulator.pay(sessionId, { number: CARDS.visa, email });
  if (!paid.ok) throw new Error(`payment declined: ${paid.message}`);
  return { email, amount, sessionId };
}

/** What the delivery log shows (from event number `from` on), for a failure message the lead can act on. */
function deliveryStory(from = 0): string {
  const types = new Map(kettle.emulator.events.map((e, i) => [e.id, `#${i} ${e.type}`]));
  return kettle.emulator.deliveryLog
    .filter((d) => Number(types.get(d.eventId)?.slice(1).split(' ')[0] ?? -1) >= from)
    .map((d) => `${types.get(d.eventId)} copy ${d.copy} attempt ${d.attempt}: ${d.outcome}${d.status ? ` ${d.status}` : ''}${d.error ? ` (${d.error})` : ''}`)
    .join('\n');
}

describe('totals under chaotic webhook delivery', () => {
  it('are exact after one-off and monthly gifts, declines, renewals (one failing), refunds and a lost dispute', async () => {
    kettle.emulator.setDelivery({ mode: 'chaotic', seed: 2026, concurrency: 8, duplicateRate: 0.5, maxExtraCopies: 2, failureRate: 0.25 });
    const campaign = await makeCampaign(kettle);

    const onceAmounts = [2500, 1000, 5000, 3000, 10_000, 1500, 2000, 7500, 1200, 4000];
    const monthlyAmounts = [1000, 2500, 500, 1500];
    const [once, monthly] = await Promise.all([
      // Every third donor's first card is declined: a failed charge, charge.failed, and nothing to count.
      Promise.all(onceAmounts.map((amount, i) => give(campaign, `once-${i}@example.org`, amount, 'once', { declinedFirst: i % 3 === 2 }))),
      Promise.all(monthlyAmounts.map((amount, i) => give(campaign, `monthly-${i}@example.org`, amount, 'monthly'))),
    ]);

    const sessionOf = (gift: Gift) => kettle.stripe.checkout.sessions.retrieve(gift.sessionId);
    const renewals = 2;
    for (let r = 0; r < renewals; r++) {
      for (const [i, gift] of monthly.entries()) {
        // The last monthly donor's last renewal fails (charge.failed, invoice.payment_failed): nothing to count.
        const failing = r === renewals - 1 && i === monthly.length - 1;
        await kettle.emulator.advanceSubscription((await sessionOf(gift)).subscription as string, failing ? { card: CARDS.failsOnNextCharge } : {});
      }
    }

    const paymentIntentOf = async (gift: Gift) => (await sessionOf(gift)).payment_intent as string;
    await kettle.stripe.refunds.create({ payment_intent: await paymentIntentOf(once[0]!), amount: 1000 }); // partial
    await kettle.stripe.refunds.create({ payment_intent: await paymentIntentOf(once[1]!) }); // full
    await kettle.stripe.refunds.create({ payment_intent: await paymentIntentOf(once[2]!), amount: 2000 }); // then disputed
    const disputedPi = await kettle.stripe.paymentIntents.retrieve(await paymentIntentOf(once[2]!));
    await kettle.emulator.disputeCharge(disputedPi.latest_charge as string, 'lost');

    await kettle.settled();

    // What the test paid and got back: once[1] fully refunded, once[2] lost (3000 left after the refund, charged back).
    const renewalsPaid = monthlyAmounts.length * renewals - 1;
    const paid = onceAmounts.reduce((a, b) => a + b, 0) + monthlyAmounts.reduce((a, b) => a + b, 0) * (1 + renewals) - monthlyAmounts.at(-1)!;
    const raised = paid - 1000 - 1000 - 2000 - 3000;
    const monthlyGifts = monthlyAmounts.length + renewalsPaid;
    const expected = { raised, gifts: onceAmounts.length - 2 + monthlyGifts, donors: onceAmounts.length - 2 + monthlyAmounts.length };

    const log = kettle.emulator.deliveryLog;
    // The chaos did happen: repeats, retries after failures, and events overtaking earlier ones.
    expect(log.some((d) => (d.copy ?? 1) > 1)).toBe(true);
    expect(log.some((d) => d.outcome === 'retrying')).toBe(true);
    const order = new Map(kettle.emulator.events.map((e, i) => [e.id, i]));
    const arrival = log.filter((d) => d.status !== null).map((d) => order.get(d.eventId)!);
    expect(arrival.some((n, i) => i > 0 && n < arrival[i - 1]!)).toBe(true);
    expect(log.filter((d) => d.outcome === 'gave_up')).toEqual([]);
    expect(kettle.emulator.events.filter((e) => e.type === 'charge.failed')).toHaveLength(4);

    const totals = await totalsOf(kettle, campaign.id);
    expect(totals, deliveryStory()).toEqual({ kept: expected, recomputed: expected });
    const kinds: { kind: string; n: number }[] = await kettle.dataSource.query(
      `SELECT kind, COUNT(*)::int AS n FROM ledger_entries WHERE campaign_id = $1 OR gift_entry_id IN (SELECT id FROM ledger_entries WHERE campaign_id = $1) GROUP BY kind ORDER BY kind`,
      [campaign.id],
    );
    // Each Stripe object that moved money is one ledger row, however often its events came.
    expect(kinds, deliveryStory()).toEqual([
      { kind: 'dispute_lost', n: 1 },
      { kind: 'gift', n: onceAmounts.length + monthlyGifts },
      { kind: 'refund', n: 3 },
    ]);
  });

  it('gives the money back when a refund fails after it succeeded (refund.failed, charge.refund.updated)', async () => {
    kettle.emulator.setDelivery({ mode: 'chaotic', seed: 7, duplicateRate: 0.5, failureRate: 0.25 });
    const campaign = await makeCampaign(kettle);
    const from = kettle.emulator.events.length;
    const gift = await give(campaign, 'bounced-refund@example.org', 4000, 'once');
    const paymentIntent = (await kettle.stripe.checkout.sessions.retrieve(gift.sessionId)).payment_intent as string;
    const refund = await kettle.stripe.refunds.create({ payment_intent: paymentIntent, amount: 1500 });
    await kettle.settled();
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 2500, gifts: 1, donors: 1 });

    await kettle.emulator.failRefund(refund.id);
    await kettle.settled();
    const expected = { raised: 4000, gifts: 1, donors: 1 };
    expect(await totalsOf(kettle, campaign.id), deliveryStory(from)).toEqual({ kept: expected, recomputed: expected });
  });
});
